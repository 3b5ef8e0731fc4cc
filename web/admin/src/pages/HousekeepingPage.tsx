/** Housekeeping: the cron jobs' last runs, and the cleanup on demand. */
import { useState } from 'react';
import type { AdminApi } from '../api.ts';
import { dateTime, describeError, integer } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';

const JOB_NAMES: Record<string, string> = {
  'checkout-expire-sessions': 'Vencer reservas',
  'checkout-purge-carts': 'Borrar carritos abandonados',
  'checkout-trim-sessions': 'Limpiar compras viejas',
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
        text: `Limpieza hecha: ${integer(r.expired_sessions)} reserva(s) vencida(s), ${integer(r.purged_carts)} carrito(s) borrado(s), ${
          integer(r.trimmed_sessions)
        } compra(s) vieja(s) eliminada(s).`,
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
        <h1>Mantenimiento</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {data && (
        <>
          <section className='card'>
            <h2>Tareas programadas (pg_cron)</h2>
            {data.jobs.length === 0 ? <Empty>No hay tareas programadas.</Empty> : (
              <table data-testid='jobs'>
                <thead>
                  <tr>
                    <th>Tarea</th>
                    <th>Cuándo</th>
                    <th>Última ejecución</th>
                    <th>Resultado</th>
                    <th className='num'>Fallas 24 h</th>
                  </tr>
                </thead>
                <tbody>
                  {data.jobs.map((j) => (
                    <tr key={j.jobid}>
                      <td>
                        {JOB_NAMES[j.name] ?? j.name}
                        <br />
                        <span className='small muted mono'>{j.name}</span>
                      </td>
                      <td className='mono'>{j.schedule}</td>
                      <td>{j.last_run ? dateTime(j.last_run.started_at) : 'Todavía no corrió'}</td>
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
            <h2>Limpieza</h2>
            <p>
              Pendiente ahora: <strong data-testid='due-expire'>{integer(data.due.sessions_to_expire)}</strong> compra(s) para vencer,{' '}
              <strong>{integer(data.due.expired_reservations)}</strong> reserva(s) vencida(s) sin liberar. El stock disponible ya no las cuenta.
            </p>
            <button type='button' disabled={busy} onClick={() => void run()} data-testid='run-cleanup'>
              {busy ? 'Limpiando…' : 'Ejecutar limpieza ahora'}
            </button>
            {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='notice'>{notice.text}</p>}
          </section>
        </>
      )}
    </>
  );
}
