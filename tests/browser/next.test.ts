/**
 * The Next.js storefront (web/next, built on the packed library and served by
 * its server.mjs, `next start` in production mode) in Debian's Chromium against the whole local
 * stack: the session cookie's flags and renewal, the cart across reloads,
 * browser and server restarts, a cart change with JavaScript off, a purchase
 * through the sandbox with APRO, and no secret reaching the browser.
 *
 * The build is made once per source change (web/next and web/src newer than
 * web/next/.next/BUILD_ID) and reused. Screenshots: test-results/next/.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextDir, type NextServer, startNextServer } from '../../dev/next/storefront.ts';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { faketimeLibrary } from '../../dev/prereqs.ts';
import { type ParsedSetCookie, parseSetCookie } from '../helpers/http.ts';
import { browserLaunchOptions, type BrowserStack, createProduct, ensureNextBuilt, fillCheckout, startBrowserStack } from '../helpers/browser.ts';

const SHOTS = join(repoRoot, 'test-results', 'next');
const DAY = 24 * 60 * 60;
const WEEK = 7 * DAY;
const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, locale: 'es-AR', timezoneId: 'America/Argentina/Buenos_Aires' };

let env: BrowserStack;
let next: NextServer;
let url: string;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await ensureNextBuilt();
  env = await startBrowserStack('next-browser', {
    serveStorefront: false,
    serveNext: true,
    sandbox: { retrySchedule: [200, 400, 800], webhookTimeoutMs: 5000 },
    auth: { anonymousUsersPerHour: 10_000 },
  });
  next = env.stack.nextServer!;
  url = env.stack.nextUrl;
}, 600_000);

afterAll(async () => {
  if (next !== env?.stack.nextServer) await next?.stop();
  await env?.stop();
});

/** Stops the storefront's server and starts it again on the same port. */
async function restartNext(): Promise<void> {
  await next.stop();
  next = await startNextServer({
    port: next.port,
    env: { SUPABASE_URL: env.stack.apiUrl, SUPABASE_ANON_KEY: env.stack.anonKey, SUPABASE_SECRET_KEY: env.stack.secretKey, SITE_URL: url },
  });
}

/**
 * Chromium on a profile of its own, its clock `aheadSeconds` in the future
 * where cookies live: the network service (a utility process) runs under
 * libfaketime, so it stores, expires and renews cookies by that clock. Only
 * that process: the whole browser under libfaketime takes minutes to start.
 */
function openProfile(profile: string, aheadSeconds = 0): Promise<BrowserContext> {
  const lib = faketimeLibrary();
  if (aheadSeconds && !lib) throw new Error('libfaketime is missing: apt-get install libfaketime (npm test installs it as root)');
  const clock = aheadSeconds ? [`--utility-cmd-prefix=env LD_PRELOAD=${lib} FAKETIME=+${aheadSeconds} FAKETIME_DONT_FAKE_MONOTONIC=1`] : [];
  return chromium.launchPersistentContext(profile, { ...browserLaunchOptions, args: [...(browserLaunchOptions.args ?? []), ...clock], ...phone });
}

/** Seconds from now (the real clock) until the session cookie expires, as the browser keeps it; undefined without one. */
async function sessionExpiresIn(context: BrowserContext): Promise<number | undefined> {
  const c = (await context.cookies(url)).find((x) => isAuthCookie(x.name));
  return c ? c.expires - Date.now() / 1000 : undefined;
}

const isAuthCookie = (name: string) => /^sb-[a-z0-9]+-auth-token(\.\d+)?$/.test(name);

/** The session cookies a response sets. */
async function sessionSetCookies(res: Response | null): Promise<ParsedSetCookie[]> {
  if (!res) return [];
  return (await res.headerValues('set-cookie')).flatMap((h) => h.split('\n')).map(parseSetCookie).filter((c) => isAuthCookie(c.name));
}

const product = (title: string, stock: number) => createProduct(env.db, title, stock, { price: 18500, skuPrefix: 'NXT' });

async function cartCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('cart-count').getAttribute('data-count'));
}

/** The catalog's "Agregar" for one variant; the Server Action ends in a redirect to the catalog. */
async function addToCart(page: Page, sku: string, quantity = 1): Promise<Response | null> {
  if (!page.url().startsWith(url)) await page.goto(`${url}/`);
  await page.getByTestId(`qty-${sku}`).fill(String(quantity));
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().startsWith(url)),
    page.getByTestId(`add-${sku}`).click(),
  ]);
  await page.waitForURL(new RegExp(`\\?ok=${sku}$`));
  return response;
}

async function cartQuantity(page: Page, sku: string): Promise<string | null> {
  await page.goto(`${url}/cart`);
  const line = page.getByTestId(`cart-line-${sku}`);
  return (await line.count()) ? line.getAttribute('data-quantity') : null;
}

describe('Next.js storefront in Chromium', () => {
  it('with JavaScript off: the catalog and the cart are server-rendered, and a product is added by posting the form', async () => {
    const context = await env.browser.newContext({ ...phone, javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${url}/`);
      await page.getByTestId('catalog').waitFor();
      // es-AR prices, rendered by the server.
      expect(await page.getByTestId('price-REM-NEG-M').textContent()).toMatch(/\$\s?12\.999,00/);
      expect(await cartCount(page)).toBe(0);
      await page.screenshot({ path: join(SHOTS, '01-catalog-no-js.png') });

      const { sku } = await product('Poncho de lana', 4);
      await page.reload();
      await addToCart(page, sku, 2);
      expect(await page.getByTestId('notice').textContent()).toBe('Agregado al carrito.');
      expect(await cartCount(page)).toBe(2);
      expect(await cartQuantity(page, sku)).toBe('2');
      // Changing the quantity is a Server Action too.
      await page.getByTestId(`cart-qty-${sku}`).fill('3');
      await page.getByTestId(`cart-update-${sku}`).click();
      await page.waitForURL(new RegExp(`/cart\\?ok=${sku}$`));
      expect(await page.getByTestId(`cart-line-${sku}`).getAttribute('data-quantity')).toBe('3');
      await page.screenshot({ path: join(SHOTS, '02-cart-no-js.png') });
      // Asking for more than there is: a clear message, the cart unchanged.
      await page.getByTestId(`cart-qty-${sku}`).fill('5');
      await page.getByTestId(`cart-update-${sku}`).click();
      await page.waitForURL(/\/cart\?error=/);
      expect(await page.getByTestId('alert').getAttribute('data-code')).toBe('insufficient_stock');
      expect(await page.getByTestId('alert').textContent()).toBe('No hay stock suficiente para esa cantidad.');
      expect(await page.getByTestId(`cart-line-${sku}`).getAttribute('data-quantity')).toBe('3');
    } finally {
      await context.close();
    }
  });

  it('the session cookie is HttpOnly, SameSite=Lax, Secure (its server runs in production), 7 days; document.cookie cannot see it', async () => {
    const context = await env.browser.newContext(phone);
    try {
      const page = await context.newPage();
      const { sku } = await product('Taza de cerámica', 5);
      await page.goto(`${url}/`);
      const set = await sessionSetCookies(await addToCart(page, sku));
      // The first cart change signed in: its response sets the session.
      expect(set.length).toBeGreaterThan(0);
      for (const c of set) {
        expect(c.attrs).toMatchObject({ httponly: true, secure: true, path: '/', 'max-age': String(WEEK) });
        expect(String(c.attrs['samesite']).toLowerCase()).toBe('lax');
      }
      // What Chromium stored.
      const stored = (await context.cookies(url)).filter((c) => isAuthCookie(c.name));
      expect(stored.map((c) => c.name).sort()).toEqual(set.map((c) => c.name).sort());
      for (const c of stored) {
        expect(c).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
        expect(c.expires).toBeGreaterThan(Date.now() / 1000 + WEEK - 600);
        expect(c.expires).toBeLessThan(Date.now() / 1000 + WEEK + 600);
      }
      // The page's JavaScript cannot read it (nor any other cookie: there is none).
      expect(await page.evaluate(() => document.cookie)).toBe('');
      expect(await cartCount(page)).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('the cart survives a reload, a browser restart with the same profile, and a restart of the Next.js server', async () => {
    const profile = mkdtempSync(join(tmpdir(), 'next-profile-'));
    const open = () => openProfile(profile);
    let context: BrowserContext = await open();
    try {
      const { sku } = await product('Yerbera de lata', 5);
      let page = context.pages()[0] ?? (await context.newPage());
      await page.goto(`${url}/`);
      await addToCart(page, sku, 2);
      await page.reload();
      expect(await cartCount(page)).toBe(2);

      await context.close();
      context = await open();
      page = context.pages()[0] ?? (await context.newPage());
      expect(await cartQuantity(page, sku)).toBe('2');

      await restartNext();
      await page.reload();
      expect(await page.getByTestId(`cart-line-${sku}`).getAttribute('data-quantity')).toBe('2');
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it('Max-Age is 7 days, renewed by every request: a day later the cookie gets a fresh 7 days, and outlives the first week', async () => {
    const renewed = mkdtempSync(join(tmpdir(), 'next-profile-'));
    const idle = mkdtempSync(join(tmpdir(), 'next-profile-'));
    const { sku } = await product('Bombilla de alpaca', 5);
    const visit = async (profile: string, aheadSeconds: number, path: string, act?: (page: Page) => Promise<unknown>) => {
      const context = await openProfile(profile, aheadSeconds);
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        await page.goto(`${url}${path}`);
        await act?.(page);
        const line = page.getByTestId(`cart-line-${sku}`);
        return { quantity: (await line.count()) ? await line.getAttribute('data-quantity') : null, expiresIn: await sessionExpiresIn(context) };
      } finally {
        await context.close();
      }
    };
    try {
      // Today: two shoppers put the product in their carts.
      for (const profile of [renewed, idle]) {
        const today = await visit(profile, 0, '/', (page) => addToCart(page, sku));
        expect(today.expiresIn! / DAY).toBeCloseTo(7, 2);
      }
      // A day later (the browser's cookie clock), one of them looks at the cart again: the cookie now expires 7 days from then.
      const dayLater = await visit(renewed, DAY, '/cart');
      expect(dayLater.quantity).toBe('1');
      expect(dayLater.expiresIn! / DAY).toBeCloseTo(8, 2);
      // Seven and a half days after the first visit: the renewed cookie still holds the cart; the other one expired.
      const later = 7.5 * DAY;
      expect((await visit(renewed, later, '/cart')).quantity).toBe('1');
      const gone = await visit(idle, later, '/cart');
      expect(gone.quantity).toBeNull();
      expect(gone.expiresIn).toBeUndefined();
    } finally {
      rmSync(renewed, { recursive: true, force: true });
      rmSync(idle, { recursive: true, force: true });
    }
  }, 240_000); // five browser starts

  it('checkout through the sandbox with APRO ends on a server-rendered paid order, and the orders page lists it', async () => {
    const context = await env.browser.newContext(phone);
    try {
      const page = await context.newPage();
      const { sku } = await product('Mate imperial', 3);
      await page.goto(`${url}/`);
      await addToCart(page, sku, 2);
      await page.goto(`${url}/`);
      await page.screenshot({ path: join(SHOTS, '03-catalog.png') });
      await page.goto(`${url}/cart`);
      await page.getByTestId('checkout-email').fill('ana.garcia@example.com');
      await page.getByTestId('checkout-submit').click();
      // Refused by the library's validation on the server: messages per field, the values kept.
      await page.getByTestId('error-name').waitFor();
      expect(await page.getByTestId('checkout-email').inputValue()).toBe('ana.garcia@example.com');
      await fillCheckout(page);
      await page.screenshot({ path: join(SHOTS, '04-cart-checkout.png'), fullPage: true });
      await page.getByTestId('checkout-submit').click();
      await page.waitForURL(/\/checkout\/v1\/redirect\?pref_id=/);
      const prefId = new URL(page.url()).searchParams.get('pref_id')!;
      expect(await page.locator('#total').getAttribute('data-amount')).toBe(String(2 * 18500));
      await page.locator('#payment-type-credit_card').check();
      await page.locator('#cardholder-name').fill('APRO');
      const returned = page.waitForResponse((r) => r.url().startsWith(`${url}/checkout/return?`) && r.request().resourceType() === 'document');
      await page.locator('#pay-button').click();
      // auto_return brings the buyer back to this storefront (its return_url), where the server asked payment-status.
      const html = await (await returned).text();
      expect(html).toContain('data-status="paid"');
      const orderNumber = (await page.getByTestId('order-number').textContent())!;
      expect(html).toContain(orderNumber);
      expect(await page.getByTestId(`order-line-${sku}`).getAttribute('data-quantity')).toBe('2');
      expect(await cartCount(page)).toBe(0);
      await page.screenshot({ path: join(SHOTS, '05-order-paid.png') });

      const { rows } = await env.db.query<{ orders: number; status: string }>(
        `select (select count(*)::int from public.orders o where o.order_session_id = s.id) as orders, s.status::text as status
           from public.order_sessions s where s.preference_id = $1`,
        [prefId],
      );
      expect(rows).toEqual([{ orders: 1, status: 'paid' }]);

      const orders = await page.goto(`${url}/orders`);
      expect(await orders!.text()).toContain(orderNumber);
      await page.getByTestId(`order-${orderNumber}`).waitFor();
    } finally {
      await context.close();
    }
  });

  it('a session cookie that is not valid (garbage, a forged token) makes nobody: pages answer with an empty cart, no shopper is created', async () => {
    const users = async () => (await env.db.query<{ n: number }>('select count(*)::int as n from auth.users')).rows[0]!.n;
    const name = `sb-${new URL(env.stack.apiUrl).hostname.split('.')[0]}-auth-token`;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const forgedJwt = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: crypto.randomUUID(), role: 'authenticated', exp: 4102444800 })}.c2lnbmF0dXJl`;
    const session = { access_token: forgedJwt, refresh_token: 'nope', expires_at: 4102444800, expires_in: 3600, token_type: 'bearer', user: { id: 'x' } };
    const before = await users();
    for (const cookie of [`${name}=garbage`, `${name}=base64-${b64(session)}`]) {
      for (const path of ['/', '/cart', '/orders', '/checkout/return?payment_id=1']) {
        const res = await fetch(`${url}${path}`, { headers: { cookie } });
        expect(res.status, `${path} with ${cookie.slice(0, 40)}`).toBe(200);
        const html = await res.text();
        expect(html).toContain('data-testid="cart-count" data-count="0"');
        if (path === '/cart') expect(html).toContain('data-testid="cart-empty"');
      }
    }
    expect(await users()).toBe(before);
  });

  it('no key reaches the browser: not in the pages, the JavaScript and CSS, the cookies or storage (the secret key the server forwards addresses with, the service role key, the JWT secret, not even the anon key)', async () => {
    const secrets = { secretKey: env.stack.secretKey, serviceRoleKey: env.stack.serviceRoleKey, jwtSecret: env.stack.jwtSecret, anonKey: env.stack.anonKey };
    const context = await env.browser.newContext(phone);
    const bodies: { url: string; body: string }[] = [];
    context.on('response', (r) => {
      if (r.url().startsWith(url)) void r.text().then((body) => bodies.push({ url: r.url(), body }), () => undefined);
    });
    try {
      const page = await context.newPage();
      const { sku } = await product('Termo de acero', 5);
      await page.goto(`${url}/`);
      await addToCart(page, sku);
      for (const path of ['/cart', '/orders', '/checkout/return?payment_id=1&external_reference=x']) await page.goto(`${url}${path}`);
      await page.goto(`${url}/cart`);
      const storage = await page.evaluate(() => JSON.stringify({ cookie: document.cookie, local: { ...localStorage }, session: { ...sessionStorage } }));
      // @supabase/ssr stores the session as "base64-" + base64url(JSON): decoded, so nothing hides in the encoding.
      const cookies = (await context.cookies(url))
        .map((c) => `${c.name}=${c.value}\n${Buffer.from(c.value.replace(/^base64-/, ''), 'base64url').toString('utf8')}`)
        .join('\n');
      // Everything the build ships to browsers, whether or not these pages loaded it.
      const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
      const statics = files(join(nextDir, '.next', 'static')).map((f) => ({ url: f, body: readFileSync(f, 'utf8') }));
      expect(bodies.some((b) => b.url.includes('/_next/static/') && b.url.endsWith('.js'))).toBe(true);
      expect(statics.length).toBeGreaterThan(0);

      for (const [what, secret] of Object.entries(secrets)) {
        const leaks = [...bodies, ...statics, { url: 'storage', body: storage }, { url: 'cookies', body: cookies }].filter((b) => b.body.includes(secret));
        expect(leaks.map((l) => l.url), what).toEqual([]);
      }
    } finally {
      await context.close();
    }
  });
});
