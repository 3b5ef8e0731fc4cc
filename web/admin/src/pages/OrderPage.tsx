/** One order: lines, payer (and whether cart reminders may reach them), address, MercadoPago payment, status history and the checkout's event log. */
import type { AdminApi } from '../api.ts';
import { consentText, dateTime, EVENT_KIND, money, ORDER_STATUS, PAYMENT_STATUS, REFUND_REASON } from '../format.ts';
import { usePolled } from '../hooks.ts';
import { Empty, Updated } from './common.tsx';
import { OrderRefund } from './OrderRefund.tsx';

export function OrderPage({ api, orderRef }: { api: AdminApi; orderRef: string }) {
  const { data: o, error, updatedAt, refresh } = usePolled(() => api.order(orderRef), [api, orderRef]);
  const a = o?.shipping_address ?? {};
  const payer = (o?.payer ?? {}) as Record<string, unknown>;
  return (
    <>
      <p className='small'>
        <a href='#/pedidos'>← Pedidos</a>
      </p>
      <div className='page-head'>
        <h1>
          Pedido <span data-testid='order-number'>{o?.order_number ?? orderRef}</span>{' '}
          {o && <span className={`tag ${o.status}`}>{ORDER_STATUS[o.status] ?? o.status}</span>}
          {o?.do_not_ship && <span className='tag bad' data-testid='do-not-ship'>no enviar: alerta de fraude</span>}
        </h1>
        <Updated at={updatedAt} error={error} />
      </div>
      {o && (
        <>
          <div className='grid2'>
            <section className='card'>
              <h2>Comprador</h2>
              <p>
                {String(payer.name ?? '')} {String(payer.surname ?? '')}
                <br />
                <span data-testid='payer-email'>{String(payer.email ?? '')}</span>
              </p>
              <h3>Recordatorios por email</h3>
              <p className='small' data-testid='marketing-consent' data-state={o.marketing_consent?.state ?? 'not_subscribed'}>
                {consentText(o.marketing_consent)}
              </p>
              <h3>Envío</h3>
              <p data-testid='address'>
                {a.street_name} {a.street_number}
                {a.floor ? `, piso ${a.floor}` : ''}
                {a.apartment ? ` ${a.apartment}` : ''}
                <br />
                {a.city}
                {a.state ? `, ${a.state}` : ''} ({a.zip_code})
              </p>
            </section>
            <section className='card'>
              <h2>Pago</h2>
              <dl className='facts'>
                <dt>Id de pago MercadoPago</dt>
                <dd className='mono' data-testid='payment-id'>{o.payment_id}</dd>
                <dt>Medio</dt>
                <dd>{[o.payment_type, o.payment_method].filter(Boolean).join(' · ') || '—'}</dd>
                <dt>Fecha</dt>
                <dd>{dateTime(o.created_at)}</dd>
                <dt>Total</dt>
                <dd>
                  <strong>{money(o.total, o.currency)}</strong>
                  {Number(o.discount) > 0 && <span className='small muted'>(descuento {money(o.discount, o.currency)}, cupón {o.coupon_code})</span>}
                </dd>
                {o.money && (
                  <>
                    <dt>Comisiones MercadoPago</dt>
                    <dd data-testid='fees'>{money(o.money.fees, o.currency)}</dd>
                    <dt>Ingreso neto</dt>
                    <dd data-testid='net'>
                      <strong>{money(o.money.net, o.currency)}</strong>
                    </dd>
                    {Number(o.money.financing_cost) > 0 && (
                      <>
                        <dt>Interés de cuotas (pagado por el comprador)</dt>
                        <dd data-testid='financing-cost'>{money(o.money.financing_cost, o.currency)}</dd>
                      </>
                    )}
                    {o.money.parts.length > 1 && (
                      <>
                        <dt>Pagos</dt>
                        <dd data-testid='payment-parts'>
                          {o.money.parts.map((p) => (
                            <div key={p.payment_id}>
                              <span className='mono small'>{p.payment_id}</span> {money(p.amount, o.currency)}
                              {p.installments > 1 ? ` en ${p.installments} cuotas` : ''}
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
            <h2>Productos</h2>
            <table>
              <thead>
                <tr>
                  <th>Producto</th>
                  <th>SKU</th>
                  <th className='num'>Precio</th>
                  <th className='num'>Cant.</th>
                  <th className='num'>Subtotal</th>
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
              <h2>Historial del pago</h2>
              <ol className='timeline' data-testid='payments'>
                {o.payments.map((p) => (
                  <li key={`${p.payment_id}-${p.status}`}>
                    <strong>{PAYMENT_STATUS[p.status] ?? p.status}</strong> <span className='mono small'>{p.payment_id}</span>
                    <br />
                    <span className='small muted'>
                      {dateTime(p.received_at)} · {p.status_detail ?? ''} · {money(p.amount, p.currency ?? o.currency)}
                    </span>
                  </li>
                ))}
              </ol>
              {o.refunds.length > 0 && (
                <>
                  <h3>Reembolsos</h3>
                  <ul>
                    {o.refunds.map((r) => (
                      <li key={r.payment_id}>
                        {money(r.amount, r.currency)} · {REFUND_REASON[r.reason] ?? r.reason} · {r.status === 'owed' ? 'pendiente' : 'hecho'}
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </section>
            <section className='card'>
              <h2>Registro de la compra</h2>
              {o.events.length === 0 ? <Empty>Sin eventos.</Empty> : (
                <ol className='timeline' data-testid='events'>
                  {o.events.map((e) => (
                    <li key={e.id}>
                      <strong>{EVENT_KIND[e.kind] ?? e.kind}</strong>
                      {e.payment_id && <span className='mono small'>pago {e.payment_id}</span>}
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
