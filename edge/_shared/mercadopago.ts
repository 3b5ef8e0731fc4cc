/**
 * The MercadoPago calls the functions make, through the official SDK. Its
 * base URL is the SDK's static AppConfig.BASE_URL, pointed at the sandbox
 * emulator locally (MP_API_BASE_URL). Failures are split into transient
 * (5xx, time-out, network: worth a retry) and rejections (4xx).
 */
import { MercadoPagoConfig, Payment, PaymentRefund, Preference } from 'mercadopago';
import { AppConfig } from 'mercadopago/dist/utils/config/index.js';
import type { PaymentSnapshot } from './checkout.ts';

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
  payment_methods: { excluded_payment_types: { id: string }[] };
  statement_descriptor: string;
  shipments?: { receiver_address: Record<string, string> };
}

export interface CreatedPreference {
  id: string;
  init_point: string;
  sandbox_init_point: string;
}

export interface MercadoPagoApi {
  createPreference(body: PreferenceRequest, idempotencyKey: string): Promise<CreatedPreference>;
  getPayment(id: string): Promise<PaymentSnapshot>;
  refundPayment(id: number, idempotencyKey: string): Promise<{ id: string }>;
}

/** MercadoPago could not be reached or failed (5xx, time-out): try again later. */
export class MercadoPagoUnavailable extends Error {
  override name = 'MercadoPagoUnavailable';
}

/** MercadoPago answered no (4xx). */
export class MercadoPagoRejected extends Error {
  override name = 'MercadoPagoRejected';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

function classify(err: unknown): Error {
  const status = typeof (err as { status?: unknown })?.status === 'number' ? (err as { status: number }).status : 0;
  const message = err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
  if (status >= 400 && status < 500 && status !== 429) return new MercadoPagoRejected(message, status);
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
  return {
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
        const p = await payment.get({ id });
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
        };
      } catch (err) {
        throw classify(err);
      }
    },
    async refundPayment(id, idempotencyKey) {
      try {
        const r = await refunds.create({ payment_id: id, body: {}, requestOptions: { idempotencyKey } });
        return { id: String(r.id) };
      } catch (err) {
        throw classify(err);
      }
    },
  };
}
