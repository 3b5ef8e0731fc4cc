/**
 * Domain types of the MercadoPago sandbox. Records are the sandbox's own
 * state (dates as epoch milliseconds); `views.ts` turns them into the JSON
 * MercadoPago answers with.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const PAYMENT_STATUSES = [
  'pending',
  'approved',
  'authorized',
  'in_process',
  'in_mediation',
  'rejected',
  'cancelled',
  'refunded',
  'charged_back',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const PAYMENT_TYPES = [
  'credit_card',
  'debit_card',
  'prepaid_card',
  'account_money',
  'ticket',
  'atm',
  'bank_transfer',
  'digital_currency',
  'digital_wallet',
] as const;
export type PaymentTypeId = (typeof PAYMENT_TYPES)[number];

export const isPaymentType = (v: unknown): v is PaymentTypeId => (PAYMENT_TYPES as readonly unknown[]).includes(v);
export const isPaymentStatus = (v: unknown): v is PaymentStatus => (PAYMENT_STATUSES as readonly unknown[]).includes(v);

export interface PreferenceItem {
  id: string;
  title: string;
  description: string;
  picture_url: string;
  category_id: string;
  quantity: number;
  unit_price: number;
  currency_id: string;
}

export interface PreferenceRecord {
  id: string;
  createdAt: number;
  siteId: string;
  currencyId: string;
  items: PreferenceItem[];
  payer: JsonObject;
  backUrls: { success?: string; pending?: string; failure?: string };
  autoReturn: '' | 'approved' | 'all';
  notificationUrl: string | null;
  externalReference: string;
  metadata: JsonObject;
  expires: boolean;
  expirationDateFrom: string | null;
  expirationDateTo: string | null;
  excludedPaymentTypes: string[];
  excludedPaymentMethods: string[];
  installments: number | null;
  defaultInstallments: number | null;
  /** How long cash and transfer payments stay payable (ISO date), or null for the default. */
  dateOfExpiration: string | null;
  statementDescriptor: string | null;
  binaryMode: boolean;
  /** The body fields we do not model, echoed back untouched. */
  extra: JsonObject;
  merchantOrderId: number | null;
}

export interface RefundRecord {
  id: number;
  paymentId: number;
  amount: number;
  createdAt: number;
  metadata: JsonObject;
}

export interface PaymentRecord {
  id: number;
  preferenceId: string;
  merchantOrderId: number;
  createdAt: number;
  approvedAt: number | null;
  updatedAt: number;
  status: PaymentStatus;
  statusDetail: string;
  paymentTypeId: PaymentTypeId;
  paymentMethodId: string;
  cardholderName: string | null;
  amount: number;
  currencyId: string;
  description: string;
  externalReference: string;
  metadata: JsonObject;
  payerEmail: string;
  notificationUrl: string | null;
  statementDescriptor: string | null;
  /** Card installments and what the buyer pays with interest (1 and the amount otherwise). */
  installments: number;
  installmentAmount: number;
  totalPaid: number;
  refunds: RefundRecord[];
  /** Offline payments: when the ticket or QR stops being payable (epoch ms). */
  expiresAt: number | null;
  /** Cash tickets: the barcode's digits. */
  barcode: string | null;
  /** Pix: the copy-and-paste EMV code, and its QR as a base64 PNG. */
  pix: { qrCode: string; qrCodeBase64: string } | null;
}

export interface MerchantOrderRecord {
  id: number;
  /** The preference it belongs to; null for one created by POST /merchant_orders with items only. */
  preferenceId: string | null;
  createdAt: number;
  updatedAt: number;
  siteId: string;
  /** Fields POST/PUT /merchant_orders set; null = the preference's. */
  notificationUrl: string | null;
  externalReference: string | null;
  items: PreferenceItem[] | null;
  additionalInfo: string;
  payer: JsonObject | null;
  marketplace: string;
  sponsorId: number | null;
  cancelled: boolean;
  /** Bumped on every change (the `version` of merchant-order webhooks). */
  version: number;
}

export interface ChargebackRecord {
  id: string;
  paymentId: number;
  amount: number;
  currencyId: string;
  reasonId: string;
  createdAt: number;
  updatedAt: number;
  coverageEligible: boolean;
  coverageApplied: boolean | null;
  documentationRequired: boolean;
  documentationStatus: 'pending' | 'review_pending' | 'valid' | 'not_supplied' | 'not_required';
  documentation: Array<{ type: string; name: string; size: number; uploadedAt: number }>;
  deadline: number;
  status: 'opened' | 'closed';
}

export interface ClaimRecord {
  id: number;
  paymentId: number;
  reasonId: string;
  type: 'mediations';
  stage: 'claim' | 'dispute';
  status: 'opened' | 'closed';
  createdAt: number;
  updatedAt: number;
  resolution: { reason: string; benefited: 'complainant' | 'respondent'; closedBy: string; at: number } | null;
}

/** How a test payment should turn out: a test cardholder name or an explicit status. */
export interface PayOptions {
  /** MercadoPago test cardholder name: APRO, CONT, OTHE, FUND, SECU, EXPI, CALL, FORM, ... */
  cardholderName?: string;
  /** Explicit outcome instead of a cardholder name (e.g. `{ status: 'pending' }`). */
  status?: PaymentStatus;
  statusDetail?: string;
  paymentTypeId?: PaymentTypeId;
  paymentMethodId?: string;
  payerEmail?: string;
  /** Part of the total (two cards); default the whole total. */
  amount?: number;
  /** Card installments (1..the preference's and the site's maximum). */
  installments?: number;
}

export interface StatusChange {
  status: PaymentStatus;
  statusDetail?: string;
}

export interface DeliveryAttempt {
  notificationId: number;
  /** The notification's topic: payment, merchant_order / topic_merchant_order_wh, stop_delivery_op_wh, ... */
  type: string;
  /** The id the query string carries (data.id, or id for the merchant_order feed). */
  resourceId: string;
  /** The payment concerned ('' when none, as for a merchant order). */
  paymentId: string;
  action: string;
  url: string;
  attempt: number;
  requestId: string;
  ts: string;
  at: string;
  durationMs: number;
  /** HTTP status the receiver answered with; absent when the attempt failed before a response. */
  statusCode?: number;
  /** `timeout` or the network error message. */
  error?: string;
  ok: boolean;
}

export type FaultMode = 'error' | 'timeout';

export interface FaultOptions {
  mode: FaultMode;
  /** How many MercadoPago API calls fail (default 1). */
  count?: number;
  /** Only calls whose path starts with this prefix count (e.g. `/v1/payments`). */
  pathPrefix?: string;
  /** Only calls with this HTTP method count. */
  method?: string;
  /** `timeout` mode: how long the call hangs before the socket is dropped (default 70 000 ms). */
  hangMs?: number;
}

export type ReleaseOrder = 'fifo' | 'reverse' | 'shuffle';
