/** The storefront's configuration (from /env.js) and its one client. */
import { createClient } from '@supabase/supabase-js';
import { COUNTRIES, createStorefront, type Database, type SiteId } from '../../src/index.ts';
import { type CaptchaSettings, captchaTokenGetter } from './captcha.ts';
import { clearCheckoutForm } from './checkout-form.ts';
import { clearPendingCheckout } from './pending-checkout.ts';

export interface StorefrontEnv {
  supabaseUrl: string;
  supabaseAnonKey: string;
  functionsUrl?: string;
  /** Present when the project has CAPTCHA on: the widget's provider and site key. */
  captcha?: CaptchaSettings;
  /** The store's country (private.settings.site_id) and locale: money and dates, the payer's identification types. */
  siteId: SiteId;
  locale: string;
}

declare global {
  interface Window {
    __STOREFRONT_ENV__?: Partial<StorefrontEnv>;
  }
}

export function readEnv(): StorefrontEnv | null {
  const env = window.__STOREFRONT_ENV__;
  if (!env?.supabaseUrl || !env.supabaseAnonKey) return null;
  const captcha = env.captcha && (env.captcha.provider === 'turnstile' || env.captcha.provider === 'hcaptcha') && env.captcha.siteKey
    ? { provider: env.captcha.provider, siteKey: env.captcha.siteKey }
    : undefined;
  const siteId = env.siteId && env.siteId in COUNTRIES ? env.siteId : 'MLA';
  return {
    supabaseUrl: env.supabaseUrl,
    supabaseAnonKey: env.supabaseAnonKey,
    siteId,
    locale: env.locale ?? COUNTRIES[siteId].locale,
    ...(env.functionsUrl ? { functionsUrl: env.functionsUrl } : {}),
    ...(captcha ? { captcha } : {}),
  };
}

export function makeStorefront(env: StorefrontEnv) {
  // The session (an anonymous Supabase user) persists in localStorage, so a
  // reload keeps the cart. Realtime is not used by the demo.
  const supabase = createClient<Database>(env.supabaseUrl, env.supabaseAnonKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
  });
  // The shopper's session ended (signed out, or its user is gone): nothing
  // of the checkout may outlive it in this browser.
  supabase.auth.onAuthStateChange((event) => {
    if (event === 'SIGNED_OUT') {
      clearCheckoutForm();
      clearPendingCheckout();
    }
  });
  return createStorefront({
    supabase,
    // The library's validation messages in the store's language.
    locale: env.locale,
    ...(env.functionsUrl ? { functionsUrl: env.functionsUrl } : {}),
    ...(env.captcha ? { captchaToken: captchaTokenGetter(env.captcha) } : {}),
  });
}
