/**
 * Before every page and Server Action: the session cookies are renewed (a
 * fresh 7-day Max-Age on every request) and an expired access token is
 * refreshed, here, because Server Components cannot write cookies. The page
 * then reads the cookies as the browser will hold them.
 *
 * A visitor without a session gets none here (no anonymous sign-in for a
 * look at the catalog); the first cart change signs in (app/actions.ts).
 * A refresh counts under the shopper's address (lib/env.ts, serverEnv).
 */
import { createStorefrontServerClient } from '@mp-checkout/storefront/server';
import { type NextRequest, NextResponse } from 'next/server';
import { serverEnv, storefrontEnv } from './lib/env';
import { hasSessionCookie } from './lib/session';

export async function proxy(request: NextRequest): Promise<NextResponse> {
  const env = storefrontEnv();
  if (!hasSessionCookie(request.cookies.getAll().map((c) => c.name), env.supabaseUrl)) return NextResponse.next();
  const headers = new Headers();
  // No anonymous sign-in here: a session that is not valid (forged, or its
  // user gone) is dropped, its cookies deleted; the next cart change starts one.
  const { storefront, cookies } = createStorefrontServerClient(request, headers, { ...serverEnv(env, request.headers), anonymousSignIn: false });
  try {
    // Verifies the session and refreshes it when it expired.
    await storefront.ensureSession();
  } catch {
    // No valid session (its cookies are deleted below), or Supabase unreachable (the page says so).
  }
  for (const c of cookies()) {
    if (c.options.maxAge === 0) request.cookies.delete(c.name);
    else request.cookies.set(c.name, c.value);
  }
  const response = NextResponse.next({ request });
  for (const line of headers.getSetCookie()) response.headers.append('set-cookie', line);
  const cacheControl = headers.get('cache-control');
  if (cacheControl) response.headers.set('cache-control', cacheControl);
  return response;
}

export const config = {
  // Pages and Server Actions; not the build's static files.
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
