/**
 * In-memory state of one sandbox: preferences, payments, merchant orders and
 * the idempotency cache. Ids look like MercadoPago's (large integers, and
 * `<collector_id>-<uuid>` for preferences).
 */
import type { ChargebackRecord, ClaimRecord, MerchantOrderRecord, PaymentRecord, PreferenceRecord } from './types.ts';

export interface CachedResponse {
  fingerprint: string;
  status: number;
  body: unknown;
}

/** The first id of a run: above `floor`, and above every id of the runs before this one. */
export function idSeed(floor: number, nowMs: number = Date.now()): number {
  return floor + Math.floor((nowMs - Date.UTC(2026, 0, 1)) / 10);
}

export class Store {
  readonly preferences = new Map<string, PreferenceRecord>();
  readonly payments = new Map<number, PaymentRecord>();
  readonly merchantOrders = new Map<number, MerchantOrderRecord>();
  readonly chargebacks = new Map<string, ChargebackRecord>();
  readonly claims = new Map<number, ClaimRecord>();
  /** Fraud alerts sent (stop_delivery_op_wh), for the state dump. */
  readonly fraudAlerts: Array<{ paymentId: number; merchantOrderId: number; description: string; at: number }> = [];
  readonly idempotency = new Map<string, CachedResponse>();
  // Seeded from the clock (a hundredth of a second per id), so a restarted
  // sandbox never hands out an id an earlier run gave (the database keeps
  // orders by payment id across restarts of npm start) unless that run made
  // more than 100 payments a second over its whole life.
  private nextPaymentId = idSeed(1_320_000_001);
  private nextMerchantOrderId = idSeed(20_000_000_001);
  private nextRefundId = idSeed(1_600_000_001);
  private nextChargebackId = idSeed(2_330_000_000_001);
  private nextClaimId = idSeed(5_250_000_001);

  paymentId(): number {
    return this.nextPaymentId++;
  }
  merchantOrderId(): number {
    return this.nextMerchantOrderId++;
  }
  refundId(): number {
    return this.nextRefundId++;
  }
  /** Chargeback ids are digit strings, as MercadoPago's (which may exceed a JSON-safe integer). */
  chargebackId(): string {
    return String(this.nextChargebackId++);
  }
  claimId(): number {
    return this.nextClaimId++;
  }

  /** Forgets every record. Ids keep increasing so a reset never reuses one. */
  clear(): void {
    this.preferences.clear();
    this.payments.clear();
    this.merchantOrders.clear();
    this.chargebacks.clear();
    this.claims.clear();
    this.fraudAlerts.length = 0;
    this.idempotency.clear();
  }
}
