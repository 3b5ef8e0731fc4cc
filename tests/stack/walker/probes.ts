/**
 * The route walker's requests: for each target, its example with every role,
 * then hostile values in each parameter it declares (path segments, query
 * values, JSON fields, whole bodies, headers), a few per parameter drawn
 * with a seeded random source, each with a role that can reach the route.
 */
import type { RouteExample } from '../../../edge/_shared/routes.ts';
import { type Hostile, HOSTILE_BODIES, HOSTILE_HEADERS, HOSTILE_JSON, HOSTILE_URL_TEXT, sample, toJsonText } from './hostile.ts';
import { ALL_ROLES, fieldPaths, jsonSchemaOf, type RoleName, ROLES_FOR, type Target } from './targets.ts';

export interface Probe {
  target: Target;
  role: RoleName;
  method: string;
  /** Path and query as they go on the wire (already percent-encoded). */
  pathAndQuery: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** What is hostile in it, for the report. */
  what: string;
  /** Unstorable text placed in a parameter the route reads: must not be answered 2xx. */
  unstorable: boolean;
}

/** How many hostile values each parameter gets. */
export interface Budget {
  /** Sampled values per query parameter and JSON field, besides those every one gets. */
  perParameter: number;
  perHeader: number;
  bodies: number;
}

const enc = (s: string) => encodeURIComponent(s);

function setAt(root: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(root ?? {}) as Record<string, unknown>;
  let node = copy;
  path.forEach((key, i) => {
    if (i === path.length - 1) node[key] = value;
    else {
      const next = node[key];
      node[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {};
      node = node[key] as Record<string, unknown>;
    }
  });
  return copy;
}

interface Request {
  params?: Record<string, string>;
  /** Appended to the path (an extra segment). */
  suffix?: string;
  query?: [string, string][];
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** The example as wire values: params and query percent-encoded, the body as JSON text. */
function wire(example: RouteExample): Required<Pick<Request, 'params' | 'query' | 'headers'>> & { body?: string } {
  return {
    params: Object.fromEntries(Object.entries(example.params ?? {}).map(([k, v]) => [k, enc(v)])),
    query: Object.entries(example.query ?? {}).map(([k, v]) => [enc(k), enc(v)]),
    ...(example.body === undefined ? {} : { body: toJsonText(example.body) }),
    headers: { ...example.headers },
  };
}

export function probesFor(target: Target, budget: Budget, random: () => number): Probe[] {
  const { route } = target;
  const reach = [...new Set(route.callers.flatMap((c) => ROLES_FOR[c]))];
  const primary = ROLES_FOR[route.callers[0]!][0]!;
  const base = wire(target.examples[0]!);
  const probes: Probe[] = [];
  let n = 0;
  const roleFor = () => (n++ === 0 ? primary : reach[Math.floor(random() * reach.length)]!);
  const make = (req: Request, role: RoleName, what: string, unstorable = false): Probe => {
    const path = target.path.replace(/:(\w+)/g, (_m, name: string) => req.params?.[name] ?? 'x') + (req.suffix ?? '');
    const query = (req.query ?? []).map(([k, v]) => `${k}=${v}`).join('&');
    const body = req.body ?? (['POST', 'PUT'].includes(target.method) ? '{}' : undefined);
    return {
      target,
      role,
      method: target.method,
      pathAndQuery: query ? `${path}?${query}` : path,
      headers: { 'content-type': 'application/json', ...req.headers },
      ...(body === undefined ? {} : { body }),
      what,
      unstorable,
    };
  };
  const withValues = <T>(values: Hostile<T>[], count: number, each: (h: Hostile<T>) => [Request, string], reads = true) => {
    n = 0;
    for (const h of count >= values.length ? values : sample(values, count, random)) {
      const [req, what] = each(h);
      probes.push(make(req, roleFor(), what, reads && h.unstorable === true));
    }
  };

  // The examples, with every role (those that cannot reach it must be refused cleanly).
  for (const role of ALL_ROLES) probes.push(make(base, role, 'example'));
  for (const example of target.examples.slice(1)) probes.push(make(wire(example), primary, 'another example'));
  // A method it does not take, and an extra path segment.
  probes.push({ ...make(base, primary, 'method DELETE'), method: 'DELETE' });
  withValues(HOSTILE_URL_TEXT, 2, (h) => [{ ...base, suffix: `/${h.value}` }, `extra segment ${h.label}`], false);

  // Every URL value in every path parameter; in a query parameter those sent
  // everywhere, every date (also with the parameter on its own, where a
  // range's defaults are computed) and a sample of the rest.
  for (const name of Object.keys(route.params ?? {})) {
    withValues(HOSTILE_URL_TEXT, Infinity, (h) => [{ ...base, params: { ...base.params, [name]: h.value } }, `path :${name} = ${h.label}`]);
  }
  const queryKeys = new Set([...fieldPaths(route.query).filter((p) => p.length === 1).map((p) => p[0]!), ...base.query.map(([k]) => k)]);
  for (const key of queryKeys) {
    const others = base.query.filter(([k]) => k !== enc(key));
    const chosen = [
      ...HOSTILE_URL_TEXT.filter((h) => h.always || h.kind === 'date'),
      ...sample(HOSTILE_URL_TEXT.filter((h) => !h.always && h.kind !== 'date'), budget.perParameter, random),
    ];
    withValues(chosen, Infinity, (h) => [{ ...base, query: [...others, [enc(key), h.value]] }, `query ${key} = ${h.label}`]);
    withValues(
      HOSTILE_URL_TEXT.filter((h) => h.kind === 'date'),
      Infinity,
      (h) => [{ ...base, query: [[enc(key), h.value]] }, `query ${key} alone = ${h.label}`],
    );
    // A parameter carrying base64url JSON (a cursor): every JSON value in each field inside.
    const declared = jsonSchemaOf(route.query)?.properties?.[key];
    const inner = target.examples[0]!.query?.[key];
    if (declared?.contentEncoding === 'base64url' && declared.contentSchema && inner) {
      const decoded: unknown = JSON.parse(Buffer.from(inner, 'base64url').toString('utf8'));
      for (const path of fieldPaths(declared.contentSchema)) {
        withValues(HOSTILE_JSON, Infinity, (h) => {
          const encoded = Buffer.from(toJsonText(setAt(decoded, path, h.value))).toString('base64url');
          return [{ ...base, query: [...others, [enc(key), encoded]] }, `query ${key} encoding ${path.join('.')} = ${h.label}`];
        });
      }
    }
  }
  // JSON fields: the values every field gets, and a sample of the others.
  if (route.body && ['POST', 'PUT'].includes(target.method)) {
    const example = target.examples[0]!.body ?? {};
    const values = [...HOSTILE_JSON.filter((h) => h.always)];
    for (const path of fieldPaths(route.body)) {
      const chosen = [...values, ...sample(HOSTILE_JSON.filter((h) => !h.always), budget.perParameter, random)];
      withValues(chosen, Infinity, (h) => [{ ...base, body: toJsonText(setAt(example, path, h.value)) }, `body ${path.join('.')} = ${h.label}`]);
    }
    withValues(HOSTILE_BODIES, budget.bodies, (h) => [{ ...base, body: h.value }, `body = ${h.label}`]);
  }
  const headers = ['authorization', 'content-type', ...(route.headers ?? []), ...(target.service === 'functions' ? [] : ['apikey'])];
  for (const header of headers) {
    withValues(
      HOSTILE_HEADERS,
      budget.perHeader,
      (h) => [{ ...base, headers: { ...base.headers, [header]: h.value } }, `header ${header} = ${h.label}`],
      false,
    );
  }
  return probes;
}
