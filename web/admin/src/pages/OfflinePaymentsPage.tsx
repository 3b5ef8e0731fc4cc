/** Offline payments (cash tickets, ATM, transfers, Pix): units they hold per product, the payments awaiting, how many ended unpaid. */
import type { AdminApi } from '../api.ts';
import { dateTime, integer, money } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Kpi, Updated } from './common.tsx';
import { label, t } from '../i18n/index.ts';

export function OfflinePaymentsPage({ api }: { api: AdminApi }) {
  const { data, error, updatedAt } = usePolled(() => api.offlinePayments(), [api]);
  return (
    <>
      <div className='page-head'>
        <h1>{t('nav_offline')}</h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {data && (
        <>
          <div className='kpis'>
            <Kpi label={t('awaitingPayment')} value={integer(data.awaiting.length)} testId='offline-awaiting' />
            <Kpi label={t('unitsHeld')} value={integer(data.held_by_product.reduce((n, p) => n + p.units, 0))} testId='offline-units' />
            <Kpi
              label={t('expiredUnpaid')}
              value={integer(data.expired_unpaid.total)}
              testId='offline-expired'
              hint={t('expiredHint', { week: integer(data.expired_unpaid.last_7_days), cancel: integer(data.expired_unpaid.cancel_pending) })}
            />
            <Kpi label={t('paid')} value={integer(data.paid)} testId='offline-paid' />
          </div>
          <section className='card'>
            <h2>{t('heldByOffline')}</h2>
            {data.held_by_product.length === 0 ? <Empty>{t('noHeld')}</Empty> : (
              <table data-testid='offline-held'>
                <thead>
                  <tr>
                    <th>{t('col_product')}</th>
                    <th className='num'>{t('col_unitsFull')}</th>
                    <th className='num'>{t('col_payments')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.held_by_product.map((p) => (
                    <tr key={p.product_id}>
                      <td>{p.title}</td>
                      <td className='num'>{integer(p.units)}</td>
                      <td className='num'>{integer(p.payments)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className='card'>
            <h2>{t('awaitingPayment')}</h2>
            {data.awaiting.length === 0 ? <Empty>{t('noAwaiting')}</Empty> : (
              <table data-testid='offline-list'>
                <thead>
                  <tr>
                    <th>{t('col_payment')}</th>
                    <th>{t('col_method')}</th>
                    <th>{t('col_customer')}</th>
                    <th className='num'>{t('col_total')}</th>
                    <th>{t('col_deadline')}</th>
                    <th>{t('col_holdUntil')}</th>
                  </tr>
                </thead>
                <tbody>
                  {data.awaiting.map((a) => (
                    <tr key={a.payment_id}>
                      <td>
                        {a.payment_id}
                        <br />
                        <span className='small muted'>{a.label && t('awaitingLabel')}</span>
                      </td>
                      <td>
                        {label('m_', a.payment_type_id)} · {a.payment_method_id ?? '—'}
                      </td>
                      <td>{a.email ?? '—'}</td>
                      <td className='num'>{money(a.total, a.currency)}</td>
                      <td>{dateTime(a.deadline)}</td>
                      <td>
                        {a.status === 'refused'
                          ? <span className='bad'>{t('notHeld', { why: a.refusal ? label('refusal_', a.refusal) : '—' })}</span>
                          : dateTime(a.hold_until)}
                      </td>
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
