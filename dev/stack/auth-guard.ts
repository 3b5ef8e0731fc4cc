/**
 * What Supabase Auth does before an anonymous sign-up, for `npm start`:
 *
 * - `[auth.rate_limit] anonymous_users` (config.toml; 30): anonymous
 *   sign-ups per hour per IP. As GoTrue does it (tollbooth): a token bucket
 *   per client address holding `anonymous_users` sign-ups, refilled at
 *   `anonymous_users` per hour, keyed on the connection's address
 *   (X-Forwarded-For is ignored, GoTrue's default). Over it: 429
 *   `over_request_rate_limit`, "Request rate limit reached".
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
  captcha: CaptchaConfig;
}

export const DEFAULT_AUTH_GUARD: AuthGuardConfig = {
  anonymousUsersPerHour: 30,
  captcha: { enabled: false, provider: 'hcaptcha', secret: '' },
};

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

/** GoTrue's anonymous sign-up limiter: a token bucket per client address. */
export class SignUpLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one sign-up for `key`; false when its bucket is empty. */
  take(key: string): boolean {
    if (this.perHour <= 0) return false;
    const t = this.now();
    const ratePerMs = this.perHour / 3_600_000;
    const b = this.buckets.get(key) ?? { tokens: this.perHour, at: t };
    b.tokens = Math.min(this.perHour, b.tokens + (t - b.at) * ratePerMs);
    b.at = t;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.prune(t, ratePerMs);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private prune(t: number, ratePerMs: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (t - b.at) * ratePerMs >= this.perHour) this.buckets.delete(k);
  }
}

/** `env(NAME)` as the Supabase CLI substitutes it in config.toml. */
function substituteEnv(value: string, env: NodeJS.ProcessEnv): string {
  const m = /^env\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(value);
  return m ? (env[m[1]!] ?? '') : value;
}

/**
 * `[auth.rate_limit] anonymous_users` and `[auth.captcha]` from
 * supabase/config.toml (the few keys the local stack honours; a missing
 * file or key keeps Supabase's default).
 */
export function readAuthGuardConfig(file: string, env: NodeJS.ProcessEnv = process.env): AuthGuardConfig {
  const out: AuthGuardConfig = { ...DEFAULT_AUTH_GUARD, captcha: { ...DEFAULT_AUTH_GUARD.captcha } };
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
    if (section === 'auth.rate_limit' && key === 'anonymous_users' && /^\d+$/.test(value)) out.anonymousUsersPerHour = Number(value);
    if (section === 'auth.captcha') {
      if (key === 'enabled') out.captcha.enabled = value === 'true';
      if (key === 'provider' && (value === 'turnstile' || value === 'hcaptcha')) out.captcha.provider = value;
      if (key === 'secret') out.captcha.secret = substituteEnv(value, env);
    }
  }
  return out;
}
