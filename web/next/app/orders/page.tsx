/** The shopper's orders, rendered on the server. */
import { dateTime, money, orderStatus, t } from '../../lib/format';
import { forShopper } from '../../lib/session';
import { Shell } from '../shell';

export default async function OrdersPage() {
  const orders = await forShopper([], (s) => s.orders());
  return (
    <Shell>
      <h1>{t('myOrders')}</h1>
      {orders.length === 0 ? <p data-testid='orders-empty'>{t('noOrders')}</p> : (
        <ul className='orders'>
          {orders.map((o) => (
            <li key={o.id} data-testid={`order-${o.order_number}`}>
              <h2>
                {t('orderTitle', { number: o.order_number })} <span className='muted'>{orderStatus(o.status)}</span>
              </h2>
              <p className='muted'>{dateTime(o.created_at)}</p>
              <ul>
                {o.lines.map((l) => (
                  <li key={l.sku} data-testid={`order-line-${l.sku}`}>
                    {l.quantity} × {l.title} — {money(l.line_total, o.currency)}
                  </li>
                ))}
              </ul>
              <p className='total'>{t('total', { amount: money(o.total, o.currency) })}</p>
            </li>
          ))}
        </ul>
      )}
    </Shell>
  );
}
