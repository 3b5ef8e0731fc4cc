/**
 * The one way a MercadoPago payment reaches the database, shared by the
 * webhook and the buyer's return: fetch it from MercadoPago (never trust what
 * the caller says), apply it with checkout.apply_payment, and when the
 * routine says a refund is owed, make it through MercadoPago and record it.
 */
import type { ApplyResult, CheckoutRoutines } from './checkout.ts';
import type { PaymentSnapshot } from './contract.ts';
import type { Logger } from './http.ts';
import { type MercadoPagoApi, MercadoPagoRejected } from './mercadopago.ts';

export interface PaymentDeps {
  routines: CheckoutRoutines;
  mp: MercadoPagoApi;
  log: Logger;
}

export async function settlePayment(deps: PaymentDeps, payment: PaymentSnapshot, via: 'webhook' | 'return' | 'reconcile'): Promise<ApplyResult> {
  const result = await deps.routines.applyPayment(payment);
  deps.log('payment_applied', {
    via,
    payment_id: payment.id,
    status: payment.status,
    status_detail: payment.status_detail,
    order_session_id: result.order_session_id,
    outcome: result.outcome,
    order_number: result.order?.order_number,
  });
  // An order born do_not_ship (a fraud alert came before it) owes its payment back too.
  const stopped = result.outcome === 'order_created' && result.order?.do_not_ship === true;
  if (result.refund?.status !== 'owed' && !stopped) return result;
  return makeOwedRefund(deps, payment, result);
}

/**
 * Makes an owed refund in MercadoPago and records it. Used right after
 * apply_payment says a refund is owed, and by the reconcile function's
 * retries. Throws (leaving the refund owed) when MercadoPago fails or refuses.
 */
export async function refundOwed(deps: PaymentDeps, paymentId: number, orderSessionId: string | null): Promise<ApplyResult> {
  let refundId: string | null = null;
  try {
    // The same key every time: MercadoPago makes the refund once.
    refundId = (await deps.mp.refundPayment(paymentId, `refund-${paymentId}`)).id;
  } catch (err) {
    if (!(err instanceof MercadoPagoRejected)) throw err;
    // Refused: fine if the payment is already refunded (by us earlier, or by
    // the store in MercadoPago's panel); anything else is left owed.
    const current = await deps.mp.getPayment(String(paymentId));
    if (current.status !== 'refunded') {
      deps.log('refund_refused', { payment_id: paymentId, order_session_id: orderSessionId, message: err.message });
      throw err;
    }
  }
  return await deps.routines.recordRefund(paymentId, refundId);
}

async function makeOwedRefund(deps: PaymentDeps, payment: PaymentSnapshot, result: ApplyResult): Promise<ApplyResult> {
  const recorded = await refundOwed(deps, payment.id, result.order_session_id);
  const refundId = recorded.refund?.mp_refund_id ?? null;
  deps.log('refund_made', {
    payment_id: payment.id,
    order_session_id: result.order_session_id,
    reason: result.refund?.reason,
    mp_refund_id: refundId,
    amount: result.refund?.amount,
    currency: result.refund?.currency,
  });
  return { ...result, refund: recorded.refund, session_status: recorded.session_status ?? result.session_status };
}

/** The payment as MercadoPago has it; null when MercadoPago does not know the id. */
export async function fetchPayment(mp: MercadoPagoApi, id: string) {
  try {
    return await mp.getPayment(id);
  } catch (err) {
    if (err instanceof MercadoPagoRejected && err.status === 404) return null;
    throw err;
  }
}
