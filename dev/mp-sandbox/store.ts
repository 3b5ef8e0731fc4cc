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

export class Store {
  readonly preferences = new Map<string, PreferenceRecord>();
  readonly payments = new Map<number, PaymentRecord>();
  readonly merchantOrders = new Map<number, MerchantOrderRecord>();
  readonly idempotency = new Map<string, CachedResponse>();
  private nextPaymentId = 1_320_000_001;
  private nextMerchantOrderId = 20_000_000_001;
  private nextRefundId = 1_600_000_001;

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
