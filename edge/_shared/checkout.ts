/** Typed calls to the checkout routines (schema checkout, service_role only). */
import { adminRoutines } from './admin.ts';
import { analyticsRoutines } from './analytics.ts';
import type * as contract from './contract.ts';
import type { OfflinePayment, PaymentSnapshot } from './contract.ts';
import type { StoreCountry } from './country.ts';
import { asUser, type Db } from './db.ts';
import { disputesRoutines } from './disputes-db.ts';

/** A line of an order session's snapshot (the contract's shape, every field the routines write). */
type SessionLine = contract.OrderSession['lines'][number] & { title: string };

/** An order session as the service routines return it: the contract's shape with the service-only fields. */
export type OrderSession = Omit<contract.OrderSession, 'lines'> & {
  session_id: string;
  lines: SessionLine[];
  item_count: number;
  coupon_code: string | null;
  payer: Record<string, unknown>;
  shipping_address: Record<string, unknown>;
  preference_id: string | null;
  payment_id: number | null;
  created_at: string;
  paid_at: string | null;
};

export type Order = contract.Order;
export type Refund = contract.Refund;

export interface ApplyResult {
  order_session_id: string | null;
  outcome:
    | 'order_created'
    | 'already_paid'
    | 'partly_paid'
    | 'refund_owed'
    | 'amount_mismatch'
    | 'recorded'
    | 'order_updated'
    | 'refund_recorded'
    | 'unknown_session';
  payment_id: number;
  session_status?: OrderSession['status'];
  order?: Order | null;
  refund?: Refund;
  /** partly_paid: the approved parts counted so far and what is still to pay. */
  paid?: number;
  remaining?: number;
  /** refund_owed: the session's other parts, owed back with this one. */
  parts_refunded?: Refund[];
}

/** A line checkout.merge_carts capped or dropped. */
export interface MergeChange {
  variant_id: string;
  sku: string;
  title: string;
  from: 'anonymous' | 'account';
  requested: number;
  quantity: number;
  reason: 'insufficient_stock' | 'max_line_quantity' | 'not_for_sale' | 'currency_mismatch' | 'kept_account_cart' | 'replaced';
}

/** What checkout.merge_carts returns. */
export interface MergeReport {
  anonymous_id: string;
  account_id: string;
  strategy: 'merge' | 'keep_account' | 'replace';
  changes: MergeChange[];
  lines_moved: number;
  cancelled_order_session: string | null;
  order_sessions_moved: number;
  orders_moved: number;
  already_merged: boolean;
  cart: Record<string, unknown>;
}

/** One broken invariant, as checkout.audit() lists it. */
interface AuditViolation {
  invariant: string;
  subject: string;
  detail: Record<string, unknown>;
}

/** What the shopper may see of an order session. */
export function publicSession(s: OrderSession) {
  return {
    id: s.id,
    token: s.token,
    status: s.status,
    lines: s.lines,
    item_count: s.item_count,
    subtotal: s.subtotal,
    discount: s.discount,
    total: s.total,
    currency: s.currency,
    coupon_code: s.coupon_code,
    preference_id: s.preference_id,
    expires_at: s.expires_at,
    paid_at: s.paid_at,
  };
}

export function checkoutRoutines(db: Db) {
  const one = async <T>(sql: string, params: unknown[]): Promise<T> => (await db.query<{ r: T }>(sql, params))[0]!.r;
  /** A routine acting for the signed-in user `userId` (401 once the user is deleted). */
  const forUser = async <T>(userId: string, sql: string, params: unknown[]): Promise<T> => (await db.query<{ r: T }>(...asUser(userId, sql, params)))[0]!.r;
  return {
    /** A checkout for a client's request: begin_checkout, the cap on what one client address holds, the marketing box. */
    beginCheckout: (sessionId: string, payer: object, shipping: object, coupon: string | null, clientAddress: string | null, marketingOptIn: boolean) =>
      forUser<OrderSession>(sessionId, 'select checkout.begin_client_checkout($1, $2, $3, $4, $5, $6) as r', [
        sessionId,
        payer,
        shipping,
        coupon,
        clientAddress,
        marketingOptIn,
      ]),
    attachPreference: (orderSessionId: string, preferenceId: string) =>
      one<OrderSession>('select checkout.attach_preference($1, $2) as r', [orderSessionId, preferenceId]),
    releaseSession: (orderSessionId: string, reason: string) => one<OrderSession>('select checkout.release_session($1, $2) as r', [orderSessionId, reason]),
    findOrderSession: (token: string) => one<OrderSession | null>('select checkout.find_order_session($1) as r', [token]),
    /** The order session with this token, read for the signed-in shopper `sessionId` (whose it is, the caller compares). */
    findOrderSessionFor: (sessionId: string, token: string) => forUser<OrderSession | null>(sessionId, 'select checkout.find_order_session($1) as r', [token]),
    noteReturnLookup: (sessionId: string) => forUser<number>(sessionId, 'select checkout.note_return_lookup($1) as r', [sessionId]),
    applyPayment: (payment: PaymentSnapshot) => one<ApplyResult>('select checkout.apply_payment($1) as r', [payment]),
    recordRefund: (paymentId: number, mpRefundId: string | null) => one<ApplyResult>('select checkout.record_refund($1, $2) as r', [paymentId, mpRefundId]),
    orderForSession: (orderSessionId: string) =>
      one<Order | null>('select (select private.order_json(o) from public.orders o where o.order_session_id = $1) as r', [
        orderSessionId,
      ]),
    mergeCarts: (anonymousId: string, accountId: string, anonymousSessionId: string) =>
      one<MergeReport>('select checkout.merge_carts($1, $2, $3) as r', [anonymousId, accountId, anonymousSessionId]),
    /** The store's country (private.settings): its site, currency and locale. */
    storeCountry: () => one<StoreCountry>('select checkout.store_country() as r', []),
    stats: () => one<Record<string, unknown>>('select checkout.stats() as r', []),
    topHolders: (limit: number) => one<Record<string, unknown>[]>('select checkout.top_holders($1) as r', [limit]),
    cleanup: () => one<Record<string, number>>('select checkout.cleanup() as r', []),
    audit: () => one<AuditViolation[]>('select checkout.audit() as r', []),
    claimReconciliation: (windowHours: number, limit: number) =>
      one<{ order_session_id: string; token: string; status: OrderSession['status']; checks: number }[]>(
        'select checkout.claim_reconciliation(make_interval(hours => $1), $2) as r',
        [windowHours, limit],
      ),
    claimRefunds: (limit: number) =>
      one<{ payment_id: number; order_session_id: string | null; amount: number; currency: string; reason: Refund['reason']; attempts: number }[]>(
        'select checkout.claim_refunds($1) as r',
        [limit],
      ),
    /** Owes back the approved parts of sessions whose hold ended `graceMinutes` ago without the rest (checkout.refund_unpaired_parts). */
    refundUnpairedParts: (graceMinutes: number, limit: number) =>
      one<ApplyResult[]>('select checkout.refund_unpaired_parts(make_interval(mins => $1), $2) as r', [graceMinutes, limit]),
    /** A dashboard refund made at MercadoPago (its refund id), or left owed with `error` (checkout.record_order_refund). */
    recordOrderRefund: (refundId: string, mpRefundId: string | null, error: string | null) =>
      one<
        {
          id: string;
          payment_id: string;
          amount: number;
          currency: string;
          status: 'owed' | 'refunded';
          mp_refund_id: string | null;
          last_error: string | null;
          order_status: string;
        }
      >(
        'select checkout.record_order_refund($1, $2, $3) as r',
        [refundId, mpRefundId, error],
      ),
    /** Claims the dashboard refunds still owed whose next attempt is due (checkout.claim_order_refunds). */
    claimOrderRefunds: (limit: number) =>
      one<{ id: string; order_id: string; payment_id: string; amount: number; currency: string; attempts: number }[]>(
        'select checkout.claim_order_refunds($1) as r',
        [limit],
      ),
    noteRefundFailure: (paymentId: number, error: string) => one<unknown>('select checkout.note_refund_failure($1, $2) as r', [paymentId, error]),
    claimPreferenceExpiry: (limit: number) =>
      one<{ order_session_id: string; preference_id: string; status: OrderSession['status'] }[]>('select checkout.claim_preference_expiry($1) as r', [limit]),
    markPreferenceExpired: (orderSessionId: string) => one<unknown>('select checkout.mark_preference_expired($1) as r', [orderSessionId]),
    /** Whether the preference may offer offline methods (the hoarding limits, docs/offline-payments.md). */
    offlineMethodsAllowed: (orderSessionId: string) =>
      one<{ allowed: boolean; reason: string | null }>('select checkout.offline_methods_allowed($1) as r', [orderSessionId]),
    /** The session's latest offline payment (ticket, Pix...) as the pending page shows it, or null. */
    offlinePayment: (orderSessionId: string) => one<OfflinePayment | null>('select checkout.offline_payment($1) as r', [orderSessionId]),
    /** Ends the offline holds whose time is up (stock released) and claims their payments' cancellation. */
    claimOfflineExpiry: (limit: number) =>
      one<{ payment_id: number; order_session_id: string; attempts: number }[]>('select checkout.claim_offline_expiry($1) as r', [limit]),
    recordOfflineCancel: (paymentId: number, error: string | null) =>
      one<OfflinePayment | null>('select checkout.record_offline_cancel($1, $2) as r', [paymentId, error]),
    /** The dashboard's routines (schema admin), for the admin function. */
    admin: adminRoutines(db),
    analytics: analyticsRoutines(db),
    /** The inbox of fraud alerts, chargebacks and claims, and the disputes (14_disputes.sql). */
    disputes: disputesRoutines(db),
  };
}

export type CheckoutRoutines = ReturnType<typeof checkoutRoutines>;
