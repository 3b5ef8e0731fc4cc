/**
 * Configuration, validated once at start-up. A function that is missing a
 * secret fails at boot with a message naming it, not at the first request.
 *
 * Supabase provides SUPABASE_URL, SUPABASE_DB_URL, SUPABASE_ANON_KEY and
 * SUPABASE_SERVICE_ROLE_KEY to every function; the rest are secrets set with
 * `supabase secrets set`.
 */
import { z } from 'zod';

const list = (fallback: string[]) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined ? fallback : v.split(',').map((s) => s.trim()).filter(Boolean)));

const EnvSchema = z
  .object({
    SUPABASE_URL: z.url(),
    SUPABASE_DB_URL: z.string().min(1),
    SUPABASE_SERVICE_ROLE_KEY: z.string().min(1),
    // HS256 projects: the JWT secret. Asymmetric keys: SUPABASE_JWKS (a JSON
    // Web Key Set); when neither is set, keys come from SUPABASE_URL's JWKS.
    SUPABASE_JWT_SECRET: z.string().min(1).optional(),
    JWT_SECRET: z.string().min(1).optional(),
    SUPABASE_JWKS: z.string().min(1).optional(),
    MP_ACCESS_TOKEN: z.string().regex(/^(TEST|APP_USR)-/, 'must be a MercadoPago access token (TEST-... or APP_USR-...)'),
    MP_WEBHOOK_SECRET: z.string().min(8),
    MP_API_BASE_URL: z.url().default('https://api.mercadopago.com'),
    MP_TIMEOUT_MS: z.coerce.number().int().min(100).max(20_000).default(8_000),
    MP_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).default(600),
    MP_EXCLUDED_PAYMENT_TYPES: list(['ticket', 'atm']),
    MP_STATEMENT_DESCRIPTOR: z.string().max(22).default('TIENDA ONLINE'),
    STORE_NAME: z.string().default('Tienda'),
    // Where MercadoPago sends the buyer back, and where it posts webhooks.
    CHECKOUT_RETURN_URL: z.url().optional(),
    SITE_URL: z.url().default('http://127.0.0.1:5173'),
    FUNCTIONS_URL: z.url().optional(),
    ALLOWED_ORIGINS: z.string().default('*'),
  })
  .transform((env) => ({
    supabaseUrl: env.SUPABASE_URL.replace(/\/$/, ''),
    dbUrl: env.SUPABASE_DB_URL,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
    jwtSecret: env.SUPABASE_JWT_SECRET ?? env.JWT_SECRET,
    jwks: env.SUPABASE_JWKS,
    mp: {
      accessToken: env.MP_ACCESS_TOKEN,
      webhookSecret: env.MP_WEBHOOK_SECRET,
      baseUrl: env.MP_API_BASE_URL.replace(/\/$/, ''),
      timeoutMs: env.MP_TIMEOUT_MS,
      webhookToleranceSeconds: env.MP_WEBHOOK_TOLERANCE_SECONDS,
      excludedPaymentTypes: env.MP_EXCLUDED_PAYMENT_TYPES,
      statementDescriptor: env.MP_STATEMENT_DESCRIPTOR,
    },
    storeName: env.STORE_NAME,
    returnUrl: env.CHECKOUT_RETURN_URL ?? `${env.SITE_URL.replace(/\/$/, '')}/checkout/return`,
    functionsUrl: (env.FUNCTIONS_URL ?? `${env.SUPABASE_URL.replace(/\/$/, '')}/functions/v1`).replace(/\/$/, ''),
  }));

export type Config = z.output<typeof EnvSchema>;

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}
