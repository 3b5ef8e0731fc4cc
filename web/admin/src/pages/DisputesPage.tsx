/**
 * Disputes (docs/disputes.md): chargebacks and claims, soonest documentation
 * deadline first, with the evidence upload (jpg, png or pdf, 10 MB in all:
 * MercadoPago's limits), and the orders MercadoPago flagged as fraud ("no
 * enviar").
 */
import { type ChangeEvent, useState } from 'react';
import type { AdminApi, Dispute } from '../api.ts';
import { dateTime, describeError, money, orderStatus } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { label, t } from '../i18n/index.ts';

const MAX_BYTES = 10 * 1024 * 1024;

function what(d: Dispute): string {
  if (d.kind === 'chargeback') return t('chargeback');
  return d.stage === 'dispute' ? t('claimInMediation') : t('claim');
}

function state(d: Dispute): string {
  if (d.status === 'opened') return t('opened');
  if (d.kind === 'chargeback') return d.coverage_applied ? t('closedCovered') : t('closedNotCovered');
  return d.benefited === 'respondent' ? t('closedForStore') : t('closedForBuyer');
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
      setNotice({ ok: false, text: t('filesTooLarge') });
      return;
    }
    setBusy(d.id);
    try {
      await api.uploadEvidence(d.id, files);
      setNotice({ ok: true, text: t('evidenceSent', { id: d.mp_id }) });
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
        <h1>{t('nav_disputes')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='notice'>{notice.text}</p>}
      {data && (
        <>
          <section className='card'>
            <h2>{t('disputesAndClaims', { n: data.disputes.length })}</h2>
            {data.disputes.length === 0 ? <Empty>{t('noDisputes')}</Empty> : (
              <div className='table-wrap'>
                <table data-testid='disputes'>
                  <thead>
                    <tr>
                      <th>{t('col_deadline')}</th>
                      <th>{t('col_what')}</th>
                      <th>{t('col_order')}</th>
                      <th>{t('col_status')}</th>
                      <th>{t('col_coverage')}</th>
                      <th>{t('col_documentation')}</th>
                      <th className='num'>{t('col_amount')}</th>
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
                        <td>{d.coverage_eligible === null ? '—' : d.coverage_eligible ? t('eligible') : t('notEligible')}</td>
                        <td>{d.documentation_status ? label('doc_', d.documentation_status) : '—'}</td>
                        <td className='num'>{d.amount === null ? '—' : money(d.amount, d.currency ?? 'ARS')}</td>
                        <td>
                          {d.kind === 'chargeback' && d.status === 'opened' && d.documentation_required && (
                            <label className='button'>
                              {busy === d.id ? t('sending') : t('uploadEvidence')}
                              <input
                                type='file'
                                multiple
                                accept='.jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf'
                                hidden
                                disabled={busy !== null}
                                aria-label={t('evidenceOf', { id: d.mp_id })}
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
            <h2>{t('fraudAlerts', { n: data.fraud_alerts.length })}</h2>
            {data.fraud_alerts.length === 0 ? <Empty>{t('noFraudAlerts')}</Empty> : (
              <table data-testid='fraud-alerts'>
                <thead>
                  <tr>
                    <th>{t('col_received')}</th>
                    <th>{t('col_order')}</th>
                    <th>{t('col_mpPayment')}</th>
                    <th>{t('col_status')}</th>
                    <th>{t('col_refund')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.fraud_alerts.map((f) => (
                    <tr key={f.payment_id}>
                      <td>{dateTime(f.created_at)}</td>
                      <td>
                        {f.order_number ? <a href={`#/pedidos/${f.order_number}`}>{f.order_number}</a> : '—'}
                        {f.do_not_ship && <span className='tag bad'>{t('doNotShip')}</span>}
                      </td>
                      <td className='mono'>{f.payment_id}</td>
                      <td>{f.order_status ? orderStatus(f.order_status) : t('noOrder')}</td>
                      <td>{f.refund_status === 'refunded' ? t('doneCap') : f.refund_status === 'owed' ? t('pendingCap') : '—'}</td>
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
