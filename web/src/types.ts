/**
 * The JSON shapes our RPC functions and Edge Functions return, as zod schemas
 * and the TypeScript types inferred from them.
 *
 * `supabase gen types` types every RPC as `Json` (they return jsonb), so these
 * schemas are the contract: every response is parsed here before the
 * storefront sees it, and a server that drifts from the contract fails loudly
 * at the boundary (StorefrontError `bad_response`) instead of deep in the UI.
 *
 * Records keep the database's snake_case (like the generated types);
 * the library's own parameters are camelCase.
 */
import { z } from 'zod';
import {
  COUPON_CODE,
  EMAIL_MAX_LENGTH,
  money,
  offlinePaymentSchema,
  ORDER_SESSION_STATUSES,
  ORDER_STATUSES,
  orderLineSchema,
  orderSchema,
  orderSessionLineSchema,
  orderSessionSchema,
} from '../../edge/_shared/contract.ts';
import { IDENTIFICATION_TYPES, identificationNumberIssue, normalizeIdentification } from '../../edge/_shared/identification.ts';
import { catalogFor, type CatalogLocale } from '../../edge/_shared/country.ts';
import { fill } from '../../edge/_shared/i18n/format.ts';
import type { Database } from './database.types.ts';
import { VALIDATION_MESSAGES, type ValidationMessages } from './messages.ts';

const int = z.number().int();
const uuid = z.string().min(1);
const attributes = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).catch({});

export const catalogVariantSchema = z.object({
  id: uuid,
  sku: z.string(),
  title: z.string(),
  attributes,
  price: money,
  currency: z.string(),
  available: int,
});
export type CatalogVariant = z.infer<typeof catalogVariantSchema>;

export const catalogProductSchema = z.object({
  id: uuid,
  slug: z.string(),
  title: z.string(),
  description: z.string().nullable().default(''),
  image_url: z.string().nullable(),
  variants: z.array(catalogVariantSchema),
});
export type CatalogProduct = z.infer<typeof catalogProductSchema>;
export const catalogSchema = z.array(catalogProductSchema);

export const cartLineSchema = z.object({
  variant_id: uuid,
  product_id: uuid,
  sku: z.string(),
  product_title: z.string(),
  variant_title: z.string(),
  attributes,
  image_url: z.string().nullable(),
  unit_price: money,
  quantity: int,
  line_total: money,
  available: int,
  active: z.boolean(),
});
export type CartLine = z.infer<typeof cartLineSchema>;

export const cartSchema = z.object({
  session_id: uuid,
  expires_at: z.string().nullable(),
  currency: z.string().nullable(),
  item_count: int,
  subtotal: money,
  lines: z.array(cartLineSchema),
});
export type Cart = z.infer<typeof cartSchema>;

export type OrderStatus = Database['public']['Enums']['order_status'];
export type OrderSessionStatus = Database['public']['Enums']['order_session_status'];
// The contract's status lists are the database's enums (a drift fails typecheck).
ORDER_STATUSES satisfies readonly OrderStatus[];
ORDER_SESSION_STATUSES satisfies readonly OrderSessionStatus[];

export { orderLineSchema, orderSchema, orderSessionLineSchema, orderSessionSchema };
export type OrderLine = z.infer<typeof orderLineSchema>;
export type Order = z.infer<typeof orderSchema>;
export const ordersSchema = z.array(orderSchema);
export type OrderSessionLine = z.infer<typeof orderSessionLineSchema>;
export type OrderSession = z.infer<typeof orderSessionSchema>;

export const createPreferenceResponseSchema = z.object({
  order_session: orderSessionSchema,
  preference_id: z.string(),
  init_point: z.string().url(),
  sandbox_init_point: z.string().optional(),
});

export const paymentSummarySchema = z
  .object({
    id: z.union([int, z.string()]).transform(String),
    status: z.string(),
    status_detail: z.string().nullable().optional(),
  })
  .loose();
export type PaymentSummary = z.infer<typeof paymentSummarySchema>;

export const paymentStatusResponseSchema = z.object({
  status: z.string(),
  outcome: z.string().nullable().optional(),
  payment: paymentSummarySchema.nullable().optional(),
  order_session: orderSessionSchema,
  order: orderSchema.nullable().optional(),
  pending_payment: offlinePaymentSchema.nullable().optional(),
});

/**
 * An offline payment (cash ticket, ATM, bank transfer, Pix) waiting for the
 * buyer: what the pending page shows (the ticket's link or barcode, the Pix
 * QR, the deadline). `label` is "esperando pago" while it may be paid.
 */
export type PendingPayment = z.infer<typeof offlinePaymentSchema>;

/** A line that cannot be sold in the quantity asked for (cart operation or checkout). */
export const shortLineSchema = z.object({
  variant_id: z.string().optional(),
  sku: z.string().optional(),
  title: z.string().optional(),
  requested: int,
  available: int,
  reason: z.string().optional(),
});
export type ShortLine = z.infer<typeof shortLineSchema>;

// ---------------------------------------------------------------------------
// Checkout input (camelCase, as the library's callers write it)

/** A required text field: `enter` when it is missing or blank. */
const trimmed = (max: number, enter: string, m: ValidationMessages) =>
  z
    .string({ error: enter })
    .trim()
    .min(1, enter)
    .max(max, fill(m.tooLong, { max }));
const optionalTrimmed = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .optional()
    .transform((v) => (v === '' ? undefined : v));

/** The checkout form's schema, its messages in `m`'s language. */
function buildCheckoutInputSchema(m: ValidationMessages) {
  return z.object({
    payer: z.object({
      email: z.string({ error: m.enterEmail }).trim().min(1, m.enterEmail).max(EMAIL_MAX_LENGTH).email(m.emailInvalid),
      name: trimmed(100, m.enterName, m),
      surname: optionalTrimmed(100),
      phone: z
        .object({ areaCode: optionalTrimmed(8), number: z.string().trim().regex(/^[0-9 -]{6,20}$/, m.phoneInvalid) })
        .optional(),
      // The same rules as create-preference (edge/_shared/identification.ts):
      // the number by its type's check digits; the function also checks that
      // the type is one of the store's country.
      identification: z
        .object({
          type: z.enum(IDENTIFICATION_TYPES, m.identificationTypeInvalid),
          number: z.string().trim().regex(/^[\dA-Za-z. /-]{3,24}$/, m.identificationInvalid).transform(normalizeIdentification),
        })
        .check((ctx) => {
          if (identificationNumberIssue(ctx.value.type, ctx.value.number) !== undefined) {
            ctx.issues.push({ code: 'custom', path: ['number'], message: m.identificationInvalid, input: ctx.value.number });
          }
        })
        .optional(),
    }),
    shippingAddress: z.object({
      streetName: trimmed(120, m.enterStreetName, m),
      streetNumber: trimmed(20, m.enterStreetNumber, m),
      zipCode: z
        .string({ error: m.enterZipCode })
        .trim()
        .min(1, m.enterZipCode)
        .regex(/^[A-Za-z0-9 -]{3,10}$/, m.zipCodeInvalid),
      city: trimmed(80, m.enterCity, m),
      state: optionalTrimmed(80),
      floor: optionalTrimmed(10),
      apartment: optionalTrimmed(10),
      notes: optionalTrimmed(300),
    }),
    coupon: z
      .string()
      .trim()
      .optional()
      .nullable()
      .transform((v) => (v ? v.toUpperCase() : undefined))
      .refine((v) => v === undefined || COUPON_CODE.test(v), m.couponInvalid),
    /**
     * The shopper ticked "send me reminders of my cart": the payer's email is
     * sent a link to confirm it (double opt-in). Leave it unticked by default.
     */
    marketingOptIn: z.boolean().optional(),
    /**
     * Where MercadoPago sends the buyer back (default: the project's
     * CHECKOUT_RETURN_URL); must be one of the project's CHECKOUT_RETURN_URLS.
     */
    returnUrl: z.url().optional(),
  });
}

/** The checkout form's schema with the es-AR messages (as before there were three); checkoutInputSchemaFor(locale) for the others. */
export const checkoutInputSchema = buildCheckoutInputSchema(VALIDATION_MESSAGES['es-AR']);
export type CheckoutInput = z.input<typeof checkoutInputSchema>;
export type CheckoutInputParsed = z.output<typeof checkoutInputSchema>;

export interface CheckoutResult {
  orderSession: OrderSession;
  preferenceId: string;
  /** MercadoPago's `init_point`: send the buyer there. */
  redirectUrl: string;
  sandboxRedirectUrl?: string;
}

/**
 * What the buyer's return from MercadoPago means for the storefront:
 * - `paid`: the order exists (`order` is set);
 * - `pending`: the payment is in process or waiting (cash, contingency):
 *   `pendingPayment` says how to pay a ticket or Pix, and by when;
 * - `rejected`: the payment was refused; the reservation still holds, so the
 *   buyer may retry on the same preference (`canRetry`);
 * - `expired`: the reservation ran out before a payment was approved;
 * - `refund_owed`: approved, but the stock was gone (late payment) or the
 *   amount was wrong: the store refunds it;
 * - `cancelled`: superseded by a newer checkout;
 * - `open`: no payment yet and the reservation still holds.
 */
export type ReturnStatus = 'paid' | 'pending' | 'rejected' | 'expired' | 'refund_owed' | 'cancelled' | 'open';

export interface ReturnResult {
  status: ReturnStatus;
  /** The function's `outcome` (order_created, already_paid, recorded, ...). */
  outcome: string | null;
  payment: PaymentSummary | null;
  order: Order | null;
  orderSession: OrderSession;
  /** The reservation is still active and nothing was paid: paying again on the same preference works. */
  canRetry: boolean;
  /** An offline payment (ticket, Pix...) waiting for the buyer, with its instructions and deadline; null otherwise. */
  pendingPayment: PendingPayment | null;
}

/** The query MercadoPago appends to back_urls, with its `null` strings turned into undefined. */
export interface MercadoPagoReturnQuery {
  paymentId?: string;
  status?: string;
  externalReference?: string;
  preferenceId?: string;
  merchantOrderId?: string;
  paymentType?: string;
}

// ---------------------------------------------------------------------------
// Accounts: the cart follows the shopper

/** A line the merge capped or dropped (checkout.merge_carts). */
export const mergeChangeSchema = z.object({
  variant_id: uuid,
  sku: z.string(),
  title: z.string(),
  /** Whose cart the line came from: `account` only for lines `replace` removed. */
  from: z.enum(['anonymous', 'account']),
  /** The quantity that line had. */
  requested: int,
  /** What the account's cart received of it (0 = dropped). */
  quantity: int,
  reason: z.enum(['insufficient_stock', 'max_line_quantity', 'not_for_sale', 'currency_mismatch', 'kept_account_cart', 'replaced']),
});
export type MergeChange = z.infer<typeof mergeChangeSchema>;

/** What the merge-cart function returns. */
export const mergeReportSchema = z.object({
  strategy: z.enum(['merge', 'keep_account', 'replace']),
  changes: z.array(mergeChangeSchema),
  lines_moved: int,
  cancelled_order_session: z.string().nullable(),
  order_sessions_moved: int,
  orders_moved: int,
  already_merged: z.boolean(),
  cart: cartSchema,
});
export type MergeReport = z.infer<typeof mergeReportSchema>;

/** Who the shopper is: an anonymous session, or signed in to an account. */
export interface Shopper {
  id: string;
  email: string | null;
  isAnonymous: boolean;
}

/** What `account.signIn` did: the account, and the anonymous cart's merge (null when there was none to merge). */
export interface SignInResult {
  shopper: Shopper;
  merge: MergeReport | null;
}

/** public.preview_coupon: the cart with a coupon applied, before paying. */
export const couponPreviewSchema = z.object({
  coupon: z.string(),
  kind: z.enum(['percent', 'fixed']),
  value: money,
  currency: z.string(),
  item_count: int,
  subtotal: money,
  discount: money,
  total: money,
});
export type CouponPreview = z.infer<typeof couponPreviewSchema>;

function buildCredentialsSchema(m: ValidationMessages) {
  return z.object({
    email: z.string({ error: m.enterEmail }).trim().min(1, m.enterEmail).max(254).email(m.emailInvalid),
    password: z.string({ error: m.enterPassword }).min(6, m.passwordTooShort).max(72, fill(m.tooLong, { max: 72 })),
  });
}
/** The account calls' schema with the es-AR messages; credentialsSchemaFor(locale) for the others. */
export const credentialsSchema = buildCredentialsSchema(VALIDATION_MESSAGES['es-AR']);

const schemas = new Map<CatalogLocale, { checkout: typeof checkoutInputSchema; credentials: typeof credentialsSchema }>();
function schemasFor(locale: string) {
  const c = catalogFor(locale);
  let s = schemas.get(c);
  if (!s) {
    const m = VALIDATION_MESSAGES[c];
    schemas.set(c, s = { checkout: buildCheckoutInputSchema(m), credentials: buildCredentialsSchema(m) });
  }
  return s;
}
/** The checkout form's schema with its messages in `locale`'s catalog (es-AR, es-MX or pt-BR: the nearest). */
export const checkoutInputSchemaFor = (locale: string): typeof checkoutInputSchema => schemasFor(locale).checkout;
/** The account calls' schema (email, password) with its messages in `locale`'s catalog. */
export const credentialsSchemaFor = (locale: string): typeof credentialsSchema => schemasFor(locale).credentials;
export type Credentials = z.input<typeof credentialsSchema>;
