/**
 * The dashboard's only data source: the `admin` Edge Function, called with
 * the signed-in staff member's access token (supabase-js keeps and refreshes
 * it). The browser never holds the service role key.
 */
import type { SupabaseClient } from '@supabase/supabase-js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
}

export type Money = Record<string, number | string>;

export interface Figures {
  orders: number;
  orders_kept: number;
  revenue: Money;
  average_order: Money;
  checkouts: number;
  checkouts_paid: number;
  conversion_rate: number | null;
}

export interface Dashboard {
  generated_at: string;
  tz: string;
  today: Figures & { date: string };
  range: Figures & { from: string; to: string };
  per_day: { day: string; orders: number; revenue: Money; checkouts: number; checkouts_paid: number }[];
  sessions_by_outcome: Record<string, number>;
  live: { active_checkouts: number; reserved_units: number; refunds_owed: number };
}

export interface OrderRow {
  id: string;
  order_number: string;
  status: string;
  total: number | string;
  currency: string;
  payment_id: string;
  email: string | null;
  name: string;
  paid_late: boolean;
  do_not_ship?: boolean;
  created_at: string;
  items: number;
}

export interface Line {
  sku: string;
  title: string;
  unit_price: number | string;
  quantity: number;
  line_total: number | string;
}

/** May the payer's address get cart reminders (email.marketing_consent; Shopify's email_marketing_consent)? */
export interface MarketingConsent {
  email: string;
  state: 'subscribed' | 'pending' | 'unsubscribed' | 'not_subscribed';
  opt_in_level: 'confirmed_opt_in' | null;
  source: 'account' | 'checkout' | 'unsubscribe_link' | null;
  consent_updated_at: string | null;
}

/** POST /orders/<ref>/refunds's body (edge/admin/routes.ts RefundBody). */
export type RefundRequest = { amount: number } | { lines: { line_no: number; quantity: number }[] };

export interface OrderDetail extends Omit<OrderRow, 'email' | 'name' | 'items'> {
  marketing_consent: MarketingConsent | null;
  subtotal: number | string;
  discount: number | string;
  coupon_code: string | null;
  payer: Record<string, unknown>;
  shipping_address: Record<string, string | undefined>;
  payment_type: string | null;
  payment_method: string | null;
  lines: Line[];
  payments: {
    payment_id: string;
    status: string;
    status_detail: string | null;
    amount: number | string | null;
    currency: string | null;
    received_at: string;
  }[];
  /** What the store keeps: total less MercadoPago's fees; the buyer's financing cost apart; each payment of the order (two cards: two). */
  money?: {
    total: number | string;
    currency: string;
    financing_cost: number | string;
    fees: number | string;
    net: number | string;
    parts: { payment_id: string; amount: number | string; installments: number; financing_cost: number | string; fees: number | string }[];
  };
  /** The store's own refunds of the order (partial or whole), per payment. */
  order_refunds?: {
    id: string;
    payment_id: string;
    amount: number | string;
    currency: string;
    status: string;
    last_error: string | null;
    refunded_at: string | null;
  }[];
  refunds: { payment_id: string; amount: number | string; currency: string; reason: string; status: string; created_at: string }[];
  session: { id: string; token: string; status: string; created_at: string; expires_at: string; paid_at: string | null } | null;
  events: { id: number; kind: string; payment_id: string | null; detail: Record<string, unknown>; created_at: string }[];
}

export interface Attention {
  refunds_owed: {
    payment_id: string;
    amount: number | string;
    currency: string;
    reason: string;
    created_at: string;
    email: string | null;
    attempts: number;
    next_attempt_at: string;
    last_error: string | null;
  }[];
  late_payments: { kind: string; order_number?: string; payment_id: string; amount: number | string; currency: string; at: string; status?: string }[];
  amount_mismatches: { payment_id: string; amount: number | string; currency: string; status: string; expected: number | string | null; at: string }[];
  unmatched_payments: { payment_id: string; amount: number | string | null; currency: string | null; external_reference: string | null; at: string }[];
}

export interface Audit {
  ok: boolean;
  violations: { invariant: string; subject: string; detail: Record<string, unknown> }[];
}

export interface StockRow {
  id: string;
  sku: string;
  title: string;
  product: string;
  active: boolean;
  on_hand: number;
  reserved: number;
  reserving_sessions: number;
  available: number;
}

export interface Stock {
  variants: StockRow[];
  adjustments: {
    id: number;
    sku: string;
    delta: number;
    on_hand_before: number;
    on_hand_after: number;
    reason: string;
    staff_email: string | null;
    created_at: string;
  }[];
}

export interface Housekeeping {
  jobs: {
    jobid: number;
    name: string;
    schedule: string;
    active: boolean;
    last_run: { status: string; started_at: string; finished_at: string | null; message: string | null } | null;
    failures_24h: number;
  }[];
  due: { sessions_to_expire: number; expired_reservations: number };
}

/** A chargeback or claim (GET /admin/disputes). */
export interface Dispute {
  id: string;
  kind: 'chargeback' | 'claim';
  mp_id: string;
  payment_id: string;
  order_number: string | null;
  order_status: string | null;
  status: 'opened' | 'closed';
  stage: 'claim' | 'dispute' | null;
  coverage_eligible: boolean | null;
  coverage_applied: boolean | null;
  documentation_required: boolean | null;
  documentation_status: string | null;
  deadline: string | null;
  amount: number | null;
  currency: string | null;
  benefited: 'complainant' | 'respondent' | null;
}

export interface Disputes {
  disputes: Dispute[];
  fraud_alerts: {
    payment_id: string;
    created_at: string;
    order_number: string | null;
    order_status: string | null;
    do_not_ship: boolean | null;
    refund_status: 'owed' | 'refunded' | null;
  }[];
}

export interface OfflinePayments {
  generated_at: string;
  held_by_product: { product_id: string; title: string; units: number; payments: number }[];
  awaiting: {
    payment_id: string;
    order_session_id: string;
    payment_type_id: string;
    payment_method_id: string | null;
    status: 'holding' | 'refused';
    refusal: string | null;
    deadline: string;
    hold_until: string;
    total: number | string;
    currency: string;
    email: string | null;
    label: string;
  }[];
  expired_unpaid: { last_7_days: number; total: number; cancel_pending: number };
  paid: number;
}

export function createAdminApi(supabase: SupabaseClient, supabaseUrl: string) {
  const base = `${supabaseUrl.replace(/\/$/, '')}/functions/v1/admin`;
  async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const { data } = await supabase.auth.getSession();
    const token = data.session?.access_token;
    if (!token) throw new ApiError(401, 'unauthenticated', 'no session', {});
    let res: Response;
    try {
      // FormData goes as multipart (the browser sets its boundary); anything else as JSON.
      const form = body instanceof FormData;
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined || form ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : form ? body : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network', 'network error', {});
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const { error, message, ...details } = json;
      throw new ApiError(res.status, typeof error === 'string' ? error : 'error', typeof message === 'string' ? message : res.statusText, details);
    }
    return json as T;
  }
  return {
    me: () => request<{ id: string; email: string | null; role: string }>('GET', '/me'),
    dashboard: (from: string, to: string, tz: string) => request<Dashboard>('GET', `/dashboard?${new URLSearchParams({ from, to, tz })}`),
    orders: (q: string, cursor: string | null, limit = 25) =>
      request<{ orders: OrderRow[]; next_cursor: string | null }>(
        'GET',
        `/orders?${new URLSearchParams({ ...(q ? { q } : {}), ...(cursor ? { cursor } : {}), limit: String(limit) })}`,
      ),
    order: (ref: string) => request<OrderDetail>('GET', `/orders/${encodeURIComponent(ref)}`),
    attention: () => request<Attention>('GET', '/attention'),
    audit: () => request<Audit>('GET', '/audit'),
    retryRefund: (paymentId: string) => request<{ refund: { status: string; mp_refund_id: string | null } }>('POST', `/refunds/${paymentId}/retry`),
    stock: () => request<Stock>('GET', '/stock'),
    /** A refund by amount, or by units of the order's lines (line_no: the line's position in `lines`, from 1). */
    refundOrder: (orderNumber: string, body: RefundRequest) =>
      request<{ order_number: string; refunds: { payment_id: string; amount: number | string; status: string; order_status: string }[] }>(
        'POST',
        `/orders/${encodeURIComponent(orderNumber)}/refunds`,
        body,
      ),
    adjustStock: (variantId: string, delta: number, reason: string) =>
      request<{ on_hand_after: number; available: number }>('POST', '/stock/adjust', { variant_id: variantId, delta, reason }),
    disputes: () => request<Disputes>('GET', '/disputes'),
    uploadEvidence: (id: string, files: File[]) => {
      const form = new FormData();
      for (const f of files) form.append('files[]', f, f.name);
      return request<Dispute>('POST', `/disputes/${encodeURIComponent(id)}/evidence`, form);
    },
    housekeeping: () => request<Housekeeping>('GET', '/housekeeping'),
    offlinePayments: () => request<OfflinePayments>('GET', '/offline-payments'),
    cleanup: () => request<{ expired_sessions: number; purged_carts: number; trimmed_sessions: number }>('POST', '/housekeeping/cleanup'),
  };
}

export type AdminApi = ReturnType<typeof createAdminApi>;
