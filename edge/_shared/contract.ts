/**
 * The contract, written once: error codes with their HTTP statuses and the
 * storefront library's error class for each, the order-session, order and
 * refund shapes, and the coupon, email and quantity formats.
 *
 * Plain TypeScript and zod, no runtime-specific import: the Edge Functions
 * import it (Deno resolves `zod` through edge/deno.json), and so do the
 * storefront library (web/src), the local stack (dev/stack) and the tests
 * (Node resolves `zod` from node_modules), by relative path. Everything else
 * derives from it: edge/_shared/db.ts's SQLSTATE -> HTTP map,
 * web/src/errors.ts's mapping, web/src/types.ts's shapes. The error table in
 * docs/database.md is checked against `SQLSTATES` by tests/contract/readme.test.ts.
 */
import { z } from 'zod';

/** The storefront library's error classes (web/src/errors.ts), by name. */
type LibraryErrorClass =
  | 'StorefrontError'
  | 'ValidationError'
  | 'InsufficientStockError'
  | 'HoldLimitError'
  | 'CheckoutError'
  | 'SessionRequiredError'
  | 'NetworkError'
  | 'PaymentProviderError'
  | 'ReservationExpiredError';

interface SqlStateContract {
  /** The stable machine code: an Edge Function's `error`, the library's `code`. */
  error: string;
  /** The HTTP status an Edge Function answers it with. */
  status: number;
  /** The library class a PostgREST or function error with this code becomes. */
  library: LibraryErrorClass;
}

/**
 * Our SQLSTATEs (raised by the routines with JSON `details`; docs/database.md, "Errors").
 * PostgREST answers every one of them 400 (class CK is not in its table,
 * dev/stack/rest.ts); the Edge Functions answer `status`.
 */
export const SQLSTATES = {
  CKV01: { error: 'variant_unavailable', status: 409, library: 'CheckoutError' },
  CKQ01: { error: 'invalid_quantity', status: 400, library: 'ValidationError' },
  CKS01: { error: 'insufficient_stock', status: 409, library: 'InsufficientStockError' },
  CKS02: { error: 'stock_reserved', status: 409, library: 'CheckoutError' },
  CKM01: { error: 'mixed_currency', status: 409, library: 'CheckoutError' },
  CKM02: { error: 'fractional_amount', status: 400, library: 'ValidationError' },
  // private.checkout_snapshot: the cart is priced in a currency other than the store's (private.settings.currency).
  CKM03: { error: 'currency_not_accepted', status: 409, library: 'CheckoutError' },
  CKC01: { error: 'empty_cart', status: 409, library: 'CheckoutError' },
  CKP01: { error: 'coupon_unknown', status: 422, library: 'CheckoutError' },
  CKP02: { error: 'coupon_not_applicable', status: 422, library: 'CheckoutError' },
  CKP03: { error: 'coupon_used_up', status: 409, library: 'CheckoutError' },
  CKI01: { error: 'invalid_input', status: 400, library: 'ValidationError' },
  CKI02: { error: 'immutable_field', status: 409, library: 'CheckoutError' },
  CKO01: { error: 'not_found', status: 404, library: 'CheckoutError' },
  CKO02: { error: 'conflict', status: 409, library: 'CheckoutError' },
  CKH01: { error: 'hold_limit_product', status: 409, library: 'HoldLimitError' },
  CKH02: { error: 'hold_limit_checkout', status: 409, library: 'HoldLimitError' },
  CKH03: { error: 'reservation_cooldown', status: 429, library: 'HoldLimitError' },
  // checkout.note_return_lookup: payment-status looked up too many payments, for this shopper this hour or for the store this minute (details.scope).
  CKH04: { error: 'too_many_lookups', status: 429, library: 'CheckoutError' },
  // checkout.begin_client_checkout: the checkouts from the caller's address would hold more than max_units_per_address.
  CKH05: { error: 'hold_limit_address', status: 409, library: 'HoldLimitError' },
  // admin.require_staff: the caller is not a member of staff.
  CKA01: { error: 'forbidden', status: 403, library: 'CheckoutError' },
  // admin.set_staff: staff must have a confirmed email address.
  CKA02: { error: 'email_unconfirmed', status: 409, library: 'CheckoutError' },
  // checkout.require_user: the token's user was deleted while the token was unexpired.
  CKA03: { error: 'unauthenticated', status: 401, library: 'SessionRequiredError' },
  // checkout.merge_carts: not an anonymous user and a distinct account / merged elsewhere.
  CKU01: { error: 'merge_forbidden', status: 403, library: 'CheckoutError' },
  CKU02: { error: 'already_merged', status: 409, library: 'CheckoutError' },
  // checkout.merge_carts: the anonymous token's Auth session is signed out or unknown, or the account is gone.
  CKU03: { error: 'session_ended', status: 401, library: 'SessionRequiredError' },
} as const satisfies Record<string, SqlStateContract>;

export type SqlState = keyof typeof SQLSTATES;

/**
 * PostgreSQL's own SQLSTATEs for text it cannot store (NUL, unpaired
 * surrogates, invalid UTF-8), refused by the type's input before any routine
 * runs. The functions' validation refuses such text first (text.ts); these
 * keep anything that slips past a 400.
 */
const TEXT_SQLSTATES = {
  '22P05': { error: 'invalid_text', status: 400, library: 'ValidationError' },
  '22021': { error: 'invalid_text', status: 400, library: 'ValidationError' },
  '22P02': { error: 'invalid_input', status: 400, library: 'ValidationError' },
} as const satisfies Record<string, SqlStateContract>;

/** Every SQLSTATE the Edge Functions translate, ours and PostgreSQL's. */
export const MAPPED_SQLSTATES: Readonly<Record<string, SqlStateContract>> = { ...SQLSTATES, ...TEXT_SQLSTATES };

/** The errors the Edge Functions raise themselves (edge/README.md), with their statuses. */
export const FUNCTION_ERRORS = {
  invalid_json: { status: 400, library: 'ValidationError' },
  validation_failed: { status: 400, library: 'ValidationError' },
  invalid_notification: { status: 400, library: 'CheckoutError' },
  unauthenticated: { status: 401, library: 'SessionRequiredError' },
  invalid_signature: { status: 401, library: 'SessionRequiredError' },
  forbidden: { status: 403, library: 'CheckoutError' },
  not_found: { status: 404, library: 'CheckoutError' },
  method_not_allowed: { status: 405, library: 'CheckoutError' },
  refund_refused: { status: 409, library: 'CheckoutError' },
  // admin: chargeback evidence (edge/admin/evidence.ts).
  invalid_file_type: { status: 400, library: 'ValidationError' },
  evidence_refused: { status: 409, library: 'CheckoutError' },
  // send-emails' links (cart restore, unsubscribe).
  invalid_link: { status: 400, library: 'CheckoutError' },
  link_expired: { status: 410, library: 'CheckoutError' },
  // merge-cart: the Authorization token is not a signed-in account.
  account_required: { status: 403, library: 'CheckoutError' },
  invalid_anonymous_token: { status: 401, library: 'SessionRequiredError' },
  not_anonymous: { status: 403, library: 'CheckoutError' },
  same_user: { status: 403, library: 'CheckoutError' },
  payload_too_large: { status: 413, library: 'ValidationError' },
  internal: { status: 500, library: 'CheckoutError' },
  upstream_unavailable: { status: 500, library: 'NetworkError' },
  payment_provider_unavailable: { status: 502, library: 'PaymentProviderError' },
  database_unavailable: { status: 503, library: 'NetworkError' },
  // mercadopago-webhook: too many notifications waiting; MercadoPago sends it again.
  webhook_busy: { status: 503, library: 'NetworkError' },
  auth_keys_unavailable: { status: 503, library: 'NetworkError' },
} as const satisfies Record<string, Omit<SqlStateContract, 'error'>>;

type FunctionErrorCode = keyof typeof FUNCTION_ERRORS;

/** The codes the storefront library raises itself (web/src/errors.ts), with their classes. */
const LIBRARY_ERRORS = {
  validation_failed: 'ValidationError',
  session_required: 'SessionRequiredError',
  network_error: 'NetworkError',
  service_unavailable: 'NetworkError',
  reservation_expired: 'ReservationExpiredError',
  payment_provider_unavailable: 'PaymentProviderError',
  bad_response: 'StorefrontError',
  unexpected: 'StorefrontError',
} as const satisfies Record<string, LibraryErrorClass>;

/** The library class for a function's `error` code or a SQLSTATE meaning; undefined when the contract does not name it. */
export function libraryClassFor(code: string): LibraryErrorClass | undefined {
  if (code in FUNCTION_ERRORS) return FUNCTION_ERRORS[code as FunctionErrorCode].library;
  if (code in LIBRARY_ERRORS) return LIBRARY_ERRORS[code as keyof typeof LIBRARY_ERRORS];
  return Object.values(MAPPED_SQLSTATES).find((c) => c.error === code)?.library;
}

// ---------------------------------------------------------------------------
// Formats

/** A coupon code as a shopper types it (case-insensitive; the store keeps codes in upper case). */
export const COUPON_CODE = /^[A-Za-z0-9_-]{3,32}$/;
/** The longest email address (RFC 5321 path limit). */
export const EMAIL_MAX_LENGTH = 254;
/** MercadoPago's external_reference: an order session's token. */
export const EXTERNAL_REFERENCE = /^[A-Za-z0-9_-]{1,64}$/;
/** A cart quantity: a whole number, at least 1 to add, 0 removes in set_cart_item_quantity; the upper bound is the store's `max_line_quantity`. */
export const quantitySchema = (min: 0 | 1) => z.number().int().min(min);

// ---------------------------------------------------------------------------
// Shapes (as the routines return them; snake_case like the database)

export const ORDER_SESSION_STATUSES = ['active', 'paid', 'expired', 'cancelled', 'refund_owed', 'refunded'] as const;
export const ORDER_STATUSES = ['paid', 'in_mediation', 'partially_refunded', 'refunded', 'charged_back'] as const;
const REFUND_REASONS = [
  'out_of_stock',
  'stock_lowered',
  'amount_mismatch',
  'duplicate_payment',
  'coupon_used_up',
  'superseded',
  'fraud_alert',
  'unpaired_part',
] as const;
const REFUND_STATUSES = ['owed', 'refunded'] as const;

export type OrderSessionStatus = (typeof ORDER_SESSION_STATUSES)[number];
export type OrderStatus = (typeof ORDER_STATUSES)[number];
type RefundReason = (typeof REFUND_REASONS)[number];

/** numeric(12,2) arrives as a JSON number; be lenient with strings (some proxies stringify numerics). */
export const money = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/).transform(Number)]);
const int = z.number().int();
const id = z.string().min(1);
/** MercadoPago's payment id: a number in JSON (bigint in the database), read as a string. */
const paymentId = z.union([int, z.string()]).transform(String);

const orderSessionLineFields = z.object({
  variant_id: id,
  sku: z.string(),
  title: z.string().optional(),
  unit_price: money,
  quantity: int,
  line_total: money,
});
/** A line of an order session's snapshot; unknown fields pass through. */
export const orderSessionLineSchema = orderSessionLineFields.loose();

const orderSessionFields = z.object({
  id,
  token: z.string(),
  status: z.enum(ORDER_SESSION_STATUSES),
  lines: z.array(orderSessionLineSchema),
  item_count: int.optional(),
  subtotal: money,
  discount: money,
  total: money,
  currency: z.string(),
  coupon_code: z.string().nullable().optional(),
  expires_at: z.string(),
  preference_id: z.string().nullable().optional(),
});
/** An order session (`private.session_json`): a checkout, its `token` is MercadoPago's external_reference; unknown fields pass through. */
export const orderSessionSchema = orderSessionFields.loose();

export const orderLineSchema = z.object({
  variant_id: id.nullable(),
  sku: z.string(),
  title: z.string(),
  unit_price: money,
  quantity: int,
  line_total: money,
});

/** An order (`private.order_json`): one per approved payment of an order session. */
export const orderSchema = z.object({
  id,
  order_number: z.string(),
  order_session_id: id,
  session_id: id.optional(),
  payment_id: paymentId,
  status: z.enum(ORDER_STATUSES),
  subtotal: money,
  discount: money,
  total: money,
  currency: z.string(),
  coupon_code: z.string().nullable().optional(),
  payer: z.record(z.string(), z.unknown()).optional(),
  shipping_address: z.record(z.string(), z.unknown()).optional(),
  paid_late: z.boolean().optional(),
  do_not_ship: z.boolean().optional(),
  /** What the buyer paid on top of the price for installments with interest (never the store's income). */
  financing_cost: money.optional(),
  created_at: z.string(),
  lines: z.array(orderLineSchema),
});

/** A refund the store owes or made (checkout.payment_refunds as apply_payment reports it). */
const refundSchema = z.object({
  payment_id: paymentId,
  amount: money,
  currency: z.string(),
  reason: z.enum(REFUND_REASONS),
  status: z.enum(REFUND_STATUSES),
  mp_refund_id: z.string().nullable(),
});

/** The order session's contracted fields (without the pass-through index signature, so it can be extended). */
export type OrderSession = Omit<z.output<typeof orderSessionFields>, 'lines'> & { lines: z.output<typeof orderSessionLineFields>[] };
export type Order = z.output<typeof orderSchema>;
export type Refund = z.output<typeof refundSchema>;

/** A MercadoPago payment as checkout.apply_payment reads it: the MercadoPago adapter returns it, the database adapter passes it on. */
export interface PaymentSnapshot {
  id: number;
  status: string;
  status_detail?: string | null;
  transaction_amount?: number | null;
  currency_id?: string | null;
  external_reference?: string | null;
  payment_type_id?: string | null;
  payment_method_id?: string | null;
  date_created?: string | null;
  date_approved?: string | null;
  date_last_updated?: string | null;
  /** MercadoPago's id of the payment's latest refund: a refunded payment records it. */
  refund_id?: string | null;
  /** An offline payment's (ticket, ATM, transfer, Pix) deadline. */
  date_of_expiration?: string | null;
  /** A ticket's or transfer's page. */
  transaction_details?: { external_resource_url?: string | null };
  /** A cash ticket's barcode digits. */
  barcode?: { content?: string | null };
  /** Pix: the copy-and-paste code, its QR as a base64 PNG, MercadoPago's page. */
  point_of_interaction?: { transaction_data?: { qr_code?: string | null; qr_code_base64?: string | null; ticket_url?: string | null } };
  /** Installments chosen by the buyer (credit cards). */
  installments?: number | null;
  /** `transaction_details.total_paid_amount`: the price plus the buyer's financing cost (never compared with the total). */
  total_paid_amount?: number | null;
  /** MercadoPago's fees charged to the store: `fee_details` with `fee_payer: 'collector'`, summed. */
  fee_amount?: number | null;
  /** The merchant order the payment belongs to (`order.id`). */
  merchant_order_id?: string | null;
}

/**
 * An offline payment waiting for the buyer, as payment-status answers it
 * (`pending_payment`; checkout.offline_payment, docs/offline-payments.md):
 * what the pending page shows. `label` is "esperando pago" while it may be paid.
 */
export const offlinePaymentSchema = z.object({
  payment_id: paymentId,
  payment_type_id: z.enum(['ticket', 'atm', 'bank_transfer']),
  payment_method_id: z.string().nullable(),
  status: z.enum(['holding', 'refused', 'paid', 'ended', 'cancelled']),
  waiting: z.boolean(),
  label: z.string().nullable(),
  refusal: z.string().nullable(),
  deadline: z.string(),
  hold_until: z.string(),
  cancelled_at: z.string().nullable(),
  external_resource_url: z.string().optional(),
  barcode: z.string().optional(),
  qr_code: z.string().optional(),
  qr_code_base64: z.string().optional(),
  ticket_url: z.string().optional(),
});
export type OfflinePayment = z.output<typeof offlinePaymentSchema>;
