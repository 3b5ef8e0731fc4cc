/**
 * Each function's routes, declared once (`edge/<name>/routes.ts`): method,
 * path, who may call it, and the schemas of what it reads (path parameters,
 * query, JSON body, headers), with a valid example. The handler dispatches
 * through its table (an undeclared path is a 404, a wrong method a 405) and
 * validates with its schemas; tests/stack/route-walk.test.ts walks every
 * declared route with hostile values for every declared parameter, so a new
 * route is walked the day it exists.
 */
import { z } from 'zod';
import { HttpError } from './http.ts';
import { decodePathSegment } from './input.ts';
import { validate } from './request.ts';

/**
 * Who a route serves (each route checks it itself):
 * - `public`: anyone (a signed link carries the proof);
 * - `shopper`: a signed-in user, anonymous or permanent;
 * - `account`: a permanent user;
 * - `staff`: a permanent user with the staff role;
 * - `service`: the service role key (pg_cron through pg_net);
 * - `mercadopago`: a notification signed with the webhook secret.
 */
export type Caller = 'public' | 'shopper' | 'account' | 'staff' | 'service' | 'mercadopago';

export interface RouteSpec {
  methods: readonly string[];
  /** Below `/<function name>`: `''`, `/stock/adjust`, `/orders/:ref`. */
  path: string;
  callers: readonly Caller[];
  /** Each `:name` of the path, as decoded. */
  params?: Readonly<Record<string, z.ZodType>>;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Request headers the route reads, besides `authorization` and `content-type`. */
  headers?: readonly string[];
  /** A request it accepts (or one per variant), for the reader and as the walker's starting point. */
  example?: RouteExample | readonly RouteExample[];
}

export interface RouteExample {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RouteTable = Readonly<Record<string, RouteSpec>>;

export interface RouteMatch<T extends RouteTable> {
  name: keyof T & string;
  route: T[keyof T];
  /** The path parameters, decoded and validated by `route.params`. */
  params: Record<string, string>;
  url: URL;
}

/** The path below the function's own segment, split (`/functions/v1/admin/orders/x` -> `['orders', 'x']`). */
function segmentsBelow(fn: string, pathname: string): string[] | undefined {
  const segments = pathname.split('/').filter((s) => s !== '');
  const at = segments.indexOf(fn);
  return at < 0 ? undefined : segments.slice(at + 1);
}

const patternOf = (route: RouteSpec) => route.path.split('/').filter((s) => s !== '');

function fits(route: RouteSpec, segments: string[]): boolean {
  const pattern = patternOf(route);
  return pattern.length === segments.length && pattern.every((p, i) => p.startsWith(':') || p === segments[i]);
}

/**
 * The route a request is for: 404 for an undeclared path, 405 for a method
 * the path does not take, 400 (naming the parameter) for a path parameter
 * whose percent-encoding is malformed or that its schema refuses.
 */
export function matchRoute<T extends RouteTable>(fn: string, routes: T, req: Request): RouteMatch<T> {
  const url = new URL(req.url);
  const segments = segmentsBelow(fn, url.pathname);
  const onPath = segments ? (Object.entries(routes) as [keyof T & string, T[keyof T]][]).filter(([, r]) => fits(r, segments)) : [];
  if (onPath.length === 0) throw new HttpError(404, 'not_found', `unknown ${fn} endpoint (see edge/README.md)`);
  const hit = onPath.find(([, r]) => r.methods.includes(req.method));
  if (!hit) throw new HttpError(405, 'method_not_allowed', `use ${[...new Set(onPath.flatMap(([, r]) => r.methods))].join(' or ')}`);
  const [name, route] = hit;
  const raw: Record<string, string> = {};
  patternOf(route).forEach((p, i) => {
    if (!p.startsWith(':')) return;
    const decoded = decodePathSegment(segments![i]!);
    if (decoded === undefined) {
      throw new HttpError(400, 'validation_failed', 'the path is invalid', { issues: [{ path: p.slice(1), message: 'malformed percent-encoding' }] });
    }
    raw[p.slice(1)] = decoded;
  });
  const params = route.params ? validate(z.strictObject(route.params), raw) as Record<string, string> : raw;
  return { name, route, params, url };
}
