/**
 * The webhook's fraud alerts, chargebacks and claims: stored in the inbox
 * (checkout.store_mp_notification) before anything else, because MercadoPago
 * sends a fraud alert once and never again; 200 only once the row is
 * committed (a database failure answers 500, so MercadoPago retries what it
 * retries); then acted on after the answer (edge/_shared/disputes.ts). A
 * function killed after its 200 leaves the row to the reconcile function.
 */
import type { Deps } from '../_shared/deps.ts';
import { DISPUTE_TOPICS, type DisputeTopic } from '../_shared/disputes-db.ts';
import { processNotifications } from '../_shared/disputes.ts';
import { HttpError, json } from '../_shared/http.ts';

export const isDisputeTopic = (type: string | undefined): type is DisputeTopic => (DISPUTE_TOPICS as readonly (string | undefined)[]).includes(type);

interface NotificationBody {
  id?: unknown;
  date_created?: unknown;
  data?: { id?: unknown };
}

/** Keeps the isolate alive for work after the answer (Supabase's EdgeRuntime.waitUntil); elsewhere the promise simply runs on. */
function afterResponse(work: Promise<unknown>): void {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } }).EdgeRuntime;
  runtime?.waitUntil?.(work);
}

export async function storeThenProcess(
  deps: Deps,
  topic: DisputeTopic,
  signedId: string | undefined,
  body: NotificationBody,
  requestId: string | null,
): Promise<Response> {
  if (signedId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(signedId)) {
    throw new HttpError(400, 'invalid_notification', 'data.id must be the id of the payment, chargeback or claim');
  }
  if (body.data?.id !== undefined && String(body.data.id) !== signedId) {
    throw new HttpError(400, 'invalid_notification', 'data.id in the body does not match the signed one');
  }
  // MercadoPago's notification id (the same on every retry); a change of the
  // same resource is a new notification.
  const notificationId = String(body.id ?? body.date_created ?? requestId ?? signedId).slice(0, 128);
  let stored: { id: number; stored: boolean; processed: boolean };
  try {
    stored = await deps.routines.disputes.store(topic, signedId, notificationId, body);
  } catch (err) {
    if (err instanceof HttpError && err.status === 503) {
      deps.log('webhook_retry_later', { topic, resource_id: signedId, request_id: requestId, message: err.message });
      throw new HttpError(500, 'database_unavailable', 'the database is unavailable; retry later');
    }
    throw err;
  }
  deps.log('notification_stored', { id: stored.id, topic, resource_id: signedId, replay: !stored.stored, request_id: requestId });
  if (!stored.processed) {
    afterResponse(
      processNotifications(deps, { limit: 1, id: stored.id, leaseSeconds: deps.config.reconcile.notificationLeaseSeconds }).catch((err) =>
        deps.log('notification_failed', { id: stored.id, topic, message: err instanceof Error ? err.message : String(err) })
      ),
    );
  }
  return json(200, { received: true, stored: stored.stored });
}
