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
 *   STORE_SITE_ID        the store's country, as private.settings.site_id (MLA, MLB,
 *                        MLM...; default MLA): its locale and time zone
 *   STORE_LOCALE         private.settings.locale when it is not the country's
 *                        (e.g. es-AR texts in Uruguay); default the country's
 *   STORE_TIME_ZONE      dates' time zone; default the country's capital's
 * The store has one language: every page is in it (es-AR, es-MX or pt-BR, the
 * nearest to the locale), whatever the browser's Accept-Language says.
 */
import { COUNTRIES, type SiteId } from '@mp-checkout/storefront';
import type { StorefrontServerEnv } from '@mp-checkout/storefront/server';

/** Each site's time zone for dates (its capital's); STORE_TIME_ZONE overrides it. */
const TIME_ZONES: Record<SiteId, string> = {
  MLA: 'America/Argentina/Buenos_Aires',
  MLB: 'America/Sao_Paulo',
  MLM: 'America/Mexico_City',
  MLC: 'America/Santiago',
  MCO: 'America/Bogota',
  MPE: 'America/Lima',
  MLU: 'America/Montevideo',
};

export interface StorefrontEnv extends StoreLocale {
  supabaseUrl: string;
  supabaseAnonKey: string;
  secretKey: string | undefined;
  siteUrl: string | undefined;
}

export interface StoreLocale {
  siteId: SiteId;
  /** The store's locale: the pages' language (`<html lang>`), money and dates. */
  locale: string;
  timeZone: string;
}

/** The store's country, locale and time zone (STORE_SITE_ID, STORE_LOCALE, STORE_TIME_ZONE). */
export function storeLocale(): StoreLocale {
  const site = (process.env['STORE_SITE_ID'] || 'MLA').toUpperCase();
  if (!(site in COUNTRIES)) throw new Error(`STORE_SITE_ID must be one of ${Object.keys(COUNTRIES).join(', ')} (private.settings.site_id), not ${site}.`);
  const siteId = site as SiteId;
  return {
    siteId,
    locale: process.env['STORE_LOCALE'] || COUNTRIES[siteId].locale,
    timeZone: process.env['STORE_TIME_ZONE'] || TIME_ZONES[siteId],
  };
}

export function storefrontEnv(): StorefrontEnv {
  const supabaseUrl = process.env['SUPABASE_URL'];
  const supabaseAnonKey = process.env['SUPABASE_ANON_KEY'];
  if (!supabaseUrl || !supabaseAnonKey) {
    throw new Error('Set SUPABASE_URL and SUPABASE_ANON_KEY for the storefront (npm start sets them).');
  }
  const siteUrl = process.env['SITE_URL']?.replace(/\/+$/, '') || undefined;
  return { supabaseUrl, supabaseAnonKey, secretKey: process.env['SUPABASE_SECRET_KEY'] || undefined, siteUrl, ...storeLocale() };
}

/**
 * The library's settings for one request: the project, and the shopper's
 * address to forward. server.mjs sets X-Forwarded-For to that address on
 * every request (its trust rule: a trusted proxy's word, else the
 * connection's address), so its first entry is the shopper.
 */
export function serverEnv(env: StorefrontEnv, requestHeaders: Headers): StorefrontServerEnv {
  const { supabaseUrl, supabaseAnonKey, secretKey, locale } = env;
  const address = requestHeaders.get('x-forwarded-for')?.split(',')[0]?.trim();
  // locale: the library's validation messages in the store's language.
  return { supabaseUrl, supabaseAnonKey, locale, ...(secretKey ? { forwardShopperAddress: { secretKey, address } } : {}) };
}
