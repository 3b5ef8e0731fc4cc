import type { Order } from '../../../src/index.ts';
import { date, money, orderStatus } from '../format.ts';
import { t } from '../i18n.ts';

export function OrderView({ order, headingLevel = 2 }: { order: Order; headingLevel?: 2 | 3 }) {
  const H = headingLevel === 2 ? 'h2' : 'h3';
  return (
    <article className='order' data-testid={`order-${order.order_number}`} data-order-id={order.id}>
      <header className='order-head'>
        <H className='order-number' data-testid='order-number'>
          {t('order', { number: order.order_number })}
        </H>
        <span className={`pill ${order.status}`} data-testid='order-status' data-status={order.status}>
          {orderStatus(order.status)}
        </span>
      </header>
      <p className='small muted'>{date(order.created_at)}</p>
      <ul className='order-lines'>
        {order.lines.map((l) => (
          <li key={`${l.sku}-${l.title}`} data-testid={`order-line-${l.sku}`} data-quantity={l.quantity}>
            <span>
              {l.quantity} × {l.title}
            </span>
            <span>{money(l.line_total, order.currency)}</span>
          </li>
        ))}
      </ul>
      {Number(order.discount) > 0 && (
        <p className='order-row'>
          <span>{t('discount')} {order.coupon_code ? `(${order.coupon_code})` : ''}</span>
          <span>−{money(order.discount, order.currency)}</span>
        </p>
      )}
      <p className='order-row total'>
        <span>{t('total')}</span>
        <strong data-testid='order-total' data-amount={order.total}>
          {money(order.total, order.currency)}
        </strong>
      </p>
    </article>
  );
}
