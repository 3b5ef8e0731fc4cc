/**
 * The last checkout started in this browser (MercadoPago's init_point and the
 * reservation's expiry), so the store can offer "continue paying", retry after
 * a rejection on the same preference, and tell the shopper when it expired.
 */
import type { CheckoutResult } from '../../src/index.ts';

const KEY = 'storefront:pending-checkout';

export interface PendingCheckout {
  token: string;
  preferenceId: string;
  redirectUrl: string;
  expiresAt: string;
  total: number;
  currency: string;
}

export function savePendingCheckout(r: CheckoutResult): PendingCheckout {
  const p: PendingCheckout = {
    token: r.orderSession.token,
    preferenceId: r.preferenceId,
    redirectUrl: r.redirectUrl,
    expiresAt: r.orderSession.expires_at,
    total: r.orderSession.total,
    currency: r.orderSession.currency,
  };
  localStorage.setItem(KEY, JSON.stringify(p));
  return p;
}

export function loadPendingCheckout(): PendingCheckout | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const p = JSON.parse(raw) as Partial<PendingCheckout>;
    if (typeof p.token !== 'string' || typeof p.redirectUrl !== 'string' || typeof p.expiresAt !== 'string') return null;
    return p as PendingCheckout;
  } catch {
    return null;
  }
}

export function clearPendingCheckout(): void {
  localStorage.removeItem(KEY);
}
