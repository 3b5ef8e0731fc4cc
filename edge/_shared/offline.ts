/**
 * Offline payments (cash tickets, ATM, bank transfers, Pix) whose hold ended
 * unpaid: the reconcile function's first step (docs/offline-payments.md).
 *
 * checkout.claim_offline_expiry ends the holds whose time is up (the session
 * expires, its stock comes back) and claims each payment's cancellation, with
 * back-off, in the database first; then each is cancelled at MercadoPago
 * (`PUT /v1/payments/{id}` `{"status": "cancelled"}`), so a ticket for stock
 * we no longer hold cannot be paid. MercadoPago refuses (400) a payment that
 * is no longer pending: it is fetched and applied as it is (cancelled there,
 * or approved meanwhile: the late path, re-reserved or refunded). A failure
 * is recorded and retried on a later run; a recorded cancellation is never
 * sent again.
 */
import { MercadoPagoRejected } from './mercadopago.ts';
import type { PaymentDeps } from './payments.ts';
import { fetchPayment, settlePayment } from './payments.ts';

export interface OfflineExpiryReport {
  offline_cancelled: number;
  offline_cancel_failed: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function endOfflineHolds(deps: PaymentDeps, limit: number): Promise<OfflineExpiryReport> {
  const report: OfflineExpiryReport = { offline_cancelled: 0, offline_cancel_failed: 0 };
  for (const hold of await deps.routines.claimOfflineExpiry(limit)) {
    try {
      await cancelOne(deps, hold.payment_id);
      report.offline_cancelled++;
      deps.log('offline_payment_cancelled', { payment_id: hold.payment_id, order_session_id: hold.order_session_id, attempts: hold.attempts });
    } catch (err) {
      report.offline_cancel_failed++;
      await deps.routines.recordOfflineCancel(hold.payment_id, message(err)).catch(() => undefined);
      deps.log('offline_cancel_failed', {
        payment_id: hold.payment_id,
        order_session_id: hold.order_session_id,
        attempts: hold.attempts,
        message: message(err),
      });
    }
  }
  return report;
}

async function cancelOne(deps: PaymentDeps, paymentId: number): Promise<void> {
  try {
    await deps.mp.cancelPayment(paymentId);
  } catch (err) {
    if (!(err instanceof MercadoPagoRejected)) throw err;
    // No longer pending or in_process: apply what it is now.
    const current = await fetchPayment(deps.mp, String(paymentId));
    if (!current || current.status === 'pending' || current.status === 'in_process') throw err;
    await settlePayment(deps, current, 'reconcile');
  }
  await deps.routines.recordOfflineCancel(paymentId, null);
}
