/**
 * The local Auth's `[auth.rate_limit]` beyond anonymous sign-ins
 * (tests/stack/auth-guard.test.ts), as GoTrue keeps them per client address:
 * password sign-ins and refreshes share POST /token's bucket
 * (`token_refresh`), email sign-ups have their own (`sign_in_sign_ups`),
 * /verify its own (`token_verifications`); every one holds 30 and refills at
 * the setting's rate per 5 minutes. Over a limit: 429
 * `over_request_rate_limit`, and nothing is done. Through real
 * @supabase/supabase-js against the local API on the test database; a second
 * client address is a connection from 127.0.0.2.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { authLimiters, DEFAULT_AUTH_GUARD, readAuthGuardConfig } from '../../dev/stack/auth-guard.ts';
import type { LocalApi } from '../../dev/stack/local-api.ts';
import { client, httpFrom, useAuthApis } from './helpers.ts';

const auth = useAuthApis('auth-rate-limits-test-jwt-secret-with-32-characters');
const { anonKey } = auth;
const CONFIG = readAuthGuardConfig(join(repoRoot, 'supabase', 'config.toml'), {});

/**
 * A local API with the limits of supabase/config.toml (fresh buckets) whose
 * clock stands still: no bucket refills during a test, however slow the
 * machine (the refill itself is tested with authLimiters below).
 */
const api = () => {
  const frozen = Date.now();
  return auth.start(CONFIG, () => frozen);
};

/** A POST to the local Auth from a chosen client address (the legacy wire shape: no X-Supabase-Api-Version). */
const post = (a: LocalApi, path: string, body: unknown, localAddress = '127.0.0.1') =>
  httpFrom(`${a.url}/auth/v1${path}`, { body, localAddress, headers: { apikey: anonKey } });

const limited = { code: 429, error_code: 'over_request_rate_limit', msg: 'Request rate limit reached' };
const outcome = (r: { status: number; body: Record<string, unknown> }) => `${r.status} ${String(r.body.error_code ?? 'ok')}`;
const email = () => `rl-${randomUUID().slice(0, 8)}@example.com`;

describe('[auth.rate_limit] in supabase/config.toml', () => {
  it("holds Supabase's defaults, which the local Auth reads", () => {
    expect(CONFIG).toMatchObject({
      anonymousUsersPerHour: 30,
      signInSignUpsPer5Minutes: 30,
      tokenRefreshPer5Minutes: 150,
      tokenVerificationsPer5Minutes: 30,
    });
  });
});

describe('password sign-ins (POST /token, the token_refresh bucket)', () => {
  it('the 31st wrong password from one address is 429, the right one too; another address is unaffected', async () => {
    const a = await api();
    const account = { email: email(), password: 'la-correcta-1' };
    expect(outcome(await post(a, '/signup', account))).toBe('200 ok');
    const results: string[] = [];
    for (let i = 0; i < 30; i++) results.push(outcome(await post(a, '/token?grant_type=password', { ...account, password: `wrong-${i}` })));
    expect(results).toEqual(Array(30).fill('400 invalid_credentials'));
    const over = await post(a, '/token?grant_type=password', { ...account, password: 'wrong-31' });
    expect(over).toEqual({ status: 429, body: limited });
    // The right password waits too, and so does a refresh (one bucket for /token, as GoTrue has it).
    expect(outcome(await post(a, '/token?grant_type=password', account))).toBe('429 over_request_rate_limit');
    expect(outcome(await post(a, '/token?grant_type=refresh_token', { refresh_token: 'whatever' }))).toBe('429 over_request_rate_limit');
    // Another client address has a bucket of its own.
    expect(outcome(await post(a, '/token?grant_type=password', account, '127.0.0.2'))).toBe('200 ok');
  });

  it('through supabase-js: AuthApiError 429 over_request_rate_limit', async () => {
    const a = await api();
    const sb = client(a.url, anonKey);
    for (let i = 0; i < 30; i++) await sb.auth.signInWithPassword({ email: 'nobody@example.com', password: `wrong-${i}` });
    const { data, error } = await sb.auth.signInWithPassword({ email: 'nobody@example.com', password: 'wrong' });
    expect(data.session).toBeNull();
    expect([error?.status, error?.code, error?.message]).toEqual([429, 'over_request_rate_limit', 'Request rate limit reached']);
  });
});

describe('email sign-ups (the sign_in_sign_ups bucket)', () => {
  it('the 31st sign-up from one address is 429 and creates no user; anonymous sign-ins are a bucket apart', async () => {
    const a = await api();
    const created: string[] = [];
    for (let i = 0; i < 30; i++) {
      const e = email();
      expect(outcome(await post(a, '/signup', { email: e, password: 'una-clave-1' })), `sign-up ${i + 1}`).toBe('200 ok');
      created.push(e);
    }
    const last = email();
    expect(await post(a, '/signup', { email: last, password: 'una-clave-1' })).toEqual({ status: 429, body: limited });
    const { rows } = await auth.pool().query<{ n: number }>('select count(*)::int as n from auth.users where email = $1', [last]);
    expect(rows[0]!.n).toBe(0);
    // anonymous_users is another limit: an anonymous sign-in still passes.
    expect(outcome(await post(a, '/signup', {}))).toBe('200 ok');
    expect(outcome(await post(a, '/signup', { email: email(), password: 'una-clave-1' }, '127.0.0.2'))).toBe('200 ok');
  });
});

describe('token refresh (the token_refresh bucket)', () => {
  it('the 31st refresh in a burst from one address is 429, and the refresh token stays usable', async () => {
    const a = await api();
    const signedIn = await post(a, '/signup', {});
    let refreshToken = String(signedIn.body.refresh_token);
    for (let i = 0; i < 30; i++) {
      const r = await post(a, '/token?grant_type=refresh_token', { refresh_token: refreshToken });
      expect(outcome(r), `refresh ${i + 1}`).toBe('200 ok');
      refreshToken = String(r.body.refresh_token);
    }
    expect(await post(a, '/token?grant_type=refresh_token', { refresh_token: refreshToken })).toEqual({ status: 429, body: limited });
    // Refused before it was read: the token was not rotated, so it still works from elsewhere.
    expect(outcome(await post(a, '/token?grant_type=refresh_token', { refresh_token: refreshToken }, '127.0.0.2'))).toBe('200 ok');
  });

  it('refills at token_refresh per 5 minutes: 150 is one more every 2 seconds (a bucket of 30)', () => {
    let now = 0;
    const { token, signUps, anonymousSignIns } = authLimiters(DEFAULT_AUTH_GUARD, () => now);
    for (let i = 0; i < 30; i++) expect(token.take('1.2.3.4')).toBe(true);
    expect(token.take('1.2.3.4')).toBe(false);
    now += 2_000;
    expect(token.take('1.2.3.4')).toBe(true);
    expect(token.take('1.2.3.4')).toBe(false);
    // sign_in_sign_ups (30 per 5 minutes): one every 10 seconds.
    for (let i = 0; i < 30; i++) signUps.take('1.2.3.4');
    now += 9_000;
    expect(signUps.take('1.2.3.4')).toBe(false);
    now += 1_000;
    expect(signUps.take('1.2.3.4')).toBe(true);
    // anonymous_users holds the setting itself (30), refilled per hour.
    for (let i = 0; i < 30; i++) expect(anonymousSignIns.take('5.6.7.8')).toBe(true);
    expect(anonymousSignIns.take('5.6.7.8')).toBe(false);
  });
});

describe('verifications (the token_verifications bucket)', () => {
  it('/verify is limited before the stand-in says it does not emulate it', async () => {
    const a = await api();
    const results: string[] = [];
    for (let i = 0; i < 31; i++) results.push(outcome(await post(a, '/verify', { type: 'signup', token: '123456' })));
    expect(results.slice(0, 30)).toEqual(Array(30).fill('404 not_implemented'));
    expect(results[30]).toBe('429 over_request_rate_limit');
  });
});
