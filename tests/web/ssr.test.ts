/**
 * web/src/ssr.ts: the session cookies of a server-rendered storefront
 * (httpOnly, secure in production, sameSite lax, 7 days, renewed on every
 * request), against the local API's real anonymous sign-in.
 */
import { parseCookieHeader } from '@supabase/ssr';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SessionRequiredError } from '../../web/src/index.ts';
import { authCookieName, createStorefrontServerClient, SESSION_COOKIE_MAX_AGE, sessionCookieOptions, sessionCookies } from '../../web/src/ssr.ts';
import { type ParsedSetCookie, parseSetCookie } from '../helpers/http.ts';
import { remoteConfigured, type Target, useTarget } from './helpers.ts';

let t: Target;
useTarget((target) => (t = target));

const env = (nodeEnv: string) => ({ supabaseUrl: t.apiUrl, supabaseAnonKey: t.anonKey, nodeEnv });

/** One request through the helper: the incoming cookies, what the handler does, the Set-Cookie lines. */
async function request<T>(cookie: string | undefined, nodeEnv: string, fn: (s: ReturnType<typeof createStorefrontServerClient>) => Promise<T>) {
  const req = new Request('http://shop.test/', { headers: cookie ? { cookie } : {} });
  const headers = new Headers();
  const client = createStorefrontServerClient(req, headers, env(nodeEnv));
  const result = await fn(client);
  const set = headers.getSetCookie().map(parseSetCookie);
  return { result, set, headers };
}

/** What the browser would send next: the cookies it keeps after these Set-Cookie lines. */
function nextCookieHeader(previous: string | undefined, set: ParsedSetCookie[]): string {
  const jar = new Map(parseCookieHeader(previous ?? '').map((c) => [c.name, c.value ?? '']));
  for (const c of set) {
    if (c.attrs['max-age'] === '0') jar.delete(c.name);
    else jar.set(c.name, c.value);
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

describe('session cookie options', () => {
  it('httpOnly, sameSite lax, path /, 7 days; secure only in production or when asked', () => {
    expect(SESSION_COOKIE_MAX_AGE).toBe(604800);
    expect(sessionCookieOptions({}, 'development')).toEqual({ path: '/', httpOnly: true, secure: false, sameSite: 'lax', maxAge: 604800 });
    expect(sessionCookieOptions({}, 'production')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'lax' });
    expect(sessionCookieOptions({ secure: true }, 'development').secure).toBe(true);
    expect(sessionCookieOptions({ secure: false }, 'production').secure).toBe(false);
    expect(authCookieName('http://127.0.0.1:54321')).toBe('sb-127-auth-token');
    expect(authCookieName('https://abcdefgh.supabase.co')).toBe('sb-abcdefgh-auth-token');
  });

  it('renews chunked session cookies and leaves other cookies alone', () => {
    const headers = new Headers();
    headers.append('set-cookie', 'theme=dark; Path=/');
    const jar = sessionCookies('sb-x-auth-token.0=aaa; sb-x-auth-token.1=bbb; theme=dark; sb-x-auth-token-code-verifier=v', headers, {
      cookieName: 'sb-x-auth-token',
      cookie: sessionCookieOptions({}, 'production'),
    });
    jar.renew();
    const set = headers.getSetCookie().map(parseSetCookie);
    expect(set.map((c) => c.name).sort()).toEqual(['sb-x-auth-token.0', 'sb-x-auth-token.1', 'theme']);
    for (const c of set.filter((s) => s.name.startsWith('sb-'))) {
      expect(c.attrs).toMatchObject({ 'max-age': '604800', httponly: true, secure: true, samesite: 'Lax', path: '/' });
    }
    expect(headers.get('cache-control')).toContain('no-store');
    // A later write of the same cookie replaces the renewal instead of adding a second line.
    jar.setAll([{ name: 'sb-x-auth-token.0', value: 'new', options: { maxAge: 400 * 24 * 3600, httpOnly: false } }]);
    const again = headers.getSetCookie().map(parseSetCookie);
    expect(again.filter((c) => c.name === 'sb-x-auth-token.0')).toEqual([
      expect.objectContaining({ value: 'new', attrs: expect.objectContaining({ 'max-age': '604800', httponly: true }) }),
    ]);
  });
});

describe('createStorefrontServerClient', () => {
  it('first visit: anonymous sign-in writes httpOnly, lax, 7-day cookies (not secure outside production)', async () => {
    const { result: id, set, headers } = await request(undefined, 'development', ({ storefront }) => storefront.ensureSession());
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const session = set.filter((c) => c.name.startsWith(authCookieName(t.apiUrl)));
    expect(session.length).toBeGreaterThan(0);
    for (const c of session) {
      expect(c.attrs).toMatchObject({ httponly: true, samesite: 'Lax', path: '/', 'max-age': String(7 * 24 * 3600) });
      expect(c.attrs['secure']).toBeUndefined();
    }
    expect(headers.get('cache-control')).toContain('no-store');
  });

  it('production: the cookies are Secure', async () => {
    const { set } = await request(undefined, 'production', ({ storefront }) => storefront.ensureSession());
    const session = set.filter((c) => c.name.startsWith('sb-'));
    expect(session.length).toBeGreaterThan(0);
    for (const c of session) expect(c.attrs).toMatchObject({ secure: true, httponly: true, samesite: 'Lax', 'max-age': '604800' });
  });

  it('the session and cart persist across requests, and every request renews the cookies for 7 days', async () => {
    const first = await request(undefined, 'development', async ({ storefront }) => {
      const id = await storefront.ensureSession();
      const v = (await storefront.catalog()).flatMap((p) => p.variants).find((x) => x.available >= 1)!;
      await storefront.cart.add(v.id, 1);
      return { id, variantId: v.id };
    });
    const cookie = nextCookieHeader(undefined, first.set);

    // A later request that only reads: same shopper, same cart, cookies renewed.
    const second = await request(cookie, 'development', async ({ storefront }) => ({
      id: await storefront.ensureSession(),
      cart: await storefront.cart.get(),
    }));
    expect(second.result.id).toBe(first.result.id);
    expect(second.result.cart.lines.map((l) => l.variant_id)).toEqual([first.result.variantId]);
    const renewed = second.set.filter((c) => c.name.startsWith(authCookieName(t.apiUrl)));
    expect(renewed.map((c) => c.name).sort()).toEqual(
      parseCookieHeader(cookie)
        .map((c) => c.name)
        .sort(),
    );
    for (const c of renewed) {
      expect(c.attrs).toMatchObject({ 'max-age': '604800', httponly: true, samesite: 'Lax' });
      expect(c.value).toBe(parseCookieHeader(cookie).find((x) => x.name === c.name)?.value);
    }

    // Renewed even when the handler never touches Supabase.
    const third = await request(cookie, 'development', async () => null);
    expect(third.set.filter((c) => c.name.startsWith('sb-')).length).toBe(renewed.length);
  });

  /** An attacker's own session cookie with the victim's id put in its JWT (the signature no longer matches). */
  async function forgedCookie(victim: string): Promise<{ cookie: string; attacker: string }> {
    const attacker = await request(undefined, 'development', ({ storefront }) => storefront.ensureSession());
    const cookie = parseCookieHeader(nextCookieHeader(undefined, attacker.set));
    // @supabase/ssr stores the session as "base64-" + base64url(JSON) (one chunk for an anonymous session).
    const joined = cookie.map((c) => c.value ?? '').join('');
    const session = JSON.parse(Buffer.from(joined.replace(/^base64-/, ''), 'base64url').toString('utf8')) as { access_token: string; user: { id: string } };
    const [h, p, sig] = session.access_token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims['sub'] = victim;
    session.access_token = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    session.user.id = victim;
    return { cookie: `${authCookieName(t.apiUrl)}=base64-${Buffer.from(JSON.stringify(session)).toString('base64url')}`, attacker: attacker.result };
  }

  it('a forged session cookie is not trusted: the JWT is verified, the forger gets a fresh anonymous session', async () => {
    const victim = await request(undefined, 'development', ({ storefront }) => storefront.ensureSession());
    const forged = await forgedCookie(victim.result);
    const r = await request(forged.cookie, 'development', ({ storefront }) => storefront.ensureSession());
    expect(r.result).not.toBe(victim.result);
    expect(r.result).not.toBe(forged.attacker);
  });

  it.skipIf(remoteConfigured && !process.env['SUPABASE_DB_URL'])(
    'anonymousSignIn: false (a page that cannot set cookies): no session, a forged one or garbage is SessionRequiredError, and nobody is signed in',
    async () => {
      const victim = await request(undefined, 'development', ({ storefront }) => storefront.ensureSession());
      const forged = await forgedCookie(victim.result);
      const db = new pg.Client({ connectionString: t.dbUrl });
      await db.connect();
      try {
        const users = async () => (await db.query<{ n: number }>('select count(*)::int as n from auth.users')).rows[0]!.n;
        const before = await users();
        for (const cookie of [undefined, forged.cookie, `${authCookieName(t.apiUrl)}=garbage`]) {
          const req = new Request('http://shop.test/', { headers: cookie ? { cookie } : {} });
          const { storefront } = createStorefrontServerClient(req, new Headers(), { ...env('production'), anonymousSignIn: false });
          await expect(storefront.cart.get(), String(cookie)).rejects.toBeInstanceOf(SessionRequiredError);
        }
        expect(await users()).toBe(before);
        // The victim's own cookie still works with it.
        const own = await request(nextCookieHeader(undefined, victim.set), 'development', ({ storefront }) => storefront.ensureSession());
        expect(own.result).toBe(victim.result);
      } finally {
        await db.end();
      }
    },
  );

  it('a request without cookies is another shopper', async () => {
    const a = await request(undefined, 'development', ({ storefront }) => storefront.ensureSession());
    const b = await request(undefined, 'development', ({ storefront }) => storefront.ensureSession());
    expect(a.result).not.toBe(b.result);
  });
});
