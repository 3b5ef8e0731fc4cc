/** Housekeeping: the cron jobs' last runs, and the cleanup on demand. */
import { useState } from 'react';
import type { AdminApi } from '../api.ts';
import { dateTime, describeError, integer } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { type AdminKey, t } from '../i18n/index.ts';

const JOB_NAMES: Record<string, AdminKey> = {
  'checkout-expire-sessions': 'job_expire',
  'checkout-purge-carts': 'job_purge',
  'checkout-trim-sessions': 'job_trim',
};

export function HousekeepingPage({ api }: { api: AdminApi }) {
  const { data, error, updatedAt, refresh } = usePolled(() => api.housekeeping(), [api]);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const run = async () => {
    setBusy(true);
    setNotice(null);
    try {
      const r = await api.cleanup();
      setNotice({
        ok: true,
        text: t('cleanupDone', { expired: integer(r.expired_sessions), purged: integer(r.purged_carts), trimmed: integer(r.trimmed_sessions) }),
      });
    } catch (err) {
      setNotice({ ok: false, text: describeError(err) });
    } finally {
      setBusy(false);
      await refresh();
    }
  };
  return (
    <>
      <div className='page-head'>
        <h1>{t('nav_housekeeping')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {data && (
        <>
          <section className='card'>
            <h2>{t('cronJobs')}</h2>
            {data.jobs.length === 0 ? <Empty>{t('noJobs')}</Empty> : (
              <table data-testid='jobs'>
                <thead>
                  <tr>
                    <th>{t('col_job')}</th>
                    <th>{t('col_when')}</th>
                    <th>{t('col_lastRun')}</th>
                    <th>{t('col_result')}</th>
                    <th className='num'>{t('col_failures')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.jobs.map((j) => (
                    <tr key={j.jobid}>
                      <td>
                        {JOB_NAMES[j.name] ? t(JOB_NAMES[j.name]!) : j.name}
                        <br />
                        <span className='small muted mono'>{j.name}</span>
                      </td>
                      <td className='mono'>{j.schedule}</td>
                      <td>{j.last_run ? dateTime(j.last_run.started_at) : t('neverRan')}</td>
                      <td>
                        {j.last_run
                          ? (
                            <span className={`tag ${j.last_run.status === 'succeeded' ? 'paid' : j.last_run.status === 'failed' ? 'refunded' : ''}`}>
                              {j.last_run.status}
                            </span>
                          )
                          : '—'}
                        {j.last_run?.status === 'failed' && <div className='small bad'>{j.last_run.message}</div>}
                      </td>
                      <td className='num'>{j.failures_24h}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className='card'>
            <h2>{t('cleanup')}</h2>
            <p data-testid='due'>
              {t('dueNow', { sessions: integer(data.due.sessions_to_expire), reservations: integer(data.due.expired_reservations) })}
            </p>
            <button type='button' disabled={busy} onClick={() => void run()} data-testid='run-cleanup'>
              {busy ? t('cleaning') : t('runCleanup')}
            </button>
            {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='notice'>{notice.text}</p>}
          </section>
        </>
      )}
    </>
  );
}
