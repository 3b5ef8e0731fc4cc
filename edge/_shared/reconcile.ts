/**
 * Reconciliation (the `reconcile` Edge Function, run every minute by pg_cron
 * through pg_net on hosted Supabase, and by the local stack's timer): nothing
 * waits for a notification that may never come.
 *
 *   0. Offline payments whose hold ended unpaid: their stock is released and
 *      they are cancelled at MercadoPago (offline.ts).
 *   1. Preferences of cancelled sessions are expired at MercadoPago, so an
 *      old tab cannot pay a superseded checkout (best effort: retried on the
 *      next run until MercadoPago accepts).
 *   2. Sessions that could have been paid unheard (checkout.claim_reconciliation:
 *      active, or closed within the window, with no approved payment applied)
 *      are looked up with MercadoPago's payment search by external_reference,
 *      and every payment found is applied through settlePayment, the
 *      webhook's own path (checkout.apply_payment).
 *   3. Approved parts of two-card payments whose other part never came are
 *      owed back once the hold has ended (checkout.refund_unpaired_parts),
 *      and their parts still pending are cancelled at MercadoPago (step 0's
 *      claim and cancellation, again); then refunds owed are retried (checkout.claim_refunds: exponential
 *      back-off) until MercadoPago confirms them.
 *      Dashboard refunds MercadoPago could not make when asked are made
 *      again, with the same idempotency key (order-refunds.ts).
 *   4. Fraud alerts, chargebacks and claims the webhook stored but did not
 *      finish acting on (killed after its 200, MercadoPago unavailable) are
 *      processed (edge/_shared/disputes.ts).
 *
 * Every step claims its work in the database first, so overlapping runs
 * never do the same item twice and a run killed half-way is retried later.
 */
import { processNotifications } from './disputes.ts';
import type { PaymentDeps } from './payments.ts';
import { refundOwed, settlePayment } from './payments.ts';
import { endOfflineHolds, type OfflineExpiryReport } from './offline.ts';
import { type OrderRefundReport, retryOrderRefunds } from './order-refunds.ts';

interface ReconcileOptions {
  windowHours: number;
  sessionLimit: number;
  refundLimit: number;
  preferenceLimit: number;
  notificationLeaseSeconds: number;
  unpairedGraceMinutes: number;
  now: () => Date;
}

interface ReconcileReport extends OfflineExpiryReport, OrderRefundReport {
  preferences_expired: number;
  preferences_failed: number;
  sessions_checked: number;
  payments_applied: number;
  outcomes: Record<string, number>;
  sessions_failed: number;
  unpaired_sessions: number;
  refunds_made: number;
  refunds_failed: number;
  notifications_processed: number;
  notifications_failed: number;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function reconcile(deps: PaymentDeps, opts: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = {
    ...(await endOfflineHolds(deps, opts.sessionLimit)),
    preferences_expired: 0,
    preferences_failed: 0,
    sessions_checked: 0,
    payments_applied: 0,
    outcomes: {},
    sessions_failed: 0,
    unpaired_sessions: 0,
    refunds_made: 0,
    refunds_failed: 0,
    order_refunds_made: 0,
    order_refunds_failed: 0,
    notifications_processed: 0,
    notifications_failed: 0,
  };

  for (const s of await deps.routines.claimPreferenceExpiry(opts.preferenceLimit)) {
    try {
      await deps.mp.expirePreference(s.preference_id, opts.now());
      await deps.routines.markPreferenceExpired(s.order_session_id);
      report.preferences_expired++;
    } catch (err) {
      report.preferences_failed++;
      deps.log('preference_expiry_failed', { order_session_id: s.order_session_id, preference_id: s.preference_id, message: message(err) });
    }
  }

  for (const s of await deps.routines.claimReconciliation(opts.windowHours, opts.sessionLimit)) {
    report.sessions_checked++;
    try {
      const payments = await deps.mp.searchPayments(s.token);
      // Approved first: a rejected attempt before it changes nothing, and an
      // approval is what must not be lost.
      payments.sort((a, b) => Number(b.status === 'approved') - Number(a.status === 'approved'));
      for (const payment of payments) {
        if (payment.external_reference !== s.token) continue;
        const result = await settlePayment(deps, payment, 'reconcile');
        report.payments_applied++;
        report.outcomes[result.outcome] = (report.outcomes[result.outcome] ?? 0) + 1;
      }
    } catch (err) {
      report.sessions_failed++;
      deps.log('reconcile_session_failed', { order_session_id: s.order_session_id, message: message(err) });
    }
  }

  // Two-card payments whose other part never came: their approved parts are
  // owed back now, and refunded just below.
  for (const r of await deps.routines.refundUnpairedParts(opts.unpairedGraceMinutes, opts.sessionLimit)) {
    report.unpaired_sessions++;
    deps.log('unpaired_parts_owed', { order_session_id: r.order_session_id, payment_id: r.payment_id, parts: 1 + (r.parts_refunded?.length ?? 0) });
  }
  // Their parts still pending (a card in_process) were claimed for
  // cancellation just now: cancelled at MercadoPago in this run, as offline
  // payments are (an approval found there instead is applied and refunded).
  if (report.unpaired_sessions > 0) {
    const more = await endOfflineHolds(deps, opts.sessionLimit);
    report.offline_cancelled += more.offline_cancelled;
    report.offline_cancel_failed += more.offline_cancel_failed;
  }

  for (const r of await deps.routines.claimRefunds(opts.refundLimit)) {
    try {
      await refundOwed(deps, r.payment_id, r.order_session_id);
      report.refunds_made++;
      deps.log('refund_made', { via: 'reconcile', payment_id: r.payment_id, order_session_id: r.order_session_id, attempts: r.attempts });
    } catch (err) {
      report.refunds_failed++;
      await deps.routines.noteRefundFailure(r.payment_id, message(err)).catch(() => undefined);
      deps.log('refund_retry_failed', { payment_id: r.payment_id, order_session_id: r.order_session_id, attempts: r.attempts, message: message(err) });
    }
  }

  // Dashboard refunds MercadoPago could not make when asked.
  Object.assign(report, await retryOrderRefunds(deps, opts.refundLimit));

  Object.assign(report, await processNotifications(deps, { limit: opts.refundLimit, leaseSeconds: opts.notificationLeaseSeconds }));

  deps.log('reconciled', { ...report });
  return report;
}
