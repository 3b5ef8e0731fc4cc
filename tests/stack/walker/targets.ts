/**
 * What the route walker walks, derived from the single sources: every Edge
 * Function's route table (`edge/<name>/routes.ts`, for every name in
 * dev/functions/serve.ts's FUNCTION_NAMES), the local Auth's
 * (dev/stack/auth-routes.ts), and every function of schema `public` in the
 * database (the local API's /rest/v1/rpc). A new route, function or RPC is
 * walked without touching the walker.
 */
import type pg from 'pg';
import { z } from 'zod';
import { FUNCTION_NAMES } from '../../../dev/functions/serve.ts';
import { AUTH_ROUTES } from '../../../dev/stack/auth-routes.ts';
import type { Caller, RouteExample, RouteSpec, RouteTable } from '../../../edge/_shared/routes.ts';

export interface Target {
  /** e.g. `admin GET /orders/:ref`, `auth POST /signup`, `rpc POST add_to_cart`. */
  label: string;
  service: 'functions' | 'auth' | 'rest';
  method: string;
  /** The route's path on the local API, with its `:params`. */
  path: string;
  route: RouteSpec;
  examples: RouteExample[];
}

const examplesOf = (route: RouteSpec): RouteExample[] =>
  route.example === undefined ? [{}] : Array.isArray(route.example) ? [...route.example] : [route.example as RouteExample];

function targetsOf(table: RouteTable, service: Target['service'], prefix: string, name: string): Target[] {
  return Object.values(table).flatMap((route) =>
    route.methods.map((method) => ({
      label: `${name} ${method} ${route.path || '/'}`,
      service,
      method,
      path: `${prefix}${route.path}`,
      route,
      examples: examplesOf(route),
    }))
  );
}

/** Each function's table: the one `*_ROUTES` its routes.ts exports. */
export async function functionTargets(): Promise<Target[]> {
  const all: Target[] = [];
  for (const fn of FUNCTION_NAMES) {
    const mod = (await import(`../../../edge/${fn}/routes.ts`)) as Record<string, unknown>;
    const tables = Object.entries(mod).filter(([k]) => k.endsWith('_ROUTES')).map(([, v]) => v as RouteTable);
    if (tables.length !== 1) throw new Error(`edge/${fn}/routes.ts must export exactly one *_ROUTES table`);
    all.push(...targetsOf(tables[0]!, 'functions', `/functions/v1/${fn}`, fn));
  }
  return all;
}

export const authTargets = (): Target[] => targetsOf(AUTH_ROUTES, 'auth', '/auth/v1', 'auth');

/** The local API's own routing: a function's name, an RPC's name, an Auth path (what the gateway decodes before any table). */
export function gatewayTargets(): Target[] {
  const name = { name: z.string() };
  const route = (example: string, methods: string[]): RouteSpec => ({
    methods,
    path: '',
    callers: ['public'],
    params: name,
    example: { params: { name: example } },
  });
  return [
    ...targetsOf({ fn: route('reconcile', ['POST']) }, 'functions', '/functions/v1/:name', 'gateway'),
    ...targetsOf({ rpc: route('get_catalog', ['POST']) }, 'rest', '/rest/v1/rpc/:name', 'gateway'),
    ...targetsOf({ auth: route('health', ['GET']) }, 'auth', '/auth/v1/:name', 'gateway'),
  ].map((t) => ({ ...t, label: `gateway ${t.method} ${t.path}` }));
}

/** A plausible value of a PostgreSQL type, and its schema, for an RPC argument. */
function argOf(type: string, name: string): [z.ZodType, unknown] {
  if (type === 'uuid') return [z.uuid(), name.includes('variant') ? '00000000-0000-4000-8000-000000000201' : '00000000-0000-4000-8000-000000000000'];
  if (['integer', 'bigint', 'smallint'].includes(type)) return [z.number().int(), 1];
  if (type === 'numeric') return [z.number(), 1];
  if (type === 'boolean') return [z.boolean(), true];
  if (type === 'jsonb' || type === 'json') return [z.record(z.string(), z.unknown()), {}];
  if (type.startsWith('timestamp') || type === 'date') return [z.string(), '2026-12-01'];
  return [z.string(), 'BIENVENIDA10'];
}

/** Every function of schema `public` (PostgREST's RPC), with its named arguments. */
export async function rpcTargets(db: pg.Pool): Promise<Target[]> {
  const { rows } = await db.query<{ name: string; args: string[]; types: string[]; volatile: boolean }>(
    `select p.proname as name, coalesce(p.proargnames[1:p.pronargs], '{}') as args,
            array(select format_type(t, null) from unnest(p.proargtypes) with ordinality a(t, i) order by i) as types,
            p.provolatile = 'v' as volatile
       from pg_proc p where p.pronamespace = 'public'::regnamespace and p.prokind = 'f' order by 1`,
  );
  return rows.flatMap((r) => {
    const shape: Record<string, z.ZodType> = {};
    const example: Record<string, unknown> = {};
    r.args.forEach((arg, i) => {
      const [schema, value] = argOf(r.types[i]!, arg);
      shape[arg] = schema;
      example[arg] = value;
    });
    const callers: Caller[] = ['shopper', 'public'];
    const post: RouteSpec = { methods: ['POST'], path: '', callers, body: z.object(shape), example: { body: example } };
    const asQuery = Object.fromEntries(Object.entries(example).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    const get: RouteSpec = { methods: ['GET'], path: '', callers, query: z.object(shape), example: { query: asQuery } };
    return [
      ...targetsOf({ post }, 'rest', `/rest/v1/rpc/${r.name}`, `rpc ${r.name}`),
      ...(r.volatile ? [] : targetsOf({ get }, 'rest', `/rest/v1/rpc/${r.name}`, `rpc ${r.name}`)),
    ];
  });
}

/** A zod schema as JSON Schema (its input side). */
export const jsonSchemaOf = (schema: z.ZodType | undefined): JsonSchema | undefined =>
  schema && (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);

/** A schema's fields as paths (`['payer', 'email']`), objects included; maps get a made-up key. */
export function fieldPaths(schema: z.ZodType | JsonSchema | undefined): string[][] {
  const json = schema instanceof z.ZodType ? jsonSchemaOf(schema) : schema;
  if (!json) return [];
  const out: string[][] = [];
  const walk = (s: JsonSchema, at: string[]) => {
    for (const option of [...(s.anyOf ?? []), ...(s.oneOf ?? [])]) walk(option, at);
    for (const [key, child] of Object.entries(s.properties ?? {})) {
      out.push([...at, key]);
      walk(child, [...at, key]);
    }
    if (s.type === 'object' && s.additionalProperties !== false && !s.properties) out.push([...at, 'k']);
  };
  walk(json, []);
  return out.filter((p, i) => out.findIndex((q) => q.join('.') === p.join('.')) === i);
}

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  /** A string carrying an encoded document (edge/_shared/input.ts base64urlJson). */
  contentEncoding?: string;
  contentSchema?: JsonSchema;
}

/** Who can reach a route past its caller check, by role name (tests/stack/route-walk.test.ts's roles). */
export const ROLES_FOR: Record<Caller, RoleName[]> = {
  public: ['none', 'anonKey', 'shopper', 'permanent', 'staff', 'service', 'deleted', 'signedOut'],
  shopper: ['shopper', 'permanent', 'staff', 'deleted', 'signedOut'],
  account: ['permanent', 'staff', 'deleted', 'signedOut'],
  staff: ['staff'],
  service: ['service'],
  mercadopago: ['none'],
};

export type RoleName = 'none' | 'anonKey' | 'shopper' | 'permanent' | 'staff' | 'service' | 'deleted' | 'signedOut';
export const ALL_ROLES: RoleName[] = ROLES_FOR.public;
