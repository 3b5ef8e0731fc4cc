/**
 * The shopper's storefront on the server, from the session cookies.
 *
 * The session is Supabase Auth's, in the cookies @mp-checkout/storefront/server
 * writes (HttpOnly, SameSite=Lax, Secure in production, 7 days). Three places
 * touch it, as Next.js allows:
 *   - proxy.ts, before every request: renews the cookies (a fresh Max-Age) and
 *     refreshes an expired access token, and hands the page what it wrote;
 *   - pages (Server Components) read it and cannot write cookies: they never
 *     sign in (no valid session: an empty cart; nobody is created);
 *   - Server Actions may write: the first cart change signs in anonymously,
 *     and `commit()` sets what the library wrote through `cookies()`.
 * Each forwards the shopper's address to Supabase (lib/env.ts, serverEnv).
 */
import { SessionRequiredError } from '@mp-checkout/storefront';
import { authCookieName, createStorefrontServerClient, type StorefrontServerClient } from '@mp-checkout/storefront/server';
import { cookies, headers } from 'next/headers';
import { cache } from 'react';
import { serverEnv, storefrontEnv } from './env';

/** Whether a cookie jar holds the Auth session (one cookie, or its chunks `<name>.0`, `<name>.1`...). */
export function hasSessionCookie(names: Iterable<string>, supabaseUrl: string): boolean {
  const name = authCookieName(supabaseUrl);
  for (const n of names) if (n === name || (n.startsWith(`${name}.`) && /^\d+$/.test(n.slice(name.length + 1)))) return true;
  return false;
}

async function fromCookies(anonymousSignIn: boolean): Promise<StorefrontServerClient & { hasSession: boolean }> {
  // cookies() first: it makes every page dynamic (rendered per request), never prerendered at build.
  const jar = await cookies();
  const env = storefrontEnv();
  const all = jar.getAll();
  const request = { headers: new Headers({ cookie: all.map((c) => `${c.name}=${c.value}`).join('; ') }) };
  // Response headers nobody reads: proxy.ts already wrote this request's cookies.
  const client = createStorefrontServerClient(request, new Headers(), { ...serverEnv(env, new Headers(await headers())), anonymousSignIn });
  return { ...client, hasSession: hasSessionCookie(all.map((c) => c.name), env.supabaseUrl) };
}

/** For pages: one client per request, shared by the header and the page; it never signs in. */
export const pageStorefront = cache(() => fromCookies(false));

/** What a page shows for a shopper it cannot name (no session cookie, or one that is not valid): `empty`. */
export async function forShopper<T>(empty: T, read: (s: StorefrontServerClient['storefront']) => Promise<T>): Promise<T> {
  const { storefront, hasSession } = await pageStorefront();
  if (!hasSession) return empty;
  try {
    return await read(storefront);
  } catch (err) {
    if (err instanceof SessionRequiredError) return empty;
    throw err;
  }
}

/** For pages: the cart, read once per request (null for no shopper). */
export const pageCart = cache(() => forShopper(null, (s) => s.cart.get()));

/** For Server Actions: a client whose cookie writes `commit()` sets on the response. */
export async function actionStorefront() {
  const client = await fromCookies(true);
  const jar = await cookies();
  return {
    ...client,
    commit() {
      for (const c of client.cookies()) {
        const o = c.options;
        jar.set(c.name, c.value, {
          path: o.path ?? '/',
          httpOnly: o.httpOnly ?? true,
          secure: o.secure ?? false,
          sameSite: o.sameSite === 'strict' || o.sameSite === 'none' ? o.sameSite : 'lax',
          ...(o.maxAge !== undefined ? { maxAge: o.maxAge } : {}),
          ...(o.expires ? { expires: o.expires } : {}),
          ...(o.domain ? { domain: o.domain } : {}),
        });
      }
    },
  };
}
