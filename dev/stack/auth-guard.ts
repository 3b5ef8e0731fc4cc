/**
 * What Supabase Auth does before it signs anyone in or up, for `npm start`:
 *
 * - `[auth.rate_limit]` (config.toml), per client address, as GoTrue does it
 *   (tollbooth token buckets, internal/api/apilimiter and token.go; keyed on
 *   the connection's address: X-Forwarded-For is ignored, GoTrue's default
 *   without GOTRUE_RATE_LIMIT_HEADER; with IP address forwarding on, a
 *   request made with a secret key counts under its `Sb-Forwarded-For`,
 *   `sbForwardedFor` below). Over a limit: 429
 *   `over_request_rate_limit`, "Request rate limit reached".
 *     anonymous_users (30)      anonymous sign-ins (POST /signup without an
 *                               email): a bucket of `anonymous_users`,
 *                               refilled at that many per hour;
 *     sign_in_sign_ups (30)     email sign-ups (POST /signup with an email)
 *                               and PUT /user, each its own bucket of 30
 *                               refilled at that many per 5 minutes (the
 *                               "sign-ins" of the setting are OTP and magic
 *                               links, which the stand-in does not do);
 *     token_refresh (150)       POST /token, password sign-ins and refreshes
 *                               in one bucket of 30 refilled at that many per
 *                               5 minutes;
 *     token_verifications (30)  /verify (not emulated: it answers
 *                               not_implemented, after the limit), a bucket
 *                               of 30 refilled at that many per 5 minutes.
 *   Every bucket but the anonymous one holds 30 whatever the setting, as
 *   GoTrue's (`SetBurst(30)`): the setting is the refill rate.
 * - `[auth.captcha]` (enabled, provider `turnstile` | `hcaptcha`, secret):
 *   the request's `gotrue_meta_security.captcha_token` is verified. Without
 *   network the stand-in cannot ask the provider, so it knows the outcomes
 *   the providers document for their test secret keys (Turnstile:
 *   `1x0000000000000000000000000000000AA` always passes,
 *   `2x0000000000000000000000000000000AA` always fails,
 *   `3x0000000000000000000000000000000AA` fails as "token already spent";
 *   hCaptcha: `0x0000000000000000000000000000000000000000` passes the test
 *   response token `10000000-aaaa-bbbb-cccc-000000000001` only). Any other
 *   secret is a real one: it would need the provider, so the answer is
 *   GoTrue's 500 "captcha verification process failed" saying why.
 *   Failures: 400 `captcha_failed`, "captcha protection: request disallowed
 *   (<reason>)", GoTrue's words.
 */
import { readFileSync } from 'node:fs';

export type CaptchaProvider = 'turnstile' | 'hcaptcha';

export interface CaptchaConfig {
  enabled: boolean;
  provider: CaptchaProvider;
  secret: string;
}

export interface AuthGuardConfig {
  /** Anonymous sign-ups per hour per IP (`[auth.rate_limit] anonymous_users`). */
  anonymousUsersPerHour: number;
  /** Email sign-ups (and PUT /user) per 5 minutes per IP (`sign_in_sign_ups`). */
  signInSignUpsPer5Minutes: number;
  /** POST /token (password sign-ins and refreshes) per 5 minutes per IP (`token_refresh`). */
  tokenRefreshPer5Minutes: number;
  /** /verify per 5 minutes per IP (`token_verifications`). */
  tokenVerificationsPer5Minutes: number;
  /**
   * What a bucket of the 5-minute limits holds: GoTrue's 30 (not a config.toml
   * key). Tests that sign in many users from one address raise it.
   */
  burst?: number;
  /**
   * IP address forwarding (hosted: Authentication > Rate Limits > "Enable IP
   * address forwarding", the Management API's
   * `security_sb_forwarded_for_enabled`; config.toml has no key for it, so
   * locally the Auth server's own variable
   * GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED=true). When on, a request made
   * with a secret API key counts under the address its `Sb-Forwarded-For`
   * names (edge/_shared/client-address.ts). Off by default, as for new
   * projects.
   */
  sbForwardedFor: boolean;
  captcha: CaptchaConfig;
}

/** Supabase's defaults (the CLI's config.toml template). */
export const DEFAULT_AUTH_GUARD: AuthGuardConfig = {
  anonymousUsersPerHour: 30,
  signInSignUpsPer5Minutes: 30,
  tokenRefreshPer5Minutes: 150,
  tokenVerificationsPer5Minutes: 30,
  sbForwardedFor: false,
  captcha: { enabled: false, provider: 'hcaptcha', secret: '' },
};

/** GoTrue's bucket size for every IP limit but anonymous sign-ins. */
const GOTRUE_BURST = 30;

/** The providers' documented test secret keys and the outcome each gives. */
export const CAPTCHA_TEST_KEYS = {
  turnstile: {
    alwaysPasses: '1x0000000000000000000000000000000AA',
    alwaysFails: '2x0000000000000000000000000000000AA',
    tokenAlreadySpent: '3x0000000000000000000000000000000AA',
    /** The token Turnstile's test site keys produce. */
    dummyToken: 'XXXX.DUMMY.TOKEN.XXXX',
    /** Test site keys (visible widget): always passes, always fails. */
    alwaysPassesSiteKey: '1x00000000000000000000AA',
    alwaysFailsSiteKey: '2x00000000000000000000AB',
  },
  hcaptcha: {
    secret: '0x0000000000000000000000000000000000000000',
    siteKey: '10000000-ffff-ffff-ffff-000000000001',
    /** The only response token the test secret accepts. */
    responseToken: '10000000-aaaa-bbbb-cccc-000000000001',
  },
} as const;

export type CaptchaOutcome = { ok: true } | { ok: false; status: 400 | 500; errorCode: string; message: string };

const disallowed = (reason: string): CaptchaOutcome => ({
  ok: false,
  status: 400,
  errorCode: 'captcha_failed',
  message: `captcha protection: request disallowed (${reason})`,
});

/** Verifies a CAPTCHA token the way the provider would answer for its test keys (no network). */
export function verifyCaptcha(config: CaptchaConfig, token: string | undefined): CaptchaOutcome {
  if (!config.enabled) return { ok: true };
  if (!token) return disallowed('no captcha_token found');
  const keys = CAPTCHA_TEST_KEYS;
  if (config.provider === 'turnstile') {
    if (config.secret === keys.turnstile.alwaysPasses) return { ok: true };
    if (config.secret === keys.turnstile.alwaysFails) return disallowed('invalid-input-response');
    if (config.secret === keys.turnstile.tokenAlreadySpent) return disallowed('timeout-or-duplicate');
  } else if (config.secret === keys.hcaptcha.secret) {
    return token === keys.hcaptcha.responseToken ? { ok: true } : disallowed('invalid-input-response');
  }
  return {
    ok: false,
    status: 500,
    errorCode: 'unexpected_failure',
    message: `captcha verification process failed: the Docker-free local stack has no network to reach ${
      config.provider === 'turnstile' ? 'Turnstile' : 'hCaptcha'
    } with a real secret. Locally, set [auth.captcha] secret to the provider's test secret key (see docs/abuse.md); the real secret works on hosted Supabase.`,
  };
}

/** A token bucket per key (GoTrue's tollbooth limiter): holds `capacity`, refilled at `refillPerMs`. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly capacity: number,
    private readonly refillPerMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one request for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    if (this.capacity <= 0) return false;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.capacity, at: t };
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.at) * this.refillPerMs);
    b.at = t;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.prune(t);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (t - b.at) * this.refillPerMs >= this.capacity) this.buckets.delete(k);
  }
}

/** The buckets the local Auth takes from, one set per API (auth.ts says which endpoint takes which). */
export interface AuthLimiters {
  anonymousSignIns: TokenBuckets;
  signUps: TokenBuckets;
  userUpdates: TokenBuckets;
  token: TokenBuckets;
  verify: TokenBuckets;
}

export function authLimiters(cfg: AuthGuardConfig, now: () => number = Date.now): AuthLimiters {
  const per5Minutes = (n: number) => new TokenBuckets(cfg.burst ?? GOTRUE_BURST, n / 300_000, now);
  return {
    anonymousSignIns: new TokenBuckets(cfg.anonymousUsersPerHour, cfg.anonymousUsersPerHour / 3_600_000, now),
    signUps: per5Minutes(cfg.signInSignUpsPer5Minutes),
    userUpdates: per5Minutes(cfg.signInSignUpsPer5Minutes),
    token: per5Minutes(cfg.tokenRefreshPer5Minutes),
    verify: per5Minutes(cfg.tokenVerificationsPer5Minutes),
  };
}

/** `env(NAME)` as the Supabase CLI substitutes it in config.toml. */
function substituteEnv(value: string, env: NodeJS.ProcessEnv): string {
  const m = /^env\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(value);
  return m ? (env[m[1]!] ?? '') : value;
}

/** The `[auth.rate_limit]` keys the local Auth honours, and the field each sets. */
const RATE_LIMIT_KEYS = {
  anonymous_users: 'anonymousUsersPerHour',
  sign_in_sign_ups: 'signInSignUpsPer5Minutes',
  token_refresh: 'tokenRefreshPer5Minutes',
  token_verifications: 'tokenVerificationsPer5Minutes',
} as const;

/**
 * `[auth.rate_limit]` and `[auth.captcha]` from supabase/config.toml (the
 * few keys the local stack honours; a missing file or key keeps Supabase's
 * default), and IP address forwarding from the environment
 * (GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED, as GoTrue reads it).
 */
export function readAuthGuardConfig(file: string, env: NodeJS.ProcessEnv = process.env): AuthGuardConfig {
  const out: AuthGuardConfig = { ...DEFAULT_AUTH_GUARD, captcha: { ...DEFAULT_AUTH_GUARD.captcha } };
  out.sbForwardedFor = /^(true|1)$/i.test(env.GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED ?? '');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      continue;
    }
    const kv = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(line);
    if (!kv) continue;
    const key = kv[1]!;
    const value = kv[2]!.trim().replace(/^"(.*)"$/, '$1');
    if (section === 'auth.rate_limit' && key in RATE_LIMIT_KEYS && /^\d+$/.test(value)) {
      out[RATE_LIMIT_KEYS[key as keyof typeof RATE_LIMIT_KEYS]] = Number(value);
    }
    if (section === 'auth.captcha') {
      if (key === 'enabled') out.captcha.enabled = value === 'true';
      if (key === 'provider' && (value === 'turnstile' || value === 'hcaptcha')) out.captcha.provider = value;
      if (key === 'secret') out.captcha.secret = substituteEnv(value, env);
    }
  }
  return out;
}
