/**
 * Supabase Auth's "IP address forwarding" in the local Auth: a server that
 * signs shoppers in (a server-rendered storefront) names each shopper's
 * address in `Sb-Forwarded-For`, and the rate limits count that address
 * instead of the server's, only when forwarding is enabled
 * (GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED; off by default, as for new
 * hosted projects) and only for a request made with a secret API key
 * (`sb_secret_…`). A browser's anon key, the legacy service_role key, or a
 * value that is not one IP address: ignored, the connection's address counts.
 * Through the local API on the test database, its clock frozen (no bucket
 * refills during a test).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { readAuthGuardConfig } from '../../dev/stack/auth-guard.ts';
import type { LocalApi } from '../../dev/stack/local-api.ts';
import { httpFrom, useAuthApis } from './helpers.ts';

const auth = useAuthApis('auth-forwarding-test-jwt-secret-with-32-characters');
const CONFIG = readAuthGuardConfig(join(repoRoot, 'supabase', 'config.toml'), {});

const api = (sbForwardedFor: boolean) => {
  const frozen = Date.now();
  return auth.start({ ...CONFIG, sbForwardedFor }, () => frozen);
};

/** An anonymous sign-in (what signInAnonymously sends) with this key, naming `forwarded` when given. */
const signIn = (a: LocalApi, key: string, forwarded?: string, localAddress = '127.0.0.1') =>
  httpFrom(`${a.url}/auth/v1/signup`, {
    body: { data: {} },
    localAddress,
    headers: { apikey: key, ...(forwarded === undefined ? {} : { 'sb-forwarded-for': forwarded }) },
  });

const outcome = (r: { status: number; body: Record<string, unknown> }) => (r.status === 200 ? '200' : `${r.status} ${String(r.body.error_code)}`);

/** `n` sign-ins one after another, their outcomes. */
async function signIns(n: number, one: (i: number) => Promise<{ status: number; body: Record<string, unknown> }>): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(outcome(await one(i)));
  return out;
}

const thirtyThenLimited = [...Array(30).fill('200'), '429 over_request_rate_limit'];

describe('IP address forwarding (Sb-Forwarded-For)', () => {
  it('is off unless GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED says so, as on a new hosted project', () => {
    const file = join(repoRoot, 'supabase', 'config.toml');
    expect(readAuthGuardConfig(file, {}).sbForwardedFor).toBe(false);
    expect(readAuthGuardConfig(file, { GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED: 'true' }).sbForwardedFor).toBe(true);
    expect(readAuthGuardConfig(file, { GOTRUE_SECURITY_SB_FORWARDED_FOR_ENABLED: 'false' }).sbForwardedFor).toBe(false);
  });

  it('on, with the secret key: 35 shoppers behind one server all sign in; 31 from one forwarded address hit 429', async () => {
    const a = await api(true);
    expect(await signIns(35, (i) => signIn(a, auth.secretKey, `198.51.100.${i + 1}`))).toEqual(Array(35).fill('200'));
    expect(await signIns(31, () => signIn(a, auth.secretKey, '203.0.113.7'))).toEqual(thirtyThenLimited);
    // Equal addresses count once whatever their spelling (IPv6 by its canonical text, the leftmost entry of a list).
    expect(await signIns(31, (i) => signIn(a, auth.secretKey, i % 2 ? '2001:DB8:0:0::1' : '2001:db8::1, 10.0.0.1'))).toEqual(thirtyThenLimited);
    // The server's own address kept its bucket meanwhile.
    expect(outcome(await signIn(a, auth.anonKey))).toBe('200');
  });

  it("on, with the secret key: Sb-Forwarded-For counts for password sign-ins and refreshes too (POST /token's bucket)", async () => {
    const a = await api(true);
    const wrong = (forwarded: string) =>
      httpFrom(`${a.url}/auth/v1/token?grant_type=password`, {
        body: { email: 'nobody@example.com', password: 'wrong-password' },
        headers: { apikey: auth.secretKey, 'sb-forwarded-for': forwarded },
      });
    const first = await signIns(31, () => wrong('203.0.113.8'));
    expect(first).toEqual([...Array(30).fill('400 invalid_credentials'), '429 over_request_rate_limit']);
    expect(outcome(await wrong('203.0.113.9'))).toBe('400 invalid_credentials');
  });

  it("is not honoured from a browser's anon key, nor the legacy service_role key: the connection's address counts", async () => {
    for (const key of [auth.anonKey, auth.serviceRoleKey]) {
      const a = await api(true);
      expect(await signIns(31, (i) => signIn(a, key, `198.51.100.${i + 1}`))).toEqual(thirtyThenLimited);
      // Another connection address is another client.
      expect(outcome(await signIn(a, key, '198.51.100.1', '127.0.0.2'))).toBe('200');
    }
  });

  it('is ignored when forwarding is off (the default), even with the secret key', async () => {
    const a = await api(false);
    expect(await signIns(31, (i) => signIn(a, auth.secretKey, `198.51.100.${i + 1}`))).toEqual(thirtyThenLimited);
  });

  it("a value that is not one IP address is ignored (GoTrue's rule): the connection's address counts", async () => {
    const a = await api(true);
    const garbage = ['not-an-ip', '203.0.113.7:80', '[2001:db8::1]', 'fe80::1%eth0', '010.0.0.1', '203.0.113.0/24', 'unknown, 203.0.113.7', '', ' '];
    expect(await signIns(31, (i) => signIn(a, auth.secretKey, garbage[i % garbage.length]!))).toEqual(thirtyThenLimited);
  });
});
