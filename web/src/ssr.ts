/**
 * Server-side helpers for server-rendered storefronts with `@supabase/ssr`.
 *
 * The shopper's session lives in cookies that the browser's JavaScript cannot
 * read (README.md, "Glossary": the shopper's Auth session):
 *   - `httpOnly`, `sameSite: 'lax'`, `path: '/'`;
 *   - `secure` in production (`NODE_ENV=production`, or the `secure` option);
 *   - `Max-Age` 7 days, renewed on every request: the auth cookies the request
 *     carries are written back with a fresh Max-Age even when the session did
 *     not change, so an active shopper never loses the cart.
 *
 * `@supabase/ssr` writes its cookies with a 400-day Max-Age whatever
 * `cookieOptions.maxAge` says, so `setAll` below enforces ours.
 *
 * Usage with any Request/Response framework (Remix/React Router, Hono, Astro,
 * SvelteKit, a plain `node:http` adapter...):
 *
 * ```ts
 * const headers = new Headers();
 * const { storefront } = createStorefrontServerClient(request, headers, {
 *   supabaseUrl: process.env.SUPABASE_URL!, supabaseAnonKey: process.env.SUPABASE_ANON_KEY!,
 * });
 * const cart = await storefront.cart.get();   // signs in anonymously on a first visit
 * return new Response(render(cart), { headers });
 * ```
 * Create one client per request; never share it between requests.
 *
 * Runs on Node 20 with no flag: see `serverRealtimeOptions()`.
 */
import { type CookieOptions, createServerClient, parseCookieHeader, serializeCookieHeader } from '@supabase/ssr';
import type { SupabaseClient, SupabaseClientOptions } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { ipAddress, SB_FORWARDED_FOR } from '../../edge/_shared/client-address.ts';
import type { Database } from './database.types.ts';
import { createStorefront, type Storefront, type StorefrontOptions } from './storefront.ts';

/** 7 days, in seconds. */
export const SESSION_COOKIE_MAX_AGE = 7 * 24 * 60 * 60;

export interface StorefrontServerEnv {
  supabaseUrl: string;
  supabaseAnonKey: string;
  functionsUrl?: string;
  /** Defaults to `process.env.NODE_ENV` when available. */
  nodeEnv?: string;
  /** The CAPTCHA token for a sign-in made during this request (e.g. from the submitted form), when CAPTCHA is on. */
  captchaToken?: StorefrontOptions['captchaToken'];
  /** false where the response cannot carry a new session (see StorefrontOptions.anonymousSignIn). */
  anonymousSignIn?: boolean;
  /** The store's locale: the language of the library's validation messages (see StorefrontOptions.locale). */
  locale?: string;
  /**
   * Count this request under the shopper's address rather than this server's
   * (Supabase's "IP address forwarding"): see ShopperAddressForwarding. A
   * server-side setting only; its secret key must never reach a browser.
   */
  forwardShopperAddress?: ShopperAddressForwarding;
}

/**
 * Supabase counts sign-ins (Auth's rate limits per IP) and checkouts (the
 * units one address's checkouts may hold) by the caller's address, and for a
 * server-rendered storefront the caller is its server: every shopper would
 * share one address. With this, the requests this client makes to Auth
 * (`/auth/v1/`) and to the Edge Functions (`/functions/v1/`), and only those,
 * carry the project's secret key as `apikey` and the shopper's address in
 * `Sb-Forwarded-For`. Supabase Auth honours it when IP address forwarding is
 * enabled for the project; create-preference always does. Every other
 * request (the Data API) keeps the anon key, and nothing is sent to any other
 * origin.
 */
export interface ShopperAddressForwarding {
  /** The project's secret API key (`sb_secret_…`). Publishable, anon and legacy service_role keys cannot forward. */
  secretKey: string;
  /**
   * The shopper's IP address, as your server determines it from the request
   * under a trust rule for the proxies in front of it (web/next/server.mjs is
   * one). Undefined, or anything that is not one IP address: nothing is
   * forwarded and the anon key is used.
   */
  address: string | undefined;
}

export interface SessionCookieSettings {
  /** Force `Secure` on or off (default: on when NODE_ENV is production). */
  secure?: boolean;
  /** Default 7 days. */
  maxAgeSeconds?: number;
  domain?: string;
  path?: string;
  /** Cookie name (default `sb-<project ref>-auth-token`, as supabase-js names it). */
  name?: string;
}

type RealtimeOptions = NonNullable<SupabaseClientOptions<'public'>['realtime']>;

/**
 * supabase-js's `realtime` option for a client made on a server. supabase-js
 * builds its Realtime client as soon as a client is created, and that needs a
 * WebSocket class: Node 22+, Deno and Bun have a global one, Node 20 only
 * behind `--experimental-websocket`, so there `createClient` throws "Node.js
 * detected but native WebSocket not found". Where the runtime has none, this
 * hands it `ws` (the WebSocket supabase-js documents for that case); where it
 * has one, it changes nothing. createStorefrontServerClient uses it; pass it
 * to your own server-side `createClient(url, key, { realtime: serverRealtimeOptions() })`.
 */
export function serverRealtimeOptions(): RealtimeOptions {
  if (typeof globalThis.WebSocket === 'function') return {};
  // `ws` implements the WebSocket interface Realtime uses; its class type is
  // not the DOM's, which is all the cast bridges.
  return { transport: WebSocket as unknown as RealtimeOptions['transport'] };
}

export function isProduction(nodeEnv?: string): boolean {
  const env = nodeEnv ?? (typeof process !== 'undefined' ? process.env['NODE_ENV'] : undefined);
  return env === 'production';
}

/** The options every session cookie is written with. */
export function sessionCookieOptions(settings: SessionCookieSettings = {}, nodeEnv?: string): CookieOptions {
  return {
    path: settings.path ?? '/',
    httpOnly: true,
    secure: settings.secure ?? isProduction(nodeEnv),
    sameSite: 'lax',
    maxAge: settings.maxAgeSeconds ?? SESSION_COOKIE_MAX_AGE,
    ...(settings.domain ? { domain: settings.domain } : {}),
  };
}

/** The storage key supabase-js uses by default: `sb-<first label of the host>-auth-token`. */
export function authCookieName(supabaseUrl: string): string {
  return `sb-${new URL(supabaseUrl).hostname.split('.')[0]}-auth-token`;
}

/** The cookie itself or one of its chunks (`<name>.0`, `<name>.1`, ...). */
function isAuthCookie(cookieName: string, key: string): boolean {
  if (cookieName === key) return true;
  const m = /^(.*)\.(0|[1-9][0-9]*)$/.exec(cookieName);
  return m?.[1] === key;
}

export interface CookieToSet {
  name: string;
  value: string;
  options: CookieOptions;
}

/**
 * The cookie plumbing of one request, independent of any framework:
 * `getAll` reads the request's cookies (plus what this request set),
 * `setAll` writes `Set-Cookie` headers with our options, and `renew()` re-sends
 * the session cookies the request came with (called once at creation).
 */
export function sessionCookies(
  requestCookieHeader: string | null,
  responseHeaders: Headers,
  options: { cookieName: string; cookie: CookieOptions },
) {
  const current = new Map(parseCookieHeader(requestCookieHeader ?? '').map((c) => [c.name, c.value ?? '']));
  const written = new Map<string, CookieToSet>();

  const flush = () => {
    // Rewrite our Set-Cookie headers so each cookie appears once (the last write wins).
    const others = responseHeaders.getSetCookie().filter((line) => {
      const name = line.slice(0, line.indexOf('='));
      return !written.has(name);
    });
    responseHeaders.delete('set-cookie');
    for (const line of others) responseHeaders.append('set-cookie', line);
    for (const c of written.values()) responseHeaders.append('set-cookie', serializeCookieHeader(c.name, c.value, c.options));
  };

  const write = (name: string, value: string, opts: CookieOptions) => {
    const removal = opts.maxAge === 0 || (opts.expires !== undefined && opts.expires.getTime() <= Date.now());
    const merged: CookieOptions = removal
      ? { ...opts, ...options.cookie, maxAge: 0 }
      // Ours win over @supabase/ssr's defaults (its Max-Age is 400 days).
      : { ...opts, ...options.cookie };
    delete (merged as { name?: string }).name;
    written.set(name, { name, value, options: merged });
    if (removal) current.delete(name);
    else current.set(name, value);
  };

  return {
    getAll: () => [...current.entries()].map(([name, value]) => ({ name, value })),
    setAll: (cookies: CookieToSet[], headers?: Record<string, string>) => {
      for (const c of cookies) write(c.name, c.value, c.options);
      for (const [k, v] of Object.entries(headers ?? {})) responseHeaders.set(k, v);
      flush();
    },
    renew: () => {
      let any = false;
      for (const [name, value] of current) {
        if (isAuthCookie(name, options.cookieName) && !written.has(name)) {
          write(name, value, options.cookie);
          any = true;
        }
      }
      if (any) {
        // A response that carries a session cookie must never be cached by a CDN.
        responseHeaders.set('cache-control', 'private, no-cache, no-store, must-revalidate, max-age=0');
        flush();
      }
    },
    written: () => [...written.values()],
  };
}

export interface StorefrontServerClient {
  supabase: SupabaseClient<Database>;
  storefront: Storefront;
  /**
   * Every cookie this request wrote so far (renewals, sign-ins, refreshes),
   * with its options: for frameworks that set cookies through their own API
   * rather than response headers (Next.js: `cookies().set(name, value, options)`).
   */
  cookies(): CookieToSet[];
}

/**
 * The fetch a server-side supabase-js client (and the storefront's function
 * calls) use to forward the shopper's address: ShopperAddressForwarding says
 * what it changes. `publicKey` is the key the client was made with (the anon
 * or publishable key): auth-js sends it as a Bearer token where there is no
 * session, which becomes the secret key too, as a client made with the
 * secret key sends it.
 */
export function shopperAddressFetch(
  env: { supabaseUrl: string; supabaseAnonKey: string; functionsUrl?: string | undefined },
  forwarding: ShopperAddressForwarding,
  baseFetch: typeof fetch = (...args) => fetch(...args),
): typeof fetch {
  const address = ipAddress(forwarding.address ?? '');
  if (!address || !forwarding.secretKey) return baseFetch;
  const base = env.supabaseUrl.replace(/\/+$/, '');
  const prefixes = [`${base}/auth/v1/`, `${(env.functionsUrl ?? `${base}/functions/v1`).replace(/\/+$/, '')}/`].map((p) => new URL(p));
  const forwarded = (url: URL) => prefixes.some((p) => url.origin === p.origin && url.pathname.startsWith(p.pathname));
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!forwarded(url)) return baseFetch(input, init);
    const headers = new Headers(input instanceof Request ? input.headers : undefined);
    new Headers(init?.headers).forEach((value, name) => headers.set(name, value));
    headers.set('apikey', forwarding.secretKey);
    if (headers.get('authorization') === `Bearer ${env.supabaseAnonKey}`) headers.set('authorization', `Bearer ${forwarding.secretKey}`);
    headers.set(SB_FORWARDED_FOR, address);
    return baseFetch(input, { ...init, headers });
  };
}

/**
 * A supabase-js server client and a storefront for one request. Session
 * cookies are read from `request` and written to `responseHeaders` (copy them
 * onto your Response). The request's session cookies are renewed at once.
 */
export function createStorefrontServerClient(
  request: Request | { headers: Headers },
  responseHeaders: Headers,
  env: StorefrontServerEnv,
  cookieSettings: SessionCookieSettings = {},
): StorefrontServerClient {
  const cookieName = cookieSettings.name ?? authCookieName(env.supabaseUrl);
  const cookie = sessionCookieOptions(cookieSettings, env.nodeEnv);
  const jar = sessionCookies(request.headers.get('cookie'), responseHeaders, { cookieName, cookie });
  // @supabase/ssr is a CommonJS package: its types name supabase-js's `.d.cts`
  // declarations while ours name the `.d.mts` ones, and TypeScript treats the
  // two SupabaseClient classes as unrelated. Same API, so we cast here, once.
  const forwarding = env.forwardShopperAddress ? shopperAddressFetch(env, env.forwardShopperAddress) : undefined;
  const supabase = createServerClient<Database>(env.supabaseUrl, env.supabaseAnonKey, {
    realtime: serverRealtimeOptions(),
    ...(forwarding ? { global: { fetch: forwarding } } : {}),
    cookieOptions: { ...cookie, name: cookieName },
    cookies: { getAll: jar.getAll, setAll: jar.setAll },
  }) as unknown as SupabaseClient<Database>;
  jar.renew();
  const storefront = createStorefront({
    supabase,
    ...(env.functionsUrl ? { functionsUrl: env.functionsUrl } : {}),
    ...(forwarding ? { fetch: forwarding } : {}),
    ...(env.captchaToken ? { captchaToken: env.captchaToken } : {}),
    ...(env.anonymousSignIn === false ? { anonymousSignIn: false } : {}),
    ...(env.locale ? { locale: env.locale } : {}),
  });
  return { supabase, storefront, cookies: jar.written };
}
