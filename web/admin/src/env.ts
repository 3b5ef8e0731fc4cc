/** The dashboard's configuration (/env.js, the same file the storefront reads): the project URL and the anon key. Never the service role key. */
export interface AdminEnv {
  supabaseUrl: string;
  supabaseAnonKey: string;
  /** The store's locale (private.settings.locale): money and dates are formatted in it (the texts are es-AR). */
  locale: string;
}

export function readEnv(): AdminEnv | null {
  const env = (window as unknown as { __STOREFRONT_ENV__?: Partial<AdminEnv> }).__STOREFRONT_ENV__;
  if (!env?.supabaseUrl || !env.supabaseAnonKey) return null;
  return { supabaseUrl: env.supabaseUrl, supabaseAnonKey: env.supabaseAnonKey, locale: env.locale ?? 'es-AR' };
}
