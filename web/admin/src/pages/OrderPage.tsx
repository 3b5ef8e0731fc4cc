/** One order: lines, payer (and whether cart reminders may reach them), address, MercadoPago payment, status history and the checkout's event log. */
import type { AdminApi } from '../api.ts';
import { consentText, dateTime, eventKind, money, orderStatus, paymentStatus, refundReason } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { OrderRefund } from './OrderRefund.tsx';
import { t } from '../i18n/index.ts';

export function OrderPage({ api, orderRef }: { api: AdminApi; orderRef: string }) {
  const { data: o, error, updatedAt, refresh } = usePolled(() => api.order(orderRef), [api, orderRef]);
  const a = o?.shipping_address ?? {};
  const payer = (o?.payer ?? {}) as Record<string, unknown>;
  return (
    <>
      <p className='small'>
        <a href='#/pedidos'>{t('backToOrders')}</a>
      </p>
      <div className='page-head'>
        <h1>
          {t('orderTitle')} <span data-testid='order-number'>{o?.order_number ?? orderRef}</span>{' '}
          {o && <span className={`tag ${o.status}`}>{orderStatus(o.status)}</span>}
          {o?.do_not_ship && <span className='tag bad' data-testid='do-not-ship'>{t('doNotShipFraud')}</span>}
        </h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {o && (
        <>
          <div className='grid2'>
            <section className='card'>
              <h2>{t('buyer')}</h2>
              <p>
                {String(payer.name ?? '')} {String(payer.surname ?? '')}
                <br />
                <span data-testid='payer-email'>{String(payer.email ?? '')}</span>
              </p>
              <h3>{t('reminders')}</h3>
              <p className='small' data-testid='marketing-consent' data-state={o.marketing_consent?.state ?? 'not_subscribed'}>
                {consentText(o.marketing_consent)}
              </p>
              <h3>{t('shipping')}</h3>
              <p data-testid='address'>
                {a.street_name} {a.street_number}
                {a.floor ? t('floor', { floor: a.floor }) : ''}
                {a.apartment ? ` ${a.apartment}` : ''}
                <br />
                {a.city}
                {a.state ? `, ${a.state}` : ''} ({a.zip_code})
              </p>
            </section>
            <section className='card'>
              <h2>{t('payment')}</h2>
              <dl className='facts'>
                <dt>{t('mpPaymentId')}</dt>
                <dd className='mono' data-testid='payment-id'>{o.payment_id}</dd>
                <dt>{t('method')}</dt>
                <dd>{[o.payment_type, o.payment_method].filter(Boolean).join(' · ') || '—'}</dd>
                <dt>{t('date')}</dt>
                <dd>{dateTime(o.created_at)}</dd>
                <dt>{t('total')}</dt>
                <dd>
                  <strong>{money(o.total, o.currency)}</strong>
                  {Number(o.discount) > 0 && (
                    <span className='small muted'>{t('discountCoupon', { amount: money(o.discount, o.currency), code: o.coupon_code ?? '' })}</span>
                  )}
                </dd>
                {o.money && (
                  <>
                    <dt>{t('mpFees')}</dt>
                    <dd data-testid='fees'>{money(o.money.fees, o.currency)}</dd>
                    <dt>{t('netIncome')}</dt>
                    <dd data-testid='net'>
                      <strong>{money(o.money.net, o.currency)}</strong>
                    </dd>
                    {Number(o.money.financing_cost) > 0 && (
                      <>
                        <dt>{t('financingCost')}</dt>
                        <dd data-testid='financing-cost'>{money(o.money.financing_cost, o.currency)}</dd>
                      </>
                    )}
                    {o.money.parts.length > 1 && (
                      <>
                        <dt>{t('payments')}</dt>
                        <dd data-testid='payment-parts'>
                          {o.money.parts.map((p) => (
                            <div key={p.payment_id}>
                              <span className='mono small'>{p.payment_id}</span> {money(p.amount, o.currency)}
                              {p.installments > 1 ? t('inInstallments', { n: p.installments }) : ''}
                            </div>
                          ))}
                        </dd>
                      </>
                    )}
                  </>
                )}
              </dl>
            </section>
          </div>
          <OrderRefund api={api} order={o} refresh={refresh} />
          <section className='card'>
            <h2>{t('products')}</h2>
            <table>
              <thead>
                <tr>
                  <th>{t('col_product')}</th>
                  <th>{t('col_sku')}</th>
                  <th className='num'>{t('col_price')}</th>
                  <th className='num'>{t('col_qty')}</th>
                  <th className='num'>{t('col_subtotal')}</th>
                </tr>
              </thead>
              <tbody data-testid='lines'>
                {o.lines.map((l) => (
                  <tr key={l.sku}>
                    <td>{l.title}</td>
                    <td className='mono'>{l.sku}</td>
                    <td className='num'>{money(l.unit_price, o.currency)}</td>
                    <td className='num'>{l.quantity}</td>
                    <td className='num'>{money(l.line_total, o.currency)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <div className='grid2'>
            <section className='card'>
              <h2>{t('paymentHistory')}</h2>
              <ol className='timeline' data-testid='payments'>
                {o.payments.map((p) => (
                  <li key={`${p.payment_id}-${p.status}`}>
                    <strong>{paymentStatus(p.status)}</strong> <span className='mono small'>{p.payment_id}</span>
                    <br />
                    <span className='small muted'>
                      {dateTime(p.received_at)} · {p.status_detail ?? ''} · {money(p.amount, p.currency ?? o.currency)}
                    </span>
                  </li>
                ))}
              </ol>
              {o.refunds.length > 0 && (
                <>
                  <h3>{t('refunds')}</h3>
                  <ul>
                    {o.refunds.map((r) => (
                      <li key={r.payment_id}>
                        {money(r.amount, r.currency)} · {refundReason(r.reason)} · {r.status === 'owed' ? t('pending') : t('done')}
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </section>
            <section className='card'>
              <h2>{t('eventLog')}</h2>
              {o.events.length === 0 ? <Empty>{t('noEvents')}</Empty> : (
                <ol className='timeline' data-testid='events'>
                  {o.events.map((e) => (
                    <li key={e.id}>
                      <strong>{eventKind(e.kind)}</strong>
                      {e.payment_id && <span className='mono small'>{t('paymentN', { id: e.payment_id })}</span>}
                      <br />
                      <span className='small muted'>{dateTime(e.created_at)}</span>
                    </li>
                  ))}
                </ol>
              )}
            </section>
          </div>
        </>
      )}
    </>
  );
}
