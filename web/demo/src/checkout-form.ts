/**
 * The checkout form as the shopper last submitted it (payer and shipping
 * address, never the coupon), kept in sessionStorage so that a return from
 * MercadoPago with a rejected card finds it filled in. It is personal data:
 * cleared as soon as the checkout is over (the order placed, the reservation
 * expired or cancelled) and when the shopper's session ends.
 */
const KEY = 'storefront:checkout-form';

export function loadCheckoutForm<T extends object>(): Partial<T> {
  try {
    const v: unknown = JSON.parse(sessionStorage.getItem(KEY) ?? '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Partial<T>) : {};
  } catch {
    return {};
  }
}

export function saveCheckoutForm(form: object): void {
  sessionStorage.setItem(KEY, JSON.stringify(form));
}

export function clearCheckoutForm(): void {
  sessionStorage.removeItem(KEY);
}
