/**
 * The local Auth's defences against sign-up floods, through real
 * @supabase/supabase-js: the anonymous sign-in rate limit of
 * supabase/config.toml (429 in Supabase Auth's shape) and CAPTCHA with the
 * providers' documented test secret keys (pass and fail), against the local
 * API on the test database.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthApiError } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import {
  type AuthGuardConfig,
  CAPTCHA_TEST_KEYS,
  type CaptchaConfig,
  DEFAULT_AUTH_GUARD,
  readAuthGuardConfig,
  TokenBuckets,
} from '../../dev/stack/auth-guard.ts';
import type { LocalApi } from '../../dev/stack/local-api.ts';
import { createStorefront, SessionRequiredError } from '../../web/src/index.ts';
import { client, useAuthApis } from './helpers.ts';

const auth = useAuthApis('auth-guard-test-jwt-secret-with-32-characters-at-least');
const { anonKey } = auth;

const api = (guard: Partial<AuthGuardConfig>) => auth.start({ ...DEFAULT_AUTH_GUARD, ...guard });

const noCaptcha: CaptchaConfig = { enabled: false, provider: 'turnstile', secret: '' };

describe('anonymous sign-in rate limit', () => {
  it('supabase/config.toml sets 30 per hour per IP, and CAPTCHA off', () => {
    const cfg = readAuthGuardConfig(join(repoRoot, 'supabase', 'config.toml'), {});
    expect([cfg.anonymousUsersPerHour, cfg.captcha]).toEqual([30, { enabled: false, provider: 'turnstile', secret: '' }]);
  });

  it('answers 429 over_request_rate_limit after the configured number, as Supabase Auth does', async () => {
    const limit = readAuthGuardConfig(join(repoRoot, 'supabase', 'config.toml'), {}).anonymousUsersPerHour;
    const a = await api({ anonymousUsersPerHour: limit, captcha: noCaptcha });
    for (let i = 0; i < limit; i++) {
      const { error } = await client(a.url, anonKey).auth.signInAnonymously();
      expect(error, `sign-in ${i + 1}`).toBeNull();
    }
    const { data, error } = await client(a.url, anonKey).auth.signInAnonymously();
    expect(data.session).toBeNull();
    expect(error).toBeInstanceOf(AuthApiError);
    expect([error!.status, error!.code, error!.message]).toEqual([429, 'over_request_rate_limit', 'Request rate limit reached']);
    // The legacy wire shape (no X-Supabase-Api-Version): {code, error_code, msg}.
    const raw = await fetch(`${a.url}/auth/v1/signup`, { method: 'POST', headers: { apikey: anonKey, 'content-type': 'application/json' }, body: '{}' });
    expect(raw.status).toBe(429);
    expect(await raw.json()).toEqual({ code: 429, error_code: 'over_request_rate_limit', msg: 'Request rate limit reached' });
    // Nothing was created past the limit; other endpoints are not limited.
    const refreshed = await fetch(`${a.url}/auth/v1/health`, { headers: { apikey: anonKey } });
    expect(refreshed.status).toBe(200);
  });

  it('refills at the configured rate per hour (a token bucket per address)', () => {
    let now = 0;
    const limiter = new TokenBuckets(30, 30 / 3_600_000, () => now);
    for (let i = 0; i < 30; i++) expect(limiter.take('1.2.3.4')).toBe(true);
    expect(limiter.take('1.2.3.4')).toBe(false);
    expect(limiter.take('5.6.7.8')).toBe(true);
    now += 120_000; // 2 minutes: one more sign-up (30 per 60 minutes)
    expect(limiter.take('1.2.3.4')).toBe(true);
    expect(limiter.take('1.2.3.4')).toBe(false);
  });
});

describe('CAPTCHA ([auth.captcha])', () => {
  const signIn = (a: LocalApi, captchaToken?: string) =>
    client(a.url, anonKey).auth.signInAnonymously(captchaToken === undefined ? undefined : { options: { captchaToken } });

  it('reads enabled, provider and the secret (env() substituted) from config.toml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'auth-guard-'));
    const file = join(dir, 'config.toml');
    const base = readFileSync(join(repoRoot, 'supabase', 'config.toml'), 'utf8');
    writeFileSync(file, base.replace('[auth.captcha]\nenabled = false', '[auth.captcha]\nenabled = true'));
    expect(readAuthGuardConfig(file, { SUPABASE_AUTH_CAPTCHA_SECRET: CAPTCHA_TEST_KEYS.turnstile.alwaysPasses }).captcha).toEqual({
      enabled: true,
      provider: 'turnstile',
      secret: '1x0000000000000000000000000000000AA',
    });
  });

  it("Turnstile's always-pass test secret: a sign-in with a token passes, one without is refused", async () => {
    const a = await api({ anonymousUsersPerHour: 100, captcha: { enabled: true, provider: 'turnstile', secret: CAPTCHA_TEST_KEYS.turnstile.alwaysPasses } });
    const ok = await signIn(a, CAPTCHA_TEST_KEYS.turnstile.dummyToken);
    expect(ok.error).toBeNull();
    expect(ok.data.user?.is_anonymous).toBe(true);
    const missing = await signIn(a);
    expect([missing.error?.status, missing.error?.code, missing.error?.message]).toEqual([
      400,
      'captcha_failed',
      'captcha protection: request disallowed (no captcha_token found)',
    ]);
  });

  it("Turnstile's always-fail test secret: refused with captcha_failed, no user created", async () => {
    const a = await api({ anonymousUsersPerHour: 100, captcha: { enabled: true, provider: 'turnstile', secret: CAPTCHA_TEST_KEYS.turnstile.alwaysFails } });
    const { rows: before } = await auth.pool().query<{ n: number }>('select count(*)::int as n from auth.users');
    const r = await signIn(a, CAPTCHA_TEST_KEYS.turnstile.dummyToken);
    expect(r.data.session).toBeNull();
    expect([r.error?.status, r.error?.code, r.error?.message]).toEqual([
      400,
      'captcha_failed',
      'captcha protection: request disallowed (invalid-input-response)',
    ]);
    const { rows: after } = await auth.pool().query<{ n: number }>('select count(*)::int as n from auth.users');
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it("hCaptcha's test keys: the test response token passes, any other token fails", async () => {
    const a = await api({ anonymousUsersPerHour: 100, captcha: { enabled: true, provider: 'hcaptcha', secret: CAPTCHA_TEST_KEYS.hcaptcha.secret } });
    expect((await signIn(a, CAPTCHA_TEST_KEYS.hcaptcha.responseToken)).error).toBeNull();
    const bad = await signIn(a, 'not-the-test-token');
    expect([bad.error?.status, bad.error?.code]).toEqual([400, 'captcha_failed']);
  });

  it("the storefront library passes captchaToken to signInAnonymously; refusals keep Auth's code", async () => {
    const pass = await api({ anonymousUsersPerHour: 2, captcha: { enabled: true, provider: 'turnstile', secret: CAPTCHA_TEST_KEYS.turnstile.alwaysPasses } });
    const tokens: string[] = [];
    const sf = createStorefront({
      supabase: client(pass.url, anonKey),
      captchaToken: () => {
        tokens.push(CAPTCHA_TEST_KEYS.turnstile.dummyToken);
        return CAPTCHA_TEST_KEYS.turnstile.dummyToken;
      },
    });
    expect(await sf.ensureSession()).toMatch(/^[0-9a-f-]{36}$/);
    expect(tokens).toHaveLength(1);
    // Without the option there is no token: refused, with Supabase Auth's code.
    const noToken = await createStorefront({ supabase: client(pass.url, anonKey) }).ensureSession().catch((e: unknown) => e);
    expect(noToken).toBeInstanceOf(SessionRequiredError);
    expect((noToken as SessionRequiredError).code).toBe('captcha_failed');
    // This API allows two sign-ins per hour (a refused CAPTCHA counts, as in GoTrue): the next is rate limited.
    const limited = await createStorefront({ supabase: client(pass.url, anonKey), captchaToken: () => 'XXXX.DUMMY.TOKEN.XXXX' }).ensureSession().catch((
      e: unknown,
    ) => e);
    expect([(limited as SessionRequiredError).code, (limited as SessionRequiredError).status]).toEqual(['over_request_rate_limit', 429]);
  });

  it('a real secret needs the provider: a clear 500 locally, saying to use the test keys', async () => {
    const a = await api({ anonymousUsersPerHour: 100, captcha: { enabled: true, provider: 'turnstile', secret: '0x4AAAAAAA-real-looking-secret' } });
    const r = await signIn(a, 'some-token');
    expect(r.error?.status).toBe(500);
    expect(r.error?.message).toMatch(/captcha verification process failed: .*no network.*test secret key/);
  });
});
