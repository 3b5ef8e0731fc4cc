/** Small pieces every page uses. */
import { clock } from '../format.ts';
import { t } from '../i18n/index.ts';
export function Updated({ at, error }: { at: Date | null; error: string | null }) {
  return (
    <p className='updated small muted' aria-live='polite'>
      {error ? <span className='bad' role='alert'>{error}</span> : at ? t('updated', { time: clock(at) }) : t('loading')}
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
