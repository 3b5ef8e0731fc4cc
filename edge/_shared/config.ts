/**
 * Configuration, validated once at start-up. A function that is missing a
 * secret fails at boot with a message naming it, not at the first request.
 *
 * Supabase provides SUPABASE_URL, SUPABASE_DB_URL, SUPABASE_ANON_KEY,
 * SUPABASE_SERVICE_ROLE_KEY and SUPABASE_SECRET_KEYS to every function; the rest are secrets set with
 * `supabase secrets set`.
 */
import { z } from 'zod';

const list = (fallback: string[]) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined ? fallback : v.split(',').map((s) => s.trim()).filter(Boolean)));

/** SUPABASE_SECRET_KEYS: a JSON object of name to secret key (`{"default":"sb_secret_…"}`), as its keys. */
const secretKeyDictionary = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of secret keys, e.g. {"default":"sb_secret_..."}' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), z.string()))
  .optional()
  .transform((keys) => Object.values(keys ?? {}).filter((k) => k !== ''));

/** What every function needs: the project, the database, token verification. */
const BaseEnv = z.object({
  SUPABASE_URL: z.url(),
  // The connection the functions use. On hosted Supabase give them the
  // pooler's transaction-mode URL (Supavisor, port 6543) as CHECKOUT_DB_URL;
  // SUPABASE_DB_URL (the direct connection Supabase provides) is the fallback.
  CHECKOUT_DB_URL: z.string().min(1).optional(),
  SUPABASE_DB_URL: z.string().min(1).optional(),
  // Connections one function instance (isolate) may hold: instances x this
  // must stay under the pooler's pool size (or max_connections when direct).
  CHECKOUT_DB_POOL_MAX: z.coerce.number().int().min(1).max(50).default(3),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1),
  // The project's secret API keys (`sb_secret_…`), a JSON object of name to
  // key that Supabase gives every function: a request whose apikey is one of
  // them may forward its end user's address (client-address.ts).
  SUPABASE_SECRET_KEYS: secretKeyDictionary,
  // HS256 projects: the legacy JWT secret, as a secret of our own (names
  // starting with SUPABASE_ are reserved by the CLI); SUPABASE_JWT_SECRET is
  // read when the platform provides it. Asymmetric keys: SUPABASE_JWKS, and
  // the project's JWKS endpoint for keys rotated in later.
  JWT_SECRET: z.string().min(32, "must be the project's JWT secret (32+ characters)").optional(),
  SUPABASE_JWT_SECRET: z.string().min(32).optional(),
  SUPABASE_JWKS: z.string().min(1).optional(),
  STORE_NAME: z.string().default('Tienda'),
  SITE_URL: z.url().default('http://127.0.0.1:5173'),
  // Where MercadoPago sends the buyer back, and where it posts webhooks.
  CHECKOUT_RETURN_URL: z.url().optional(),
  // Other return pages a checkout may ask for (create-preference's
  // `return_url`), e.g. a second storefront: exact URLs, comma-separated.
  CHECKOUT_RETURN_URLS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const urls = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      for (const u of urls) if (!z.url().safeParse(u).success) ctx.addIssue({ code: 'custom', message: `not a URL: ${u}` });
      return urls;
    }),
  FUNCTIONS_URL: z.url().optional(),
  // Reconciliation: how far back closed sessions are asked about, and how
  // much one run does (the rest waits for the next minute).
  RECONCILE_WINDOW_HOURS: z.coerce.number().int().min(1).max(24 * 30).default(48),
  RECONCILE_BATCH: z.coerce.number().int().min(1).max(500).default(50),
  NOTIFICATION_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(120),
  // A part of a two-card payment whose other part never came is owed back
  // this long after the session's hold ended.
  RECONCILE_UNPAIRED_GRACE_MINUTES: z.coerce.number().int().min(0).max(24 * 60).default(30),
  // The header that carries the caller's address, set by the gateway in front
  // of the functions (README, "Abuse protection": the trust rule). Its first
  // entry is the client.
  CLIENT_IP_HEADER: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be a header name').default('x-forwarded-for'),
}).refine((env) => env.CHECKOUT_DB_URL ?? env.SUPABASE_DB_URL, { message: 'set CHECKOUT_DB_URL (or SUPABASE_DB_URL)', path: ['CHECKOUT_DB_URL'] });

/** The functions that talk to MercadoPago also need these. */
const MercadoPagoEnv = z.object({
  MP_ACCESS_TOKEN: z.string().regex(/^(TEST|APP_USR)-/, 'must be a MercadoPago access token (TEST-... or APP_USR-...)'),
  MP_WEBHOOK_SECRET: z.string().min(8),
  MP_API_BASE_URL: z.url().default('https://api.mercadopago.com'),
  MP_TIMEOUT_MS: z.coerce.number().int().min(100).max(20_000).default(8_000),
  MP_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).default(600),
  // Notifications one webhook instance keeps waiting for a database connection;
  // past it a new one is answered 503 at once and MercadoPago sends it again
  // (edge/mercadopago-webhook/gate.ts). Unset: no bound (measured: a bound did
  // not lower the burst's peak RSS, docs/performance.md).
  MP_WEBHOOK_MAX_WAITING: z.coerce.number().int().min(0).max(100_000).optional(),
  // Nothing excluded: cash tickets, ATM and transfers (Pix) are how a large
  // share of buyers pay (docs/offline-payments.md). E.g. `ticket,atm` for cards only.
  MP_EXCLUDED_PAYMENT_TYPES: list([]),
  // How long a cash ticket or ATM payment stays payable: the preference's
  // date_of_expiration (MercadoPago recommends at least 3 days).
  MP_TICKET_EXPIRATION_DAYS: z.coerce.number().int().min(1).max(30).default(3),
  MP_STATEMENT_DESCRIPTOR: z.string().max(22).default('TIENDA ONLINE'),
  // The most installments the preference offers (payment_methods.installments);
  // unset: MercadoPago's default for the account.
  MP_MAX_INSTALLMENTS: z.coerce.number().int().min(1).max(36).optional(),
});

function baseConfig(env: z.output<typeof BaseEnv>) {
  const supabaseUrl = env.SUPABASE_URL.replace(/\/$/, '');
  return {
    supabaseUrl,
    dbUrl: (env.CHECKOUT_DB_URL ?? env.SUPABASE_DB_URL)!,
    dbPoolMax: env.CHECKOUT_DB_POOL_MAX,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
    /** The secret API keys: their holders may forward the end user's address (Sb-Forwarded-For). */
    secretKeys: env.SUPABASE_SECRET_KEYS,
    jwtSecret: env.JWT_SECRET ?? env.SUPABASE_JWT_SECRET,
    jwks: env.SUPABASE_JWKS,
    /** The `iss` of the project's access tokens. */
    issuer: `${supabaseUrl}/auth/v1`,
    storeName: env.STORE_NAME,
    reconcile: {
      windowHours: env.RECONCILE_WINDOW_HOURS,
      sessionLimit: env.RECONCILE_BATCH,
      refundLimit: env.RECONCILE_BATCH,
      preferenceLimit: env.RECONCILE_BATCH,
      /** How long a pass holds a stored fraud alert, chargeback or claim before another may take it over. */
      notificationLeaseSeconds: env.NOTIFICATION_LEASE_SECONDS,
      unpairedGraceMinutes: env.RECONCILE_UNPAIRED_GRACE_MINUTES,
    },
    returnUrl: env.CHECKOUT_RETURN_URL ?? `${env.SITE_URL.replace(/\/$/, '')}/checkout/return`,
    /** The return pages a checkout may choose with `return_url` (returnUrl is always allowed). */
    returnUrls: env.CHECKOUT_RETURN_URLS,
    functionsUrl: (env.FUNCTIONS_URL ?? `${supabaseUrl}/functions/v1`).replace(/\/$/, ''),
    clientIpHeader: env.CLIENT_IP_HEADER.toLowerCase(),
  };
}

function mercadoPagoConfig(env: z.output<typeof MercadoPagoEnv>) {
  return {
    accessToken: env.MP_ACCESS_TOKEN,
    webhookSecret: env.MP_WEBHOOK_SECRET,
    baseUrl: env.MP_API_BASE_URL.replace(/\/$/, ''),
    timeoutMs: env.MP_TIMEOUT_MS,
    webhookToleranceSeconds: env.MP_WEBHOOK_TOLERANCE_SECONDS,
    webhookMaxWaiting: env.MP_WEBHOOK_MAX_WAITING,
    excludedPaymentTypes: env.MP_EXCLUDED_PAYMENT_TYPES,
    ticketExpirationDays: env.MP_TICKET_EXPIRATION_DAYS,
    statementDescriptor: env.MP_STATEMENT_DESCRIPTOR,
    maxInstallments: env.MP_MAX_INSTALLMENTS,
  };
}

export type BaseConfig = ReturnType<typeof baseConfig>;
export type MercadoPagoConfig = ReturnType<typeof mercadoPagoConfig>;
/** The configuration of a function that talks to MercadoPago. */
export type Config = BaseConfig & { mp: MercadoPagoConfig };

function parse<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/** What a function that does not call MercadoPago needs (the admin function). */
export function loadBaseConfig(env: Record<string, string | undefined>): BaseConfig {
  return baseConfig(parse(BaseEnv, env));
}

/** Everything, for the functions that call MercadoPago. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const base = loadBaseConfig(env);
  return { ...base, mp: mercadoPagoConfig(parse(MercadoPagoEnv, env)) };
}
