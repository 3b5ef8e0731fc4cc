import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { readEnv } from './env.ts';
import { setLocale } from './format.ts';
import './styles.css';

const env = readEnv();
if (env) setLocale(env.locale);
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    {env ? <App env={env} /> : (
      <main className='page' data-testid='config-error'>
        <h1>Falta la configuración</h1>
        <p>
          No se encontró <code>/env.js</code> con <code>supabaseUrl</code> y <code>supabaseAnonKey</code>. Iniciá el panel con <code>npm start</code>.
        </p>
      </main>
    )}
  </StrictMode>,
);
