/**
 * Acting on the stored fraud alerts, chargebacks and claims
 * (checkout.mp_notifications). The webhook stores a notification and answers
 * 200, then processes that one; the reconcile function processes whatever is
 * still unprocessed (a function killed right after its 200, MercadoPago
 * unavailable). Each pass claims its rows with a lease, and every action is
 * idempotent, so each notification is acted on once.
 *
 *   stop_delivery_op_wh: the payment is fetched and applied (so an approval
 *     we never heard of still becomes its order), the alert recorded
 *     (checkout.apply_fraud_alert: the order marked do_not_ship, its payment
 *     owed back, staff emailed) and the refund made through MercadoPago;
 *   topic_chargebacks_wh: the chargeback is fetched (GET /v1/chargebacks/{id})
 *     and recorded, and its payment applied (the order goes charged_back);
 *   topic_claims_integration_wh: the claim is fetched (GET
 *     /post-purchase/v1/claims/{id}) and recorded, and its payment applied
 *     (in_mediation, then refunded or paid again).
 */
import type { ClaimedNotification } from './disputes-db.ts';
import type { DisputeResource } from './mp-disputes.ts';
import { fetchPayment, type PaymentDeps, refundOwed, settlePayment } from './payments.ts';

interface NotificationReport {
  notifications_processed: number;
  notifications_failed: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Processes the due stored notifications (or only the one with `id`), each leased for leaseSeconds (NOTIFICATION_LEASE_SECONDS). */
export async function processNotifications(
  deps: PaymentDeps,
  opts: { limit: number; leaseSeconds: number; id?: number },
): Promise<NotificationReport> {
  const report = { notifications_processed: 0, notifications_failed: 0 };
  const claimed = await deps.routines.disputes.claim(opts.limit, opts.leaseSeconds, opts.id ?? null);
  for (const n of claimed) {
    try {
      const outcome = await act(deps, n);
      await deps.routines.disputes.finish(n.id, outcome);
      report.notifications_processed++;
      deps.log('notification_processed', { id: n.id, topic: n.topic, resource_id: n.resource_id, attempts: n.attempts, ...outcome });
    } catch (err) {
      report.notifications_failed++;
      await deps.routines.disputes.noteFailure(n.id, message(err)).catch(() => undefined);
      deps.log('notification_failed', { id: n.id, topic: n.topic, resource_id: n.resource_id, attempts: n.attempts, message: message(err) });
    }
  }
  return report;
}

async function act(deps: PaymentDeps, n: ClaimedNotification): Promise<Record<string, unknown>> {
  switch (n.topic) {
    case 'stop_delivery_op_wh':
      return await actOnFraudAlert(deps, n);
    case 'topic_chargebacks_wh':
      return await actOnDispute(deps, 'chargeback', await deps.mp.getChargeback(n.resource_id));
    case 'topic_claims_integration_wh':
      return await actOnDispute(deps, 'claim', await deps.mp.getClaim(n.resource_id));
  }
}

async function actOnFraudAlert(deps: PaymentDeps, n: ClaimedNotification): Promise<Record<string, unknown>> {
  const payment = await fetchPayment(deps.mp, n.resource_id);
  if (!payment) return { outcome: 'unknown_payment' };
  const data = n.body.data as { description?: unknown } | undefined;
  const description = typeof data?.description === 'string' ? data.description : null;
  const alert = await deps.routines.disputes.applyFraudAlert(payment, description);
  // Applied after the alert is recorded: an approval we had not heard of
  // becomes an order that is born do_not_ship (and refunded by settlePayment).
  const applied = await settlePayment(deps, payment, 'webhook');
  let refund = alert.refund?.status ?? null;
  if (alert.refund?.status === 'owed') refund = (await refundOwed(deps, payment.id, applied.order_session_id)).refund?.status ?? null;
  deps.log('fraud_alert', { payment_id: payment.id, outcome: alert.outcome, order_number: alert.order?.order_number, refund });
  return { outcome: alert.outcome, payment_id: payment.id, order_number: alert.order?.order_number ?? applied.order?.order_number ?? null, refund };
}

async function actOnDispute(deps: PaymentDeps, kind: 'chargeback' | 'claim', resource: DisputeResource): Promise<Record<string, unknown>> {
  const paymentId = kind === 'chargeback' ? resource.payment_id ?? (Array.isArray(resource.payments) ? resource.payments[0] : undefined) : resource.resource_id;
  // The payment first, so that its order follows (charged_back, in_mediation,
  // refunded, paid again) and the dispute is linked to it.
  let payment_outcome: string | null = null;
  if (typeof paymentId === 'number' || typeof paymentId === 'string') {
    const payment = await fetchPayment(deps.mp, String(paymentId));
    if (payment) payment_outcome = (await settlePayment(deps, payment, 'webhook')).outcome;
  }
  const recorded = await deps.routines.disputes.recordDispute(kind, resource);
  const d = recorded.dispute;
  return { outcome: recorded.outcome, kind, dispute_id: d.id, status: d.status, deadline: d.deadline, payment_outcome };
}
