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
  installments: number;
  refunds: RefundRecord[];
}

export interface MerchantOrderRecord {
  id: number;
  preferenceId: string;
  createdAt: number;
  updatedAt: number;
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
}

export interface StatusChange {
  status: PaymentStatus;
  statusDetail?: string;
}

export interface DeliveryAttempt {
  notificationId: number;
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
