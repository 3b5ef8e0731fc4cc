'use server';
/**
 * The cart's and the checkout's Server Actions. Each is a plain form post, so
 * it works with JavaScript off (the browser follows the redirect that ends
 * it); with JavaScript on, Next.js runs the same action without a reload.
 */
import { headers } from 'next/headers';
import { redirect } from 'next/navigation';
import { storefrontEnv } from '../lib/env';
import { errorCode, fieldErrors, messageFor } from '../lib/messages';
import { actionStorefront } from '../lib/session';
import { CHECKOUT_FIELDS, type CheckoutFormState } from './checkout-form-state';

const text = (form: FormData, name: string) => {
  const v = form.get(name);
  return typeof v === 'string' ? v : '';
};

/** Only our own pages, never an open redirect. */
const back = (form: FormData, fallback: string) => {
  const to = text(form, 'back');
  return to === '/' || to === '/cart' ? to : fallback;
};

const withQuery = (path: string, query: Record<string, string>) => `${path}?${new URLSearchParams(query).toString()}`;

/** Runs one cart change for the shopper, then back to the page it came from with what happened. */
async function cartChange(form: FormData, fallback: string, change: (s: Awaited<ReturnType<typeof actionStorefront>>['storefront']) => Promise<unknown>) {
  const s = await actionStorefront();
  const sku = text(form, 'sku');
  let outcome: Record<string, string>;
  try {
    await change(s.storefront);
    outcome = { ok: sku || '1' };
  } catch (err) {
    outcome = { error: errorCode(err), ...(sku ? { sku } : {}) };
  }
  s.commit();
  redirect(withQuery(back(form, fallback), outcome));
}

export async function addToCart(form: FormData): Promise<void> {
  await cartChange(form, '/', (store) => store.cart.add(text(form, 'variantId'), Number(text(form, 'quantity') || '1')));
}

export async function setQuantity(form: FormData): Promise<void> {
  await cartChange(form, '/cart', (store) => store.cart.setQuantity(text(form, 'variantId'), Number(text(form, 'quantity'))));
}

export async function removeFromCart(form: FormData): Promise<void> {
  await cartChange(form, '/cart', (store) => store.cart.remove(text(form, 'variantId')));
}

export async function clearCart(form: FormData): Promise<void> {
  await cartChange(form, '/cart', (store) => store.cart.clear());
}

/** Where MercadoPago sends the buyer back: SITE_URL, else this request's own origin. */
async function returnUrl(): Promise<string> {
  const site = storefrontEnv().siteUrl;
  if (site) return `${site}/checkout/return`;
  const h = await headers();
  const proto = h.get('x-forwarded-proto') ?? 'http';
  return `${proto}://${h.get('host') ?? 'localhost'}/checkout/return`;
}

/**
 * Reserves the cart (create-preference, from this server with the shopper's
 * token) and sends the buyer to MercadoPago. A refused form comes back with
 * its values and a message per field.
 */
export async function checkout(_prev: CheckoutFormState, form: FormData): Promise<CheckoutFormState> {
  const values = Object.fromEntries(CHECKOUT_FIELDS.map((f) => [f, text(form, f)]));
  const s = await actionStorefront();
  let to: string;
  try {
    const r = await s.storefront.checkout({
      payer: { email: values['email'] ?? '', name: values['name'] ?? '', surname: values['surname'] || undefined },
      shippingAddress: {
        streetName: values['streetName'] ?? '',
        streetNumber: values['streetNumber'] ?? '',
        zipCode: values['zipCode'] ?? '',
        city: values['city'] ?? '',
      },
      coupon: values['coupon'] || undefined,
      returnUrl: await returnUrl(),
    });
    to = r.redirectUrl;
  } catch (err) {
    s.commit();
    const code = errorCode(err);
    return { values, fields: fieldErrors(err), code, message: messageFor(code) };
  }
  s.commit();
  redirect(to);
}
