/** Money that needs the owner: refunds owed (retry), late payments, amount mismatches, unmatched payments, the audit. */
import { useState } from 'react';
import type { AdminApi, Audit } from '../api.ts';
import { auditInvariant, dateTime, describeError, money, refundReason } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { t } from '../i18n/index.ts';

export function AttentionPage({ api }: { api: AdminApi }) {
  const { data, error, updatedAt, refresh } = usePolled(() => api.attention(), [api]);
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const [audit, setAudit] = useState<Audit | null>(null);
  const [auditing, setAuditing] = useState(false);
  const [auditError, setAuditError] = useState<string | null>(null);

  const runAudit = async () => {
    setAuditing(true);
    setAuditError(null);
    try {
      setAudit(await api.audit());
    } catch (err) {
      setAuditError(describeError(err));
    } finally {
      setAuditing(false);
    }
  };

  const retry = async (paymentId: string) => {
    setBusy(paymentId);
    setNotice(null);
    try {
      await api.retryRefund(paymentId);
      setNotice({ ok: true, text: t('retryDone', { id: paymentId }) });
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
        <h1>{t('nav_attention')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {notice && <p className={`alert ${notice.ok ? 'ok' : 'bad'}`} role='status' data-testid='notice'>{notice.text}</p>}
      {data && (
        <>
          <section className='card'>
            <h2>{t('refundsOwed', { n: data.refunds_owed.length })}</h2>
            {data.refunds_owed.length === 0 ? <Empty>{t('noRefundsOwed')}</Empty> : (
              <table data-testid='refunds-owed'>
                <thead>
                  <tr>
                    <th>{t('col_mpPayment')}</th>
                    <th>{t('col_reason')}</th>
                    <th>{t('col_buyer')}</th>
                    <th>{t('col_since')}</th>
                    <th>{t('col_attempts')}</th>
                    <th className='num'>{t('col_amount')}</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {data.refunds_owed.map((r) => (
                    <tr key={r.payment_id}>
                      <td className='mono'>{r.payment_id}</td>
                      <td>{refundReason(r.reason)}</td>
                      <td>{r.email ?? '—'}</td>
                      <td>{dateTime(r.created_at)}</td>
                      <td>
                        {r.attempts}
                        {r.last_error && <div className='small bad'>{r.last_error}</div>}
                      </td>
                      <td className='num'>{money(r.amount, r.currency)}</td>
                      <td>
                        <button
                          type='button'
                          disabled={busy !== null}
                          onClick={() => void retry(r.payment_id)}
                        >
                          {busy === r.payment_id ? t('refunding') : t('retryRefund')}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <div className='grid2'>
            <section className='card'>
              <h2>{t('latePayments', { n: data.late_payments.length })}</h2>
              {data.late_payments.length === 0 ? <Empty>{t('noLatePayments')}</Empty> : (
                <ul className='plain' data-testid='late-payments'>
                  {data.late_payments.map((p) => (
                    <li key={`${p.kind}-${p.payment_id}`}>
                      {p.kind === 'order_created_late'
                        ? (
                          <>
                            {t('orderTitle')} <a href={`#/pedidos/${p.order_number}`}>{p.order_number}</a> {t('orderCreatedLate')}
                          </>
                        )
                        : <>{t('paidWithoutStock', { state: p.status === 'owed' ? t('pending') : t('done') })}</>}
                      <br />
                      <span className='small muted'>
                        {t('paymentN', { id: p.payment_id })} · {money(p.amount, p.currency)} · {dateTime(p.at)}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section className='card'>
              <h2>{t('mismatches', { n: data.amount_mismatches.length })}</h2>
              {data.amount_mismatches.length === 0 ? <Empty>{t('noMismatches')}</Empty> : (
                <ul className='plain' data-testid='mismatches'>
                  {data.amount_mismatches.map((m) => (
                    <li key={m.payment_id}>
                      {t('paymentWord')} <span className='mono'>{m.payment_id}</span>
                      {t('mismatchPaid', { paid: money(m.amount, m.currency), expected: money(m.expected, m.currency) })}
                      <br />
                      <span className='small muted'>
                        {dateTime(m.at)} · {t('refundState', { state: m.status === 'owed' ? t('pending') : t('done') })}
                      </span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
          {data.unmatched_payments.length > 0 && (
            <section className='card'>
              <h2>{t('unmatched', { n: data.unmatched_payments.length })}</h2>
              <ul className='plain'>
                {data.unmatched_payments.map((p) => (
                  <li key={p.payment_id}>
                    {t('paymentWord')} <span className='mono'>{p.payment_id}</span> · {money(p.amount, p.currency ?? 'ARS')} ·{' '}
                    {t('reference', { ref: p.external_reference ?? '—' })} · {dateTime(p.at)}
                  </li>
                ))}
              </ul>
            </section>
          )}
        </>
      )}
      <section className='card'>
        <div className='row'>
          <h2>{t('audit')}</h2>
          <button type='button' disabled={auditing} onClick={() => void runAudit()} data-testid='run-audit'>
            {auditing ? t('auditing') : t('runAudit')}
          </button>
        </div>
        {auditError && <p className='alert bad' role='alert'>{auditError}</p>}
        {!audit && !auditError && <p className='small muted'>{t('auditHint')}</p>}
        {audit && (audit.ok ? <p className='alert ok' data-testid='audit-result'>{t('auditOk')}</p> : (
          <ul className='plain' data-testid='audit-result'>
            {audit.violations.map((v) => (
              <li key={`${v.invariant}-${v.subject}`}>
                <strong>{auditInvariant(v.invariant)}</strong>: <span className='mono'>{v.subject}</span>
                <br />
                <span className='small muted mono'>{JSON.stringify(v.detail)}</span>
              </li>
            ))}
          </ul>
        ))}
      </section>
    </>
  );
}
