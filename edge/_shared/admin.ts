/**
 * Typed calls to the dashboard's routines (schema admin, service_role only).
 * Each takes the verified JWT's claims: the database re-checks the staff
 * role (claims and auth.users) on every call, after checking that the user
 * still exists (a deleted staff member's unexpired token is a 401).
 */
import { asUser, type Db } from './db.ts';

export type Claims = Record<string, unknown>;

export interface OrdersCursor {
  created_at: string;
  id: string;
}

export function adminRoutines(db: Db) {
  // $1 is always the claims; their `sub` is the staff member acting.
  const one = async <T>(sql: string, params: [Claims, ...unknown[]]): Promise<T> =>
    (await db.query<{ r: T }>(...asUser(String(params[0].sub), sql, params)))[0]!.r;
  return {
    me: (claims: Claims) => one<{ id: string; email: string | null; role: 'staff' }>('select admin.me($1) as r', [claims]),
    dashboard: (claims: Claims, from: string, to: string, tz: string) =>
      one<Record<string, unknown>>('select admin.dashboard($1, $2::date, $3::date, $4) as r', [claims, from, to, tz]),
    orders: (claims: Claims, search: string | null, before: OrdersCursor | null, limit: number) =>
      one<{ orders: Record<string, unknown>[]; next: OrdersCursor | null }>('select admin.orders($1, $2, $3, $4, $5) as r', [
        claims,
        search,
        before?.created_at ?? null,
        before?.id ?? null,
        limit,
      ]),
    order: (claims: Claims, ref: string) => one<Record<string, unknown>>('select admin.order_detail($1, $2) as r', [claims, ref]),
    attention: (claims: Claims) => one<Record<string, unknown>>('select admin.attention($1) as r', [claims]),
    audit: (claims: Claims) => one<Record<string, unknown>[]>('select admin.audit($1) as r', [claims]),
    refundToRetry: (claims: Claims, paymentId: string) =>
      one<{ payment_id: string; amount: number; currency: string; reason: string; order_session_id: string | null }>(
        'select admin.refund_to_retry($1, $2) as r',
        [claims, paymentId],
      ),
    refundOrder: (claims: Claims, ref: string, request: { amount: number } | { lines: { line_no: number; quantity: number }[] }) =>
      one<{ order_number: string; refunds: { id: string; payment_id: string; amount: number; currency: string }[] }>(
        'select admin.refund_order($1, $2, $3) as r',
        [claims, ref, request],
      ),
    stock: (claims: Claims) => one<Record<string, unknown>>('select admin.stock($1) as r', [claims]),
    adjustStock: (claims: Claims, variantId: string, delta: number, reason: string) =>
      one<Record<string, unknown>>('select admin.adjust_stock($1, $2, $3, $4) as r', [claims, variantId, delta, reason]),
    housekeeping: (claims: Claims) => one<Record<string, unknown>>('select admin.housekeeping($1) as r', [claims]),
    /** Offline payments: units held per product, the payments awaiting, how many ended unpaid (12_offline_payments.sql). */
    offlinePayments: (claims: Claims) => one<Record<string, unknown>>('select admin.offline_payments($1) as r', [claims]),
    runCleanup: (claims: Claims) => one<Record<string, number>>('select admin.run_cleanup($1) as r', [claims]),
  };
}

type AdminRoutines = ReturnType<typeof adminRoutines>;
