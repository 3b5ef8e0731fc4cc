/**
 * MercadoPago's back_urls page, rendered on the server: the server asks
 * payment-status (with the shopper's token from the cookie) about the payment
 * in the query, which applies it exactly as the webhook does, and shows what
 * it means: the paid order, or why there is none yet.
 */
import Link from 'next/link';
import type { ReturnResult } from '@mp-checkout/storefront';
import { money, t } from '../../../lib/format';
import { errorCode, messageFor } from '../../../lib/messages';
import { forShopper } from '../../../lib/session';
import type { SearchParams } from '../../notice';
import { Shell } from '../../shell';
import { PendingPaymentView } from './pending-payment';

export default async function ReturnPage({ searchParams }: { searchParams: SearchParams }) {
  const q = await searchParams;
  const query = new URLSearchParams(Object.entries(q).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
  let result: ReturnResult | undefined;
  let code = 'not_found'; // no shopper in this browser: not theirs to see
  try {
    result = (await forShopper(undefined, (s) => s.confirmReturn(query))) ?? undefined;
  } catch (err) {
    code = errorCode(err);
  }
  if (!result) {
    return (
      <Shell>
        <section data-testid='return' data-status='error'>
          <h1>{t('confirmFailed')}</h1>
          <p className='alert' role='alert' data-code={code}>{messageFor(code)}</p>
          <Link href='/cart'>{t('backToCart')}</Link>
        </section>
      </Shell>
    );
  }
  const { status, order, pendingPayment, orderSession } = result;
  // A ticket or Pix waiting for the buyer: how to pay it and by when.
  const waiting = status === 'pending' && pendingPayment?.waiting ? pendingPayment : null;
  // The header's cart count is read here, after the payment emptied the purchased lines.
  return (
    <Shell>
      <section data-testid='return' data-status={status}>
        <h1 data-testid={`return-${status}`}>{t(`return_${status}`)}</h1>
        {waiting
          ? (
            <PendingPaymentView
              payment={waiting}
              total={orderSession.total}
              currency={orderSession.currency}
              reload={`/checkout/return?${query.toString()}`}
            />
          )
          : <p>{t(`detail_${status}`)}</p>}
        {order && (
          <div className='order' data-testid='order'>
            <p>
              {t('orderNumber')} <strong data-testid='order-number'>{order.order_number}</strong>
            </p>
            <ul>
              {order.lines.map((l) => (
                <li key={l.sku} data-testid={`order-line-${l.sku}`} data-quantity={l.quantity}>
                  {l.quantity} × {l.title} — {money(l.line_total, order.currency)}
                </li>
              ))}
            </ul>
            <p className='total'>
              {t('totalPaid')} <strong data-testid='order-total'>{money(order.total, order.currency)}</strong>
            </p>
          </div>
        )}
        <p>
          <Link href='/orders'>{t('seeOrders')}</Link> · <Link href='/'>{t('keepShopping')}</Link>
        </p>
      </section>
    </Shell>
  );
}
