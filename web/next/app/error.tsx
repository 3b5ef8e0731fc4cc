'use client';
/** When the server cannot reach the store's backend: say so, offer to retry. */
import { useTexts } from './locale';

export default function ErrorPage({ reset }: { error: Error; reset: () => void }) {
  const t = useTexts();
  return (
    <section className='alert' role='alert' data-testid='page-error'>
      <h1>{t('loadFailed')}</h1>
      <p>{t('tryAgainSoon')}</p>
      <button type='button' onClick={reset}>{t('retry')}</button>
    </section>
  );
}
