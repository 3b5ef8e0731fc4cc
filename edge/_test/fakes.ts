/**
 * Fake dependencies for the handlers' `deno test` unit tests: routines that
 * answer from a script and record their calls, a MercadoPago that does the
 * same, a JWT verifier that trusts `Bearer shopper:<uuid>` and
 * `Bearer service`, and the configuration loadConfig builds. The end-to-end
 * suites (tests/edge) run the same handlers against real Postgres and the
 * MercadoPago emulator.
 */
import type { CheckoutRoutines, OrderSession } from '../_shared/checkout.ts';
import { loadConfig } from '../_shared/config.ts';
import type { Deps } from '../_shared/deps.ts';
import { HttpError } from '../_shared/http.ts';
import type { Claims } from '../_shared/jwt.ts';
import type { MercadoPagoApi } from '../_shared/mercadopago.ts';
import { hmacSha256Hex, signatureManifest } from '../_shared/signature.ts';

export const SHOPPER = '6f1c2a8e-3b7d-4c1e-9a2f-0d5e8b7c6a41';
export const OTHER_SHOPPER = '0b9e4d3c-2a1f-4e6d-8c7b-5a4f3e2d1c0b';
const WEBHOOK_SECRET = 'unit-test-webhook-secret';
export const SERVICE_KEY = 'service-role-key-for-unit-tests';
/** The project's secret API key (SUPABASE_SECRET_KEYS): its holder may forward an address. */
export const SECRET_KEY = 'sb_secret_unit-tests';
/** The session_id claim of every `anon:<uuid>` token. */
export const ANON_SESSION = '3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a';

export const config = loadConfig({
  SUPABASE_URL: 'http://127.0.0.1:54321',
  CHECKOUT_DB_URL: 'postgres://unused',
  SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
  SUPABASE_SECRET_KEYS: JSON.stringify({ default: SECRET_KEY }),
  JWT_SECRET: 'x'.repeat(32),
  MP_ACCESS_TOKEN: 'TEST-unit',
  MP_WEBHOOK_SECRET: WEBHOOK_SECRET,
});

export const NOW = new Date('2026-12-01T12:00:00Z');

export function orderSession(overrides: Partial<OrderSession> = {}): OrderSession {
  return {
    id: 'os-1',
    session_id: SHOPPER,
    token: 'tok_1',
    status: 'active',
    lines: [{ variant_id: 'v-1', sku: 'TEE-M', title: 'Remera M', unit_price: 1500, quantity: 2, line_total: 3000 }],
    item_count: 2,
    subtotal: 3000,
    discount: 0,
    total: 3000,
    currency: 'ARS',
    coupon_code: null,
    payer: { email: 'ana@example.com', name: 'Ana' },
    shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
    preference_id: null,
    payment_id: null,
    expires_at: '2026-12-01T12:15:00Z',
    created_at: '2026-12-01T12:00:00Z',
    paid_at: null,
    ...overrides,
  };
}

type Calls = { name: string; args: unknown[] }[];

/** An object whose methods answer from `answers` and record their calls; an unscripted call fails the test. */
function scripted<T extends object>(what: string, answers: Partial<T>, calls: Calls): T {
  return new Proxy({} as T, {
    get: (_t, name: string) => {
      const answer = answers[name as keyof T] as ((...a: unknown[]) => unknown) | object | undefined;
      // A scripted object (routines.admin) is given as it is.
      if (typeof answer === 'object') return answer;
      return (...args: unknown[]) => {
        calls.push({ name, args });
        if (!answer) return Promise.reject(new Error(`unexpected ${what} call: ${name}`));
        return Promise.resolve().then(() => answer(...args));
      };
    },
  });
}

/**
 * `Bearer shopper:<uuid>` is that shopper, `anon:<uuid>` an anonymous user
 * (signed in as ANON_SESSION),
 * `account:<uuid>` a signed-up one, `staff:<uuid>` a member of staff,
 * `service.jwt.token` the service role; anything else is refused.
 */
export function fakeVerifyJwt(token: string): Promise<Claims> {
  if (token.startsWith('shopper:')) return Promise.resolve({ sub: token.slice(8), role: 'authenticated' });
  if (token.startsWith('anon:')) return Promise.resolve({ sub: token.slice(5), role: 'authenticated', is_anonymous: true, session_id: ANON_SESSION });
  if (token.startsWith('account:')) return Promise.resolve({ sub: token.slice(8), role: 'authenticated', is_anonymous: false });
  if (token === 'service.jwt.token') return Promise.resolve({ role: 'service_role' });
  if (token.startsWith('staff:')) {
    return Promise.resolve({
      sub: token.slice(6),
      role: 'authenticated',
      is_anonymous: false,
      email: 'staff@example.com',
      app_metadata: { store_role: 'staff' },
    });
  }
  return Promise.reject(new HttpError(401, 'unauthenticated', 'bad token'));
}

interface Harness {
  deps: Deps;
  calls: Calls;
  logs: { event: string; fields?: Record<string, unknown> }[];
}

export function harness(
  routines: Partial<CheckoutRoutines> = {},
  mp: Partial<MercadoPagoApi> = {},
): Harness {
  const calls: Calls = [];
  const logs: Harness['logs'] = [];
  return {
    calls,
    logs,
    deps: {
      config,
      routines: scripted<CheckoutRoutines>('routine', routines, calls),
      mp: scripted<MercadoPagoApi>('MercadoPago', mp, calls),
      verifyJwt: fakeVerifyJwt,
      log: (event, fields) => logs.push({ event, fields }),
      now: () => NOW,
    },
  };
}

export function request(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Request {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  const body = init.json === undefined ? init.body : JSON.stringify(init.json);
  return new Request(`http://127.0.0.1/functions/v1/${path}`, { ...init, headers, body });
}

/** A MercadoPago notification for `paymentId`, signed with the unit-test secret at NOW. */
export async function signedNotification(
  paymentId: string,
  secret = WEBHOOK_SECRET,
  type = 'payment',
  body: Record<string, unknown> = { type, data: { id: paymentId } },
): Promise<Request> {
  const ts = String(Math.floor(NOW.getTime() / 1000));
  const v1 = await hmacSha256Hex(secret, signatureManifest(paymentId, 'req-1', ts));
  return request(`mercadopago-webhook?type=${type}&data.id=${encodeURIComponent(paymentId)}`, {
    method: 'POST',
    headers: { 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': 'req-1' },
    json: body,
  });
}
