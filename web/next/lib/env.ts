/**
 * The storefront's configuration, read on the server at run time (never
 * `NEXT_PUBLIC_`: nothing here is sent to the browser, not even the anon key,
 * since every Supabase call is made by the server).
 *
 *   SUPABASE_URL         the project (locally: the stack's API, http://127.0.0.1:54321)
 *   SUPABASE_ANON_KEY    its anon (publishable) key
 *   SUPABASE_SECRET_KEY  its secret key (`sb_secret_…`), optional: with it the
 *                        server forwards each shopper's address to Supabase
 *                        (Auth's rate limits, the checkouts' cap per address),
 *                        and nothing else; without it every shopper counts
 *                        under this server's address. Server-only.
 *   SITE_URL             this storefront's public URL; MercadoPago sends the buyer
 *                        back to SITE_URL/checkout/return (one of the project's
 *                        CHECKOUT_RETURN_URLS)
 *   TRUSTED_PROXIES      read by server.mjs: who may tell it the shopper's address
 */
import type { StorefrontServerEnv } from '@mp-checkout/storefront/server';

export interface StorefrontEnv {
  supabaseUrl: string;
  supabaseAnonKey: string;
  secretKey: string | undefined;
  siteUrl: string | undefined;
}

export function storefrontEnv(): StorefrontEnv {
  const supabaseUrl = process.env['SUPABASE_URL'];
  const supabaseAnonKey = process.env['SUPABASE_ANON_KEY'];
  if (!supabaseUrl || !supabaseAnonKey) {
    throw new Error('Set SUPABASE_URL and SUPABASE_ANON_KEY for the storefront (npm start sets them).');
  }
  const siteUrl = process.env['SITE_URL']?.replace(/\/+$/, '') || undefined;
  return { supabaseUrl, supabaseAnonKey, secretKey: process.env['SUPABASE_SECRET_KEY'] || undefined, siteUrl };
}

/**
 * The library's settings for one request: the project, and the shopper's
 * address to forward. server.mjs sets X-Forwarded-For to that address on
 * every request (its trust rule: a trusted proxy's word, else the
 * connection's address), so its first entry is the shopper.
 */
export function serverEnv(env: StorefrontEnv, requestHeaders: Headers): StorefrontServerEnv {
  const { supabaseUrl, supabaseAnonKey, secretKey } = env;
  const address = requestHeaders.get('x-forwarded-for')?.split(',')[0]?.trim();
  return { supabaseUrl, supabaseAnonKey, ...(secretKey ? { forwardShopperAddress: { secretKey, address } } : {}) };
}
