/**
 * The storefront's configuration, read on the server at run time (never
 * `NEXT_PUBLIC_`: nothing here is sent to the browser, not even the anon key,
 * since every Supabase call is made by the server).
 *
 *   SUPABASE_URL       the project (locally: the stack's API, http://127.0.0.1:54321)
 *   SUPABASE_ANON_KEY  its anon (publishable) key
 *   SITE_URL           this storefront's public URL; MercadoPago sends the buyer
 *                      back to SITE_URL/checkout/return (one of the project's
 *                      CHECKOUT_RETURN_URLS)
 */
export interface StorefrontEnv {
  supabaseUrl: string;
  supabaseAnonKey: string;
  siteUrl: string | undefined;
}

export function storefrontEnv(): StorefrontEnv {
  const supabaseUrl = process.env['SUPABASE_URL'];
  const supabaseAnonKey = process.env['SUPABASE_ANON_KEY'];
  if (!supabaseUrl || !supabaseAnonKey) {
    throw new Error('Set SUPABASE_URL and SUPABASE_ANON_KEY for the storefront (npm start sets them).');
  }
  const siteUrl = process.env['SITE_URL']?.replace(/\/+$/, '') || undefined;
  return { supabaseUrl, supabaseAnonKey, siteUrl };
}
