/**
 * The route walker: every route of every Edge Function (their route tables),
 * of the local Auth (its table) and every RPC of schema public, through the
 * local API of `npm start` with the functions under real Deno, the database
 * and the MercadoPago sandbox up. Each route gets its example with every
 * role (no token, the anon key, an anonymous shopper, a permanent user,
 * staff, the service role, a deleted user's token, a signed-out user's
 * token) and hostile values in every parameter it declares, sampled with a
 * fixed seed (WALK_SEED overrides it). No answer may be a 5xx (a 502 too:
 * the sandbox is up), every 4xx is JSON, and text PostgreSQL cannot store is
 * never accepted. Also: the local API's own answers to malformed paths.
 */
import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../dev/functions/serve.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { AUTH_ROUTES } from '../../dev/stack/auth-routes.ts';
import { type Stack, startStack } from '../../dev/stack/stack.ts';
import { signLink } from '../../edge/_shared/links.ts';
import { tempDir, VARIANTS } from './helpers.ts';
import { seededRandom } from './walker/hostile.ts';
import { type Budget, type Probe, probesFor } from './walker/probes.ts';
import { describeFailure, walk, type WalkContext } from './walker/run.ts';
import { authTargets, functionTargets, gatewayTargets, type RoleName, rpcTargets, type Target } from './walker/targets.ts';

const SEED = Number(process.env.WALK_SEED ?? 20261207);
const BUDGET: Budget = { perParameter: 3, perHeader: 2, bodies: 6 };
const LINK_SECRET = 'route-walk-email-link-secret-32-characters';

let stack: Stack;
let dataDir: string;
let db: pg.Pool;
let ctx: WalkContext;
let targets: Target[];

async function auth(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.apiUrl}/auth/v1${path}`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

const anonymousSession = async () => {
  const s = await auth('/signup', {});
  return { token: s.access_token as string, id: (s.user as { id: string }).id };
};

/** The example values a route table leaves as `<placeholders>`: real ones of this stack. */
async function placeholders(shopper: { token: string; id: string }): Promise<Record<string, string>> {
  const merger = await anonymousSession();
  const { rows } = await db.query<{ created_at: string }>(`select to_json(created_at) #>> '{}' as created_at from public.carts where session_id = $1`, [
    shopper.id,
  ]);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return {
    "<the anonymous user's access token>": merger.token,
    '<the token of a restore link>': await signLink(LINK_SECRET, 'restore', { session_id: shopper.id, cart_created_at: rows[0]!.created_at, exp }),
    '<the token of an unsubscribe link>': await signLink(LINK_SECRET, 'unsubscribe', { email: 'walker@example.com', exp }),
    '<the token of an opt-in link>': await signLink(LINK_SECRET, 'opt_in', { email: 'walker@example.com', exp }),
  };
}

function fillPlaceholders(value: unknown, known: Record<string, string>): unknown {
  if (typeof value === 'string' && value.startsWith('<')) {
    if (!(value in known)) throw new Error(`the walker has no value for the example placeholder ${value}`);
    return known[value];
  }
  if (Array.isArray(value)) return value.map((v) => fillPlaceholders(v, known));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillPlaceholders(v, known)]));
  return value;
}

beforeAll(async () => {
  dataDir = tempDir('stack-walk-');
  stack = await startStack({
    dataDir,
    ports: { api: 0, db: 0, mp: 0, mail: 0, web: 0 },
    serveStorefront: false,
    reconcileIntervalMs: 0,
    sendEmailsEveryMs: 0,
    // Every hostile sign-up, sign-in and refresh must reach the database, not
    // the limiter (tested in auth-guard.test.ts and auth-rate-limits.test.ts).
    auth: { anonymousUsersPerHour: 1_000_000, burst: 1_000_000 },
    functionEnv: { EMAIL_LINK_SECRET: LINK_SECRET },
    sandbox: { retrySchedule: [200] },
  });
  db = new pg.Pool({ connectionString: stack.dbUrl, max: 2 });

  const shopper = await anonymousSession();
  const cart = await fetch(`${stack.apiUrl}/rest/v1/rpc/add_to_cart`, {
    method: 'POST',
    headers: { apikey: stack.anonKey, authorization: `Bearer ${shopper.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ p_variant_id: VARIANTS.remeraNegraS, p_quantity: 1 }),
  });
  expect(cart.status).toBe(200);
  const permanent = await auth('/signup', { email: 'walker-account@example.com', password: 'contraseña-segura' });
  await addStaff(stack.dbUrl, 'walker-staff@example.com', { password: 'contraseña-segura' });
  const staff = await auth('/token?grant_type=password', { email: 'walker-staff@example.com', password: 'contraseña-segura' });
  const deleted = await anonymousSession();
  await db.query('delete from auth.users where id = $1', [deleted.id]);
  const signedOut = await anonymousSession();
  await auth('/logout?scope=local', {}, signedOut.token);

  const tokens: Partial<Record<RoleName, string>> = {
    anonKey: stack.anonKey,
    shopper: shopper.token,
    permanent: permanent.access_token as string,
    staff: staff.access_token as string,
    service: stack.serviceRoleKey,
    deleted: deleted.token,
    signedOut: signedOut.token,
  };
  ctx = { apiUrl: stack.apiUrl, anonKey: stack.anonKey, tokens, webhookSecret: stack.sandbox.webhookSecret };
  const known = await placeholders(shopper);
  targets = [...(await functionTargets()), ...authTargets(), ...(await rpcTargets(db)), ...gatewayTargets()].map((t) => ({
    ...t,
    examples: t.examples.map((e) => fillPlaceholders(e, known) as typeof e),
  }));
}, 180_000);

afterAll(async () => {
  await db?.end();
  await stack?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the route walker', () => {
  it('finds every route: each function, the local Auth and the RPC', () => {
    const routes = targets.filter((t) => !t.label.startsWith('gateway'));
    const functions = new Set(routes.filter((t) => t.service === 'functions').map((t) => t.path.split('/')[3]));
    expect([...functions].sort()).toEqual([...FUNCTION_NAMES].sort());
    expect(routes.filter((t) => t.service === 'auth').length).toBe(Object.keys(AUTH_ROUTES).length);
    expect(targets.filter((t) => t.service === 'rest').map((t) => t.label)).toContain('rpc add_to_cart POST /');
  });

  it('finds no 5xx, no 4xx without JSON, and no unstorable text accepted', async () => {
    const random = seededRandom(SEED);
    const probes: Probe[] = targets.flatMap((t) => probesFor(t, BUDGET, random));
    const started = Date.now();
    const outcomes = await walk(ctx, probes);
    const failures = outcomes.filter((o) => o.failure);
    const byClass = outcomes.reduce<Record<string, number>>(
      (acc, o) => ({ ...acc, [`${String(o.status).slice(0, 1)}xx`]: (acc[`${String(o.status).slice(0, 1)}xx`] ?? 0) + 1 }),
      {},
    );
    console.log(
      `route walker (seed ${SEED}): ${outcomes.length} requests to ${targets.length} routes in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `${JSON.stringify(byClass)}; ${outcomes.filter((o) => o.status >= 500).length} answered 5xx, ${failures.length} broke a rule`,
    );
    expect(failures.map(describeFailure)).toEqual([]);
  }, 240_000);
});

describe('the local API and malformed paths', () => {
  const call = (path: string, method = 'POST') =>
    fetch(`${stack.apiUrl}${path}`, { method, headers: { apikey: stack.anonKey, 'content-type': 'application/json' }, body: '{}' });

  for (const path of ['/functions/v1/%E0%A4%A', '/rest/v1/rpc/%E0%A4%A', '/rest/v1/rpc/%']) {
    it(`${path} is a 400 JSON answer, as Supabase's gateway refuses a bad path`, async () => {
      const res = await call(path);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ message: 'Bad Request' });
    });
  }
});
