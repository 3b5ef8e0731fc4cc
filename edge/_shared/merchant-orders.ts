/**
 * The merchant-order topic (`?id=<order>&topic=merchant_order`, or
 * `?data.id=<order>&type=topic_merchant_order_wh`): MercadoPago's order of a
 * preference lists every payment made for it (two cards: two payments). Each
 * listed payment is fetched and applied through settlePayment, the payment
 * topic's own path, so the order session's parts add up whichever topic
 * arrives first; applying a payment twice changes nothing.
 */
import type { ApplyResult } from './checkout.ts';
import { MercadoPagoRejected } from './mercadopago.ts';
import { fetchPayment, type PaymentDeps, settlePayment } from './payments.ts';

export const MERCHANT_ORDER_TOPICS: readonly string[] = ['merchant_order', 'topic_merchant_order_wh'];

/** Applies every payment of merchant order `id`; null when MercadoPago does not know the order. */
export async function settleMerchantOrder(deps: PaymentDeps, id: string): Promise<ApplyResult[] | null> {
  let order;
  try {
    order = await deps.mp.getMerchantOrder(id);
  } catch (err) {
    if (err instanceof MercadoPagoRejected && err.status === 404) return null;
    throw err;
  }
  const results: ApplyResult[] = [];
  for (const paymentId of order.payment_ids) {
    const payment = await fetchPayment(deps.mp, paymentId);
    if (payment) results.push(await settlePayment(deps, payment, 'webhook'));
  }
  deps.log('merchant_order_applied', { merchant_order_id: order.id, payments: order.payment_ids.length, outcomes: results.map((r) => r.outcome) });
  return results;
}
