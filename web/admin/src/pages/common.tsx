/** Small pieces every page uses. */
import { clock } from '../format.ts';
export function Updated({ at, error }: { at: Date | null; error: string | null }) {
  return (
    <p className='updated small muted' aria-live='polite'>
      {error ? <span className='bad' role='alert'>{error}</span> : at ? `Actualizado ${clock(at)} · se actualiza solo` : 'Cargando…'}
    </p>
  );
}

export function Kpi({ label, value, testId, hint }: { label: string; value: string; testId: string; hint?: string }) {
  return (
    <div className='kpi'>
      <span className='kpi-label'>{label}</span>
      <strong className='kpi-value' data-testid={testId}>{value}</strong>
      {hint && <span className='small muted'>{hint}</span>}
    </div>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className='muted empty'>{children}</p>;
}
