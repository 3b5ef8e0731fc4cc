/** The shopper's orders, rendered on the server. */
import { dateTime, money } from '../../lib/format';
import { forShopper } from '../../lib/session';
import { Shell } from '../shell';

const STATUS: Record<string, string> = { paid: 'Pagada', in_mediation: 'En mediación', refunded: 'Reembolsada', charged_back: 'Contracargo' };

export default async function OrdersPage() {
  const orders = await forShopper([], (s) => s.orders());
  return (
    <Shell>
      <h1>Mis compras</h1>
      {orders.length === 0 ? <p data-testid='orders-empty'>Todavía no hiciste compras.</p> : (
        <ul className='orders'>
          {orders.map((o) => (
            <li key={o.id} data-testid={`order-${o.order_number}`}>
              <h2>
                Compra {o.order_number} <span className='muted'>{STATUS[o.status] ?? o.status}</span>
              </h2>
              <p className='muted'>{dateTime(o.created_at)}</p>
              <ul>
                {o.lines.map((l) => (
                  <li key={l.sku} data-testid={`order-line-${l.sku}`}>
                    {l.quantity} × {l.title} — {money(l.line_total, o.currency)}
                  </li>
                ))}
              </ul>
              <p className='total'>Total: {money(o.total, o.currency)}</p>
            </li>
          ))}
        </ul>
      )}
    </Shell>
  );
}
