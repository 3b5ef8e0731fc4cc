/**
 * Dashboard refunds (checkout.order_refunds): a refund the store owner asks
 * for, spread by the database over the order's payments, is made at
 * MercadoPago one part at a time as a partial refund, keyed by the part's id
 * (`order-refund-<id>`), so asking again, from the dashboard or from the
 * reconcile function, never refunds twice. A part MercadoPago could not make
 * stays owed with its error, and the reconcile function retries it with
 * back-off (checkout.claim_order_refunds) until MercadoPago confirms it.
 */
import { MercadoPagoRejected, MercadoPagoUnavailable } from './mercadopago.ts';
import type { PaymentDeps } from './payments.ts';

export interface OwedOrderRefund {
  id: string;
  payment_id: string;
  amount: number | string;
}

export type RecordedOrderRefund = Awaited<ReturnType<PaymentDeps['routines']['recordOrderRefund']>>;

/** Makes one owed part at MercadoPago and records the answer; a refusal or an outage is recorded as the part's error, anything else is thrown. */
export async function makeOrderRefund(deps: PaymentDeps, r: OwedOrderRefund): Promise<RecordedOrderRefund> {
  try {
    const made = await deps.mp.refundPayment(Number(r.payment_id), `order-refund-${r.id}`, Number(r.amount));
    return await deps.routines.recordOrderRefund(r.id, made.id, null);
  } catch (err) {
    if (!(err instanceof MercadoPagoUnavailable || err instanceof MercadoPagoRejected)) throw err;
    return await deps.routines.recordOrderRefund(r.id, null, err.message);
  }
}

export interface OrderRefundReport {
  order_refunds_made: number;
  order_refunds_failed: number;
}

/** The reconcile function's pass: every owed part whose next attempt is due, made again. */
export async function retryOrderRefunds(deps: PaymentDeps, limit: number): Promise<OrderRefundReport> {
  const report: OrderRefundReport = { order_refunds_made: 0, order_refunds_failed: 0 };
  for (const r of await deps.routines.claimOrderRefunds(limit)) {
    try {
      const recorded = await makeOrderRefund(deps, r);
      if (recorded.status === 'refunded') report.order_refunds_made++;
      else report.order_refunds_failed++;
      deps.log(recorded.status === 'refunded' ? 'order_refund_made' : 'order_refund_retry_failed', {
        via: 'reconcile',
        refund_id: r.id,
        payment_id: r.payment_id,
        amount: r.amount,
        attempts: r.attempts,
        last_error: recorded.last_error,
      });
    } catch (err) {
      report.order_refunds_failed++;
      deps.log('order_refund_retry_failed', {
        refund_id: r.id,
        payment_id: r.payment_id,
        attempts: r.attempts,
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return report;
}
