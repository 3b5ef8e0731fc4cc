'use client';
/** When the server cannot reach the store's backend: say so, offer to retry. */
export default function ErrorPage({ reset }: { error: Error; reset: () => void }) {
  return (
    <section className='alert' role='alert' data-testid='page-error'>
      <h1>No pudimos cargar la tienda</h1>
      <p>Probá de nuevo en un momento.</p>
      <button type='button' onClick={reset}>Reintentar</button>
    </section>
  );
}
