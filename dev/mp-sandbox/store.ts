/**
 * In-memory state of one sandbox: preferences, payments, merchant orders and
 * the idempotency cache. Ids look like MercadoPago's (large integers, and
 * `<collector_id>-<uuid>` for preferences).
 */
import type { MerchantOrderRecord, PaymentRecord, PreferenceRecord } from './types.ts';

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
  readonly idempotency = new Map<string, CachedResponse>();
  // Seeded from the clock (a hundredth of a second per id), so a restarted
  // sandbox never hands out an id an earlier run gave (the database keeps
  // orders by payment id across restarts of npm start) unless that run made
  // more than 100 payments a second over its whole life.
  private nextPaymentId = idSeed(1_320_000_001);
  private nextMerchantOrderId = idSeed(20_000_000_001);
  private nextRefundId = idSeed(1_600_000_001);

  paymentId(): number {
    return this.nextPaymentId++;
  }
  merchantOrderId(): number {
    return this.nextMerchantOrderId++;
  }
  refundId(): number {
    return this.nextRefundId++;
  }

  /** Forgets every record. Ids keep increasing so a reset never reuses one. */
  clear(): void {
    this.preferences.clear();
    this.payments.clear();
    this.merchantOrders.clear();
    this.idempotency.clear();
  }

  paymentsOf(preferenceId: string): PaymentRecord[] {
    return [...this.payments.values()].filter((p) => p.preferenceId === preferenceId);
  }
}
