/** Typed calls to the disputes routines (supabase/schemas/14_disputes.sql; service_role only). */
import type { Claims } from './admin.ts';
import { asUser, type Db } from './db.ts';
import type { Order, Refund } from './contract.ts';
import type { DisputeResource } from './mp-disputes.ts';

/** The topics the webhook stores in its inbox before acting on them. */
export const DISPUTE_TOPICS = ['stop_delivery_op_wh', 'topic_chargebacks_wh', 'topic_claims_integration_wh'] as const;
export type DisputeTopic = (typeof DISPUTE_TOPICS)[number];

/** A stored notification, claimed for processing. */
export interface ClaimedNotification {
  id: number;
  topic: DisputeTopic;
  resource_id: string;
  body: Record<string, unknown>;
  attempts: number;
}

/** A chargeback or claim as the routines return it. */
export interface Dispute {
  id: string;
  kind: 'chargeback' | 'claim';
  mp_id: string;
  payment_id: string;
  order_number: string | null;
  status: 'opened' | 'closed';
  documentation_status: string | null;
  deadline: string | null;
  [field: string]: unknown;
}

export interface FraudResult {
  outcome: 'order_stopped' | 'alert_recorded';
  payment_id: number;
  order?: Order;
  refund?: Refund | null;
}

export function disputesRoutines(db: Db) {
  const one = async <T>(sql: string, params: unknown[]): Promise<T> => (await db.query<{ r: T }>(sql, params))[0]!.r;
  const staff = async <T>(sql: string, params: [Claims, ...unknown[]]): Promise<T> =>
    (await db.query<{ r: T }>(...asUser(String(params[0].sub), sql, params)))[0]!.r;
  return {
    store: (topic: DisputeTopic, resourceId: string, notificationId: string, body: unknown) =>
      one<{ id: number; stored: boolean; processed: boolean }>('select checkout.store_mp_notification($1, $2, $3, $4) as r', [
        topic,
        resourceId,
        notificationId,
        body,
      ]),
    claim: (limit: number, leaseSeconds: number, id: number | null) =>
      one<ClaimedNotification[]>('select checkout.claim_mp_notifications($1, make_interval(secs => $2), $3) as r', [limit, leaseSeconds, id]),
    finish: (id: number, outcome: unknown) => db.query('select checkout.finish_mp_notification($1, $2)', [id, outcome]),
    noteFailure: (id: number, error: string) => db.query('select checkout.note_mp_notification_failure($1, $2)', [id, error]),
    applyFraudAlert: (payment: unknown, description: string | null) =>
      one<FraudResult>('select checkout.apply_fraud_alert($1, $2) as r', [payment, description]),
    recordDispute: (kind: 'chargeback' | 'claim', resource: DisputeResource) =>
      one<{ outcome: 'recorded' | 'stale'; dispute: Dispute }>('select checkout.record_dispute($1, $2) as r', [kind, resource]),
    /** The dashboard's (staff claims re-checked in the database). */
    list: (claims: Claims) => staff<{ disputes: Dispute[]; fraud_alerts: Record<string, unknown>[] }>('select admin.disputes($1) as r', [claims]),
    chargebackForEvidence: (claims: Claims, id: string) => staff<Dispute>('select admin.chargeback_for_evidence($1, $2) as r', [claims, id]),
  };
}
