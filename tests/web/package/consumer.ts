/**
 * A store's code against the installed package (tests/web/package.test.ts
 * copies this file into an empty folder where the tarball is installed and
 * typechecks it there). The `@ts-expect-error` lines fail the check if the
 * package's types were missing or `any`.
 */
import { createClient } from '@supabase/supabase-js';
import {
  type Cart,
  checkoutErrorTexts,
  createStorefront,
  type Database,
  InsufficientStockError,
  StorefrontError,
  validationMessages,
} from '@mp-checkout/storefront';
import {
  createStorefrontServerClient,
  serverRealtimeOptions,
  SESSION_COOKIE_MAX_AGE,
  shopperAddressFetch,
  type ShopperAddressForwarding,
} from '@mp-checkout/storefront/server';

const browser = createStorefront({ supabase: createClient<Database>('http://127.0.0.1:1', 'anon', { realtime: serverRealtimeOptions() }), locale: 'pt-BR' });
const texts: string = checkoutErrorTexts('pt-BR')['empty_cart'] ?? validationMessages('es-MX').enterName;
void texts;
// @ts-expect-error a validation message the library does not have
void validationMessages('pt-BR').no_such_message;
const { storefront, cookies } = createStorefrontServerClient(new Request('http://shop.test/'), new Headers(), {
  supabaseUrl: 'http://127.0.0.1:1',
  supabaseAnonKey: 'anon',
  locale: 'es-MX',
  forwardShopperAddress: { secretKey: 'sb_secret_x', address: '203.0.113.7' },
});
// @ts-expect-error forwarding needs the secret key
const noKey: ShopperAddressForwarding = { address: '1.2.3.4' };
void noKey;
const forwardingFetch: typeof fetch = shopperAddressFetch({ supabaseUrl: 'http://127.0.0.1:1', supabaseAnonKey: 'anon' }, {
  secretKey: 's',
  address: undefined,
});
void forwardingFetch;

export async function use(): Promise<number> {
  const cart: Cart = await storefront.cart.get();
  // @ts-expect-error quantities are numbers
  await browser.cart.add('00000000-0000-4000-8000-000000000201', 'two');
  // @ts-expect-error a cart has no such field
  void cart.no_such_field;
  const maxAge: number = cookies()[0]?.options.maxAge ?? SESSION_COOKIE_MAX_AGE;
  const err: StorefrontError = new InsufficientStockError('none left', []);
  return cart.lines.length + maxAge + (err.status ?? 0);
}
