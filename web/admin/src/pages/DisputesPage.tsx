/**
 * Disputes (docs/disputes.md): chargebacks and claims, soonest documentation
 * deadline first, with the evidence upload (jpg, png or pdf, 10 MB in all:
 * MercadoPago's limits), and the orders MercadoPago flagged as fraud ("no
 * enviar").
 */
import { type ChangeEvent, useState } from 'react';
import type { AdminApi, Dispute } from '../api.ts';
import { dateTime, describeError, money, ORDER_STATUS } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';

const DOCUMENTATION: Record<string, string> = {
  pending: 'Falta enviar',
  review_pending: 'Enviada, en revisión',
  valid: 'Aceptada',
  not_supplied: 'No enviada',
  not_required: 'No hace falta',
};
const MAX_BYTES = 10 * 1024 * 1024;

function what(d: Dispute): string {
  if (d.kind === 'chargeback') return 'Contracargo';
  return d.stage === 'dispute' ? 'Reclamo (en mediación)' : 'Reclamo';
}

function state(d: Dispute): string {
  if (d.status === 'opened') return 'Abierto';
  if (d.kind === 'chargeback') return d.coverage_applied ? 'Cerrado: cubierto' : 'Cerrado: sin cobertura';
  return d.benefited === 'respondent' ? 'Cerrado a favor de la tienda' : 'Cerrado a favor del comprador';
}

export function DisputesPage({ api }: { api: AdminApi }) {
  const { data, error, updatedAt, refresh } = usePolled(() => api.disputes(), [api]);
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);

  const upload = async (d: Dispute, e: ChangeEvent<HTMLInputElement>) => {
    const files = Array.from(e.target.files ?? []);
    e.target.value = '';
    if (files.length === 0) return;
    setNotice(null);
    if (files.reduce((s, f) => s + f.size, 0) > MAX_BYTES) {
      setNotice({ ok: false, text: 'Los archivos no pueden superar 10 MB en total.' });
      return;
    }
    setBusy(d.id);
    try {
      await api.uploadEvidence(d.id, files);
      setNotice({ ok: true, text: `Documentación del contracargo ${d.mp_id} enviada a MercadoPago.` });
    } catch (err) {
      setNotice({ ok: false, text: describeError(err) });
    } finally {
      setBusy(null);
      await refresh();
    }
  };

  return (
    <>
      <div className='page-head'>
        <h1>Disputas</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='notice'>{notice.text}</p>}
      {data && (
        <>
          <section className='card'>
            <h2>Contracargos y reclamos ({data.disputes.length})</h2>
            {data.disputes.length === 0 ? <Empty>No hay disputas.</Empty> : (
              <div className='table-wrap'>
                <table data-testid='disputes'>
                  <thead>
                    <tr>
                      <th>Vence</th>
                      <th>Qué</th>
                      <th>Pedido</th>
                      <th>Estado</th>
                      <th>Cobertura</th>
                      <th>Documentación</th>
                      <th className='num'>Monto</th>
                      <th />
                    </tr>
                  </thead>
                  <tbody>
                    {data.disputes.map((d) => (
                      <tr key={d.id} data-mp-id={d.mp_id}>
                        <td>{d.deadline ? dateTime(d.deadline) : '—'}</td>
                        <td>
                          {what(d)} <span className='small muted mono'>{d.mp_id}</span>
                        </td>
                        <td>{d.order_number ? <a href={`#/pedidos/${d.order_number}`}>{d.order_number}</a> : <span className='mono'>{d.payment_id}</span>}</td>
                        <td>{state(d)}</td>
                        <td>{d.coverage_eligible === null ? '—' : d.coverage_eligible ? 'Elegible' : 'No elegible'}</td>
                        <td>{d.documentation_status ? DOCUMENTATION[d.documentation_status] ?? d.documentation_status : '—'}</td>
                        <td className='num'>{d.amount === null ? '—' : money(d.amount, d.currency ?? 'ARS')}</td>
                        <td>
                          {d.kind === 'chargeback' && d.status === 'opened' && d.documentation_required && (
                            <label className='button'>
                              {busy === d.id ? 'Enviando…' : 'Subir documentación'}
                              <input
                                type='file'
                                multiple
                                accept='.jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf'
                                hidden
                                disabled={busy !== null}
                                aria-label={`Documentación del contracargo ${d.mp_id}`}
                                onChange={(e) => void upload(d, e)}
                              />
                            </label>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <section className='card'>
            <h2>Alertas de fraude ({data.fraud_alerts.length})</h2>
            {data.fraud_alerts.length === 0 ? <Empty>No hay alertas de fraude.</Empty> : (
              <table data-testid='fraud-alerts'>
                <thead>
                  <tr>
                    <th>Recibida</th>
                    <th>Pedido</th>
                    <th>Pago MP</th>
                    <th>Estado</th>
                    <th>Reembolso</th>
                  </tr>
                </thead>
                <tbody>
                  {data.fraud_alerts.map((f) => (
                    <tr key={f.payment_id}>
                      <td>{dateTime(f.created_at)}</td>
                      <td>
                        {f.order_number ? <a href={`#/pedidos/${f.order_number}`}>{f.order_number}</a> : '—'}
                        {f.do_not_ship && <span className='tag bad'>no enviar</span>}
                      </td>
                      <td className='mono'>{f.payment_id}</td>
                      <td>{f.order_status ? ORDER_STATUS[f.order_status] ?? f.order_status : 'Sin pedido'}</td>
                      <td>{f.refund_status === 'refunded' ? 'Hecho' : f.refund_status === 'owed' ? 'Pendiente' : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </>
  );
}
