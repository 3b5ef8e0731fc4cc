import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { readEnv } from './env.ts';
import { setStore } from './format.ts';
import './styles.css';
import { t } from './i18n.ts';

const root = createRoot(document.getElementById('root')!);
const env = readEnv();
if (env) setStore(env.siteId, env.locale);
root.render(
  <StrictMode>
    {env ? <App env={env} /> : (
      <main className='page' data-testid='config-error'>
        <h1>{t('configMissing')}</h1>
        <p>{t('configMissingBody')}</p>
      </main>
    )}
  </StrictMode>,
);
