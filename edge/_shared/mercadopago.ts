/**
 * The MercadoPago calls the functions make, through the official SDK. Its
 * base URL is the SDK's static AppConfig.BASE_URL, pointed at the sandbox
 * emulator locally (MP_API_BASE_URL). Failures are split into transient
 * (5xx, time-out, network: worth a retry) and rejections (4xx).
 */
import { MercadoPagoConfig, MerchantOrder, Payment, PaymentRefund, Preference } from 'mercadopago';
import { AppConfig } from 'mercadopago/dist/utils/config/index.js';
import type { PaymentSnapshot } from './contract.ts';
import { type DisputesApi, disputesApi } from './mp-disputes.ts';

export interface PreferenceItem {
  id: string;
  title: string;
  quantity: number;
  unit_price: number;
  currency_id: string;
}

export interface PreferenceRequest {
  items: PreferenceItem[];
  payer: { email: string; name?: string; surname?: string; phone?: { area_code?: string; number: string }; identification?: { type: string; number: string } };
  back_urls: { success: string; pending: string; failure: string };
  auto_return: 'approved';
  notification_url: string;
  external_reference: string;
  metadata: Record<string, string>;
  expires: boolean;
  expiration_date_from: string;
  expiration_date_to: string;
  payment_methods: { excluded_payment_types: { id: string }[]; installments?: number };
  /** Until when an offline payment (ticket, ATM, transfer) made on this preference may be paid. */
  date_of_expiration?: string;
  statement_descriptor: string;
  shipments?: { receiver_address: Record<string, string> };
}

interface CreatedPreference {
  id: string;
  init_point: string;
  sandbox_init_point: string;
}

export interface MercadoPagoApi extends DisputesApi {
  createPreference(body: PreferenceRequest, idempotencyKey: string): Promise<CreatedPreference>;
  getPayment(id: string): Promise<PaymentSnapshot>;
  /** `POST /v1/payments/{id}/refunds`: the whole remaining amount, or `amount` (a partial refund). */
  refundPayment(id: number, idempotencyKey: string, amount?: number): Promise<{ id: string }>;
  /** `GET /v1/payments/search?external_reference=...`: every payment made for one order session. */
  searchPayments(externalReference: string): Promise<PaymentSnapshot[]>;
  /** `GET /merchant_orders/{id}`: the payments of one preference (two cards: two payments), listed by id. */
  getMerchantOrder(id: string): Promise<{ id: string; external_reference: string | null; payment_ids: string[] }>;
  /** `PUT /checkout/preferences/{id}`: stop a preference from being paid (expiration_date_to = at). */
  expirePreference(id: string, at: Date): Promise<void>;
  /** `PUT /v1/payments/{id}` `{"status": "cancelled"}`: a pending or in_process payment can no longer be paid (400 for any other status). */
  cancelPayment(id: number): Promise<void>;
}

/** MercadoPago could not be reached or failed (5xx, time-out): try again later. */
export class MercadoPagoUnavailable extends Error {
  override name = 'MercadoPagoUnavailable';
}

/** MercadoPago answered no (4xx); `code` is its `error` field (e.g. `documentation_deadline_expired`). */
export class MercadoPagoRejected extends Error {
  override name = 'MercadoPagoRejected';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** The fields we read of a payment, from `GET /v1/payments/{id}` or a search result. */
interface PaymentFields {
  id?: number | string;
  status?: string;
  status_detail?: string | null;
  transaction_amount?: number | null;
  currency_id?: string | null;
  external_reference?: string | null;
  payment_type_id?: string | null;
  payment_method_id?: string | null;
  date_created?: string | null;
  date_approved?: string | null;
  date_last_updated?: string | null;
  refunds?: { id?: number | string }[];
  date_of_expiration?: string | null;
  transaction_details?: { external_resource_url?: string | null; total_paid_amount?: number | null } | null;
  barcode?: { content?: string | null } | null;
  point_of_interaction?: { transaction_data?: { qr_code?: string | null; qr_code_base64?: string | null; ticket_url?: string | null } | null } | null;
  installments?: number | null;
  fee_details?: { amount?: number | null; fee_payer?: string | null }[] | null;
  order?: { id?: number | string | null } | null;
}

/** What an offline payment (ticket, ATM, transfer, Pix) carries for the buyer; nothing for a card. */
function offlineFields(p: PaymentFields): Partial<PaymentSnapshot> {
  const url = p.transaction_details?.external_resource_url;
  const data = p.point_of_interaction?.transaction_data;
  return {
    ...(p.date_of_expiration ? { date_of_expiration: p.date_of_expiration } : {}),
    ...(url ? { transaction_details: { external_resource_url: url } } : {}),
    ...(p.barcode?.content ? { barcode: { content: p.barcode.content } } : {}),
    ...(data?.qr_code
      ? {
        point_of_interaction: { transaction_data: { qr_code: data.qr_code, qr_code_base64: data.qr_code_base64 ?? null, ticket_url: data.ticket_url ?? null } },
      }
      : {}),
  };
}

/** The payment as apply_payment takes it, from MercadoPago's JSON (the SDK's answer, or the sandbox's). */
export function snapshotOf(p: PaymentFields): PaymentSnapshot {
  return {
    id: Number(p.id),
    status: String(p.status),
    status_detail: p.status_detail ?? null,
    transaction_amount: p.transaction_amount ?? null,
    currency_id: p.currency_id ?? null,
    external_reference: p.external_reference ?? null,
    payment_type_id: p.payment_type_id ?? null,
    payment_method_id: p.payment_method_id ?? null,
    date_created: p.date_created ?? null,
    date_approved: p.date_approved ?? null,
    date_last_updated: p.date_last_updated ?? null,
    refund_id: p.refunds?.length ? String(p.refunds.at(-1)!.id) : null,
    ...offlineFields(p),
    installments: p.installments ?? null,
    total_paid_amount: p.transaction_details?.total_paid_amount ?? null,
    fee_amount: p.fee_details ? collectorFees(p.fee_details) : null,
    merchant_order_id: p.order?.id != null ? String(p.order.id) : null,
  };
}

/** The fees MercadoPago takes from the store (fee_payer collector), to the cent. */
function collectorFees(fees: { amount?: number | null; fee_payer?: string | null }[]): number {
  return Math.round(fees.filter((f) => f.fee_payer === 'collector').reduce((sum, f) => sum + (f.amount ?? 0), 0) * 100) / 100;
}

function classify(err: unknown): Error {
  const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 0;
  const message = err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
  const code = (err as { error?: unknown })?.error;
  if (status >= 400 && status < 500 && status !== 429) return new MercadoPagoRejected(message, status, typeof code === 'string' ? code : null);
  return new MercadoPagoUnavailable(`MercadoPago unavailable (${status || 'network'}): ${message}`);
}

export function createMercadoPago(opts: { accessToken: string; baseUrl: string; timeoutMs: number }): MercadoPagoApi {
  // The SDK reads its base URL from a static field (typed read-only).
  Object.assign(AppConfig, { BASE_URL: opts.baseUrl });
  // One quick retry inside a call; MercadoPago's own webhook retries do the rest.
  const client = new MercadoPagoConfig({
    accessToken: opts.accessToken,
    options: { timeout: opts.timeoutMs, maxRetries: 1, initialDelay: 200, maxDelay: 1000 },
  });
  const preference = new Preference(client);
  const payment = new Payment(client);
  const refunds = new PaymentRefund(client);
  const merchantOrders = new MerchantOrder(client);
  return {
    ...disputesApi(client, opts, classify),
    async createPreference(body, idempotencyKey) {
      try {
        const res = await preference.create({ body, requestOptions: { idempotencyKey } });
        if (!res.id || !res.init_point) throw new MercadoPagoUnavailable('MercadoPago returned a preference without id or init_point');
        return { id: res.id, init_point: res.init_point, sandbox_init_point: res.sandbox_init_point ?? res.init_point };
      } catch (err) {
        throw err instanceof MercadoPagoUnavailable ? err : classify(err);
      }
    },
    async getPayment(id) {
      try {
        return snapshotOf(await payment.get({ id }));
      } catch (err) {
        throw classify(err);
      }
    },
    async searchPayments(externalReference) {
      const found: PaymentSnapshot[] = [];
      try {
        // A session has a handful of payments at most; page anyway.
        for (let offset = 0; offset < 1000; offset += 50) {
          const page = await payment.search({
            options: { external_reference: externalReference, sort: 'date_created', criteria: 'asc', limit: 50, offset },
          });
          const results = page.results ?? [];
          found.push(...results.map((p) => snapshotOf(p)));
          if (results.length < 50) break;
        }
      } catch (err) {
        throw classify(err);
      }
      return found;
    },
    async getMerchantOrder(id) {
      try {
        const order = await merchantOrders.get({ merchantOrderId: id });
        return {
          id: String(order.id),
          external_reference: order.external_reference ?? null,
          payment_ids: (order.payments ?? []).filter((p) => p.id != null).map((p) => String(p.id)),
        };
      } catch (err) {
        throw classify(err);
      }
    },
    async expirePreference(id, at) {
      try {
        // The SDK's update type wants the items; send back the stored ones.
        const current = await preference.get({ preferenceId: id });
        await preference.update({
          id,
          updatePreferenceRequest: { items: current.items ?? [], expires: true, expiration_date_to: at.toISOString() },
          requestOptions: { idempotencyKey: `expire-${id}` },
        });
      } catch (err) {
        throw classify(err);
      }
    },
    async cancelPayment(id) {
      try {
        await payment.cancel({ id, requestOptions: { idempotencyKey: `cancel-${id}` } });
      } catch (err) {
        throw classify(err);
      }
    },
    async refundPayment(id, idempotencyKey, amount) {
      try {
        const r = await refunds.create({ payment_id: id, body: amount === undefined ? {} : { amount }, requestOptions: { idempotencyKey } });
        return { id: String(r.id) };
      } catch (err) {
        throw classify(err);
      }
    },
  };
}
