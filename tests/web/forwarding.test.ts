/**
 * web/src/ssr.ts's shopperAddressFetch, what createStorefrontServerClient's
 * `forwardShopperAddress` uses: only requests to the project's Auth and Edge
 * Functions carry the secret key and `Sb-Forwarded-For`; the Data API keeps
 * the anon key, other origins get nothing, and without a valid address
 * nothing changes. (End to end through the Next.js storefront:
 * tests/browser/next-addresses.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { shopperAddressFetch } from '../../web/src/ssr.ts';

const ANON = 'anon-key-jwt';
const SECRET = 'sb_secret_forwarding-test';
const URL_ = 'https://abcd.supabase.co';

/** The headers each request reached the network with. */
function recorder() {
  const seen: { url: string; headers: Record<string, string> }[] = [];
  const base: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((v, k) => headers.set(k, v));
    seen.push({ url, headers: Object.fromEntries(headers) });
    return Promise.resolve(new Response('{}'));
  };
  return { seen, base };
}

const supabaseHeaders = (bearer = ANON) => ({ apikey: ANON, authorization: `Bearer ${bearer}` });

describe('shopperAddressFetch', () => {
  it('Auth and the functions get the secret key and the shopper address; the Data API and other origins nothing', async () => {
    const { seen, base } = recorder();
    const f = shopperAddressFetch({ supabaseUrl: `${URL_}/`, supabaseAnonKey: ANON }, { secretKey: SECRET, address: '2001:DB8:0::7' }, base);
    await f(`${URL_}/auth/v1/signup`, { method: 'POST', headers: supabaseHeaders() });
    await f(`${URL_}/auth/v1/user`, { headers: supabaseHeaders('user-access-token') });
    await f(`${URL_}/functions/v1/create-preference`, { method: 'POST', headers: supabaseHeaders('user-access-token') });
    await f(new Request(`${URL_}/functions/v1/payment-status`, { method: 'POST', headers: supabaseHeaders('user-access-token') }));
    await f(`${URL_}/rest/v1/rpc/get_cart`, { method: 'POST', headers: supabaseHeaders('user-access-token') });
    await f(`${URL_}/auth/v10/signup`, { headers: supabaseHeaders() });
    await f('https://elsewhere.example/auth/v1/signup', { headers: supabaseHeaders() });
    const forwarded = { apikey: SECRET, 'sb-forwarded-for': '2001:db8::7' };
    expect(seen.map((s) => ({ url: s.url.replace(URL_, ''), ...s.headers }))).toEqual([
      { url: '/auth/v1/signup', ...forwarded, authorization: `Bearer ${SECRET}` },
      { url: '/auth/v1/user', ...forwarded, authorization: 'Bearer user-access-token' },
      { url: '/functions/v1/create-preference', ...forwarded, authorization: 'Bearer user-access-token' },
      { url: '/functions/v1/payment-status', ...forwarded, authorization: 'Bearer user-access-token' },
      { url: '/rest/v1/rpc/get_cart', ...supabaseHeaders('user-access-token') },
      { url: '/auth/v10/signup', ...supabaseHeaders() },
      { url: 'https://elsewhere.example/auth/v1/signup', ...supabaseHeaders() },
    ]);
  });

  it('a functionsUrl of its own is forwarded to; the default one then is not', async () => {
    const { seen, base } = recorder();
    const f = shopperAddressFetch(
      { supabaseUrl: URL_, supabaseAnonKey: ANON, functionsUrl: 'https://fn.example/v1/' },
      { secretKey: SECRET, address: '198.51.100.7' },
      base,
    );
    await f('https://fn.example/v1/create-preference', { headers: supabaseHeaders('t') });
    await f(`${URL_}/functions/v1/create-preference`, { headers: supabaseHeaders('t') });
    expect(seen.map((s) => [s.headers['apikey'], s.headers['sb-forwarded-for']])).toEqual([[SECRET, '198.51.100.7'], [ANON, undefined]]);
  });

  it('without an address, or with one that is not an IP address, nothing is forwarded and the anon key stays', async () => {
    for (const address of [undefined, '', 'unknown', '198.51.100.7, 10.0.0.1', '198.51.100.7:443', '[::1]']) {
      const { seen, base } = recorder();
      const f = shopperAddressFetch({ supabaseUrl: URL_, supabaseAnonKey: ANON }, { secretKey: SECRET, address }, base);
      await f(`${URL_}/auth/v1/signup`, { headers: supabaseHeaders() });
      expect(seen[0]!.headers, String(address)).toEqual(supabaseHeaders());
    }
  });
});
