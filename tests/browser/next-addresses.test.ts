/**
 * The Next.js storefront's shoppers count under their own addresses, not its
 * server's: through the whole local stack (web/next/server.mjs trusting
 * 127.0.0.1 as the proxy in front of it, the local Auth with IP address
 * forwarding on, the real create-preference), over plain HTTP as a browser
 * with JavaScript off posts the Server Actions' forms.
 *
 *   - 35 shoppers behind the proxy (35 forwarded addresses) sign in within the
 *     hour: all succeed; 31 from one forwarded address: the 31st is refused
 *     (Auth's anonymous_users limit, 30 an hour per address).
 *   - A client that is not the trusted proxy (127.0.0.2) cannot choose its
 *     address with X-Forwarded-For; a browser calling Auth itself with the
 *     anon key cannot with Sb-Forwarded-For.
 *   - The checkouts' cap per address (max_units_per_address) counts each
 *     shopper's address behind the server.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserStack, createProduct, ensureNextBuilt, startBrowserStack } from '../helpers/browser.ts';
import { parseSetCookie } from '../helpers/http.ts';

let env: BrowserStack;
let url: string;

beforeAll(async () => {
  await ensureNextBuilt();
  env = await startBrowserStack('next-addresses', {
    serveStorefront: false,
    serveNext: true,
    functions: ['create-preference'],
    // Supabase's defaults (30 anonymous sign-ins an hour per address), with forwarding enabled for the project.
    auth: { sbForwardedFor: true },
    nextEnv: { TRUSTED_PROXIES: '127.0.0.1' },
  });
  url = env.stack.nextUrl;
}, 600_000);

afterAll(async () => {
  await env?.stop();
});

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#x27;|&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The fields of the page's form that contains `marker`, as the browser would post them (hidden inputs included). */
function formFields(html: string, marker: string): FormData {
  const form = [...html.matchAll(/<form\b[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes(marker));
  if (!form) throw new Error(`no form with ${marker}`);
  const data = new FormData();
  for (const [input] of form.matchAll(/<input\b[^>]*>/g)) {
    const name = /\sname="([^"]*)"/.exec(input)?.[1];
    if (name) data.append(decode(name), decode(/\svalue="([^"]*)"/.exec(input)?.[1] ?? ''));
  }
  return data;
}

interface Answer {
  status: number;
  location: string;
  cookies: string[];
  html: string;
}

/**
 * One request to the storefront from `localAddress` (127.0.0.1 is the trusted
 * proxy, which names the shopper in X-Forwarded-For), redirects not followed.
 */
async function send(path: string, init: { localAddress?: string; forwardedFor?: string; cookie?: string; form?: FormData } = {}): Promise<Answer> {
  const headers: Record<string, string> = {
    origin: url,
    ...(init.forwardedFor ? { 'x-forwarded-for': init.forwardedFor } : {}),
    ...(init.cookie ? { cookie: init.cookie } : {}),
  };
  let body: Buffer | undefined;
  if (init.form) {
    const r = new Request(url, { method: 'POST', body: init.form });
    body = Buffer.from(await r.arrayBuffer());
    headers['content-type'] = r.headers.get('content-type')!;
    headers['content-length'] = String(body.length);
  }
  const u = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: body ? 'POST' : 'GET',
        localAddress: init.localAddress ?? '127.0.0.1',
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            location: String(res.headers.location ?? ''),
            cookies: (res.headers['set-cookie'] ?? []).map((l) => parseSetCookie(l)).map((c) => `${c.name}=${c.value}`),
            html: Buffer.concat(chunks).toString('utf8'),
          }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A shopper's first cart change (the "Agregar" form, JavaScript off): the anonymous sign-in happens here. */
async function addToCart(sku: string, quantity: number, from: { localAddress?: string; forwardedFor?: string; cookie?: string }): Promise<Answer> {
  const catalog = await send('/', from);
  const form = formFields(catalog.html, `value="${sku}"`);
  form.set('quantity', String(quantity));
  return send('/', { ...from, form });
}

/** What the add answered: `ok` or the error code the page was sent back with. */
const outcome = (a: Answer) => {
  const q = new URL(a.location || '/', url).searchParams;
  return a.status === 303 ? (q.get('ok') ? 'ok' : (q.get('error') ?? '?')) : `HTTP ${a.status}`;
};

const thirtyThenLimited = [...Array(30).fill('ok'), 'over_request_rate_limit'];

describe("the Next.js storefront forwards each shopper's address", () => {
  it('35 shoppers behind the proxy all sign in within the hour; the 31st from one forwarded address is refused', async () => {
    const { sku } = await createProduct(env.db, 'Yerba orgánica', 1000, { price: 4200, skuPrefix: 'FWD' });
    const many: string[] = [];
    for (let i = 1; i <= 35; i++) many.push(outcome(await addToCart(sku, 1, { forwardedFor: `198.51.100.${i}` })));
    expect(many).toEqual(Array(35).fill('ok'));
    const one: string[] = [];
    for (let i = 1; i <= 31; i++) one.push(outcome(await addToCart(sku, 1, { forwardedFor: '203.0.113.7' })));
    expect(one).toEqual(thirtyThenLimited);
  });

  it('a client that is not the trusted proxy cannot choose its address; a browser calling Auth with the anon key neither', async () => {
    const { sku } = await createProduct(env.db, 'Mate de calabaza', 1000, { price: 9900, skuPrefix: 'FWD' });
    const forged: string[] = [];
    for (let i = 1; i <= 31; i++) forged.push(outcome(await addToCart(sku, 1, { localAddress: '127.0.0.2', forwardedFor: `198.51.100.${100 + i}` })));
    expect(forged).toEqual(thirtyThenLimited);

    const direct: number[] = [];
    for (let i = 1; i <= 31; i++) {
      const res = await fetch(`${env.stack.apiUrl}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: env.stack.anonKey, 'content-type': 'application/json', 'sb-forwarded-for': `192.0.2.${i}` },
        body: '{}',
      });
      await res.body?.cancel();
      direct.push(res.status);
    }
    expect(direct).toEqual([...Array(30).fill(200), 429]);
  });

  it("the checkouts' cap per address counts each shopper's address behind the server", async () => {
    await env.db.query('update private.settings set max_units_per_address = 3');
    const { sku } = await createProduct(env.db, 'Bombilla de alpaca', 100, { price: 5600, skuPrefix: 'FWD' });
    const checkout = async (forwardedFor: string) => {
      const added = await addToCart(sku, 2, { forwardedFor });
      expect(outcome(added)).toBe('ok');
      const cookie = added.cookies.join('; ');
      const cart = await send('/cart', { forwardedFor, cookie });
      const form = formFields(cart.html, 'data-testid="checkout-form"');
      const fields = {
        email: 'ana@example.com',
        name: 'Ana',
        surname: 'García',
        streetName: 'Av. Corrientes',
        streetNumber: '1234',
        zipCode: 'C1043',
        city: 'CABA',
      };
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      const r = await send('/cart', { forwardedFor, cookie, form });
      if (r.status === 303 && r.location.startsWith(env.stack.mpUrl)) return 'redirected to MercadoPago';
      return /data-testid="checkout-error" data-code="([^"]+)"/.exec(r.html)?.[1] ?? `HTTP ${r.status}`;
    };
    // Two shoppers at two addresses hold 2 units each; a second shopper at the first address may add only 1 more.
    expect(await checkout('198.51.100.201')).toBe('redirected to MercadoPago');
    expect(await checkout('198.51.100.202')).toBe('redirected to MercadoPago');
    expect(await checkout('198.51.100.201')).toBe('hold_limit_address');
  });
});
