/** The outcome of the last cart change, from the query the action redirected to. */
import { messageFor } from '../lib/messages';

export type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export async function Notice({ searchParams, ok }: { searchParams: SearchParams; ok: string }) {
  const q = await searchParams;
  const one = (k: string) => (typeof q[k] === 'string' ? q[k] : undefined);
  const error = one('error');
  if (error) {
    return <p className='alert' role='alert' data-testid='alert' data-code={error}>{messageFor(error)}</p>;
  }
  if (one('ok')) return <p className='notice' role='status' data-testid='notice'>{ok}</p>;
  return null;
}
