/**
 * PostgREST's RPC endpoint, for `npm start`: `POST|GET|HEAD /rest/v1/rpc/<fn>`
 * in the exposed schema `public` (supabase/config.toml `api.schemas`).
 *
 * As PostgREST does it: the JWT (or, without `Authorization`, the apikey) is
 * verified; the call runs in one transaction, connected as `authenticator`,
 * after `set_config('role', <role claim>, true)`,
 * `set_config('request.jwt.claims', <claims>, true)` (plus the legacy
 * `request.jwt.claim.sub`/`role`, and `request.method`/`path`/`headers`), and
 * `search_path` = the exposed schema and `extra_search_path`. Named arguments
 * are matched against pg_proc (overloads included, defaults may be omitted)
 * and cast to the parameter types with json_to_record, as PostgREST does.
 * GET/HEAD and STABLE/IMMUTABLE functions run in a READ ONLY transaction.
 *
 * Answers: a scalar (jsonb included) as its JSON, SETOF as an array, a
 * composite as an object, VOID as 204; errors `{code, details, hint, message}`
 * with PostgREST's status mapping.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import { SQLSTATES } from '../../edge/_shared/contract.ts';
import { jsonDepth, MAX_JSON_DEPTH, readBody, sendJson } from './http-util.ts';
import type { JwtClaims } from './jwt.ts';

export interface RestContext {
  /** Connected as `authenticator`, as PostgREST is. */
  pool: pg.Pool;
  schema: string;
  extraSearchPath: string[];
}

export interface PgrstError {
  code: string;
  details: string | null;
  hint: string | null;
  message: string;
}

export function sendPgrst(res: ServerResponse, status: number, err: PgrstError, headers: Record<string, string> = {}): void {
  sendJson(res, status, err, headers);
}

/** PostgREST's SQLSTATE -> HTTP status table (docs: references/errors). */
export function statusForSqlState(code: string, role: string): number {
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2));
  if (code === '42501') return role === 'anon' ? 401 : 403;
  if (code === '23503' || code === '23505') return 409;
  if (code === '25006') return 405;
  if (code === '53400') return 500;
  if (code === '42883' || code === '42P01') return 404;
  if (code === '42P17') return 500;
  if (code === 'P0001') return 400;
  // Our SQLSTATEs (class CK, edge/_shared/contract.ts) are not in PostgREST's table: 400, like any other.
  if (code in SQLSTATES) return 400;
  const two = code.slice(0, 2);
  if (two === '08' || two === '53') return 503;
  if (['0L', '0P', '28'].includes(two)) return 403;
  if (['09', '25', '2D', '38', '39', '3B', '40', '54', '55', '57', '58', 'F0', 'HV', 'P0', 'XX'].includes(two)) return 500;
  return 400;
}

interface ProcRow {
  oid: number;
  provolatile: string;
  proretset: boolean;
  rettype: string;
  rettyptype: string;
  argtypes: string[];
  proargnames: string[] | null;
  argmodes: string[] | null;
  pronargs: number;
  pronargdefaults: number;
}

interface Param {
  name: string;
  type: string;
  required: boolean;
}

function inputParams(p: ProcRow): Param[] {
  const names: string[] = [];
  if (!p.argmodes) {
    for (let i = 0; i < p.pronargs; i++) names.push(p.proargnames?.[i] ?? '');
  } else {
    p.argmodes.forEach((mode, i) => {
      if (mode === 'i' || mode === 'b' || mode === 'v') names.push(p.proargnames?.[i] ?? '');
    });
  }
  const firstOptional = p.pronargs - p.pronargdefaults;
  return names.map((name, i) => ({ name, type: p.argtypes[i] ?? 'text', required: i < firstOptional }));
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** PostgREST's Prefer handling we honour: return=minimal, params=single-object. */
function prefers(req: IncomingMessage): Set<string> {
  const raw = req.headers.prefer;
  const all = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).split(',').map((s) => s.trim().toLowerCase());
  return new Set(all.filter(Boolean));
}

export async function handleRpc(
  req: IncomingMessage,
  res: ServerResponse,
  fn: string,
  url: URL,
  claims: JwtClaims,
  ctx: RestContext,
): Promise<void> {
  const method = req.method ?? 'GET';
  const role = typeof claims.role === 'string' && claims.role !== '' ? claims.role : 'anon';
  if (!['GET', 'HEAD', 'POST'].includes(method)) {
    return sendPgrst(res, 405, { code: 'PGRST117', details: null, hint: null, message: `Unsupported HTTP method: ${method}` });
  }
  const profile = (method === 'POST' ? req.headers['content-profile'] : req.headers['accept-profile']) as string | undefined;
  if (profile && profile !== ctx.schema) {
    return sendPgrst(res, 406, { code: 'PGRST106', details: null, hint: null, message: `The schema must be one of the following: ${ctx.schema}` });
  }
  const prefer = prefers(req);

  let args: Record<string, unknown> = {};
  let rawBody = '';
  if (method === 'POST') {
    rawBody = (await readBody(req)).toString('utf8');
    if (rawBody.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(rawBody);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        args = parsed as Record<string, unknown>;
      } catch {
        return sendPgrst(res, 400, { code: 'PGRST102', details: null, hint: null, message: 'Empty or invalid json' });
      }
      if (jsonDepth(args) > MAX_JSON_DEPTH) {
        // PostgreSQL would stop at its stack depth (54001, a 500 from PostgREST): refused first.
        return sendPgrst(res, 400, {
          code: 'LOCAL400',
          details: null,
          hint: 'Send flatter arguments.',
          message: `The JSON body nests deeper than ${MAX_JSON_DEPTH} levels`,
        });
      }
    }
  } else {
    for (const [k, v] of url.searchParams) args[k] = v;
  }

  let client: pg.PoolClient;
  try {
    client = await ctx.pool.connect();
  } catch (err) {
    return sendPgrst(res, 503, {
      code: 'PGRST000',
      details: (err as Error).message,
      hint: null,
      message: 'Could not connect with the database due to an incorrect db-uri or due to the PostgreSQL service not running.',
    });
  }
  let began = false;
  let broken = false;
  try {
    const { rows: procs } = await client.query<ProcRow>(
      `select p.oid::int as oid, p.provolatile::text as provolatile, p.proretset, p.prorettype::regtype::text as rettype,
              t.typtype::text as rettyptype,
              array(select format_type(a.t, null) from unnest(p.proargtypes) with ordinality a(t, i) order by a.i) as argtypes,
              p.proargnames, p.proargmodes::text[] as argmodes, p.pronargs::int as pronargs, p.pronargdefaults::int as pronargdefaults
         from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace
         join pg_type t on t.oid = p.prorettype
        where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'`,
      [ctx.schema, fn],
    );
    const keys = Object.keys(args).sort();
    const singleObject = prefer.has('params=single-object');
    const candidates = procs.filter((p) => {
      const params = inputParams(p);
      if (params.length === 1 && params[0]!.name === '' && ['json', 'jsonb'].includes(params[0]!.type)) return true;
      if (singleObject || params.some((x) => x.name === '')) return false;
      return keys.every((k) => params.some((x) => x.name === k)) && params.every((x) => !x.required || keys.includes(x.name));
    });
    // A named match beats the single-unnamed-json fallback, as in PostgREST.
    const named = candidates.filter((p) => !(inputParams(p).length === 1 && inputParams(p)[0]!.name === ''));
    const chosen = named.length > 0 ? named : candidates;
    if (chosen.length === 0) {
      const list = keys.join(', ');
      return sendPgrst(res, 404, {
        code: 'PGRST202',
        details: `Searched for the function ${ctx.schema}.${fn} ${
          keys.length ? `with parameters ${list}` : 'without parameters'
        } or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
        hint: null,
        message: `Could not find the function ${ctx.schema}.${fn}${keys.length ? `(${list})` : ''} in the schema cache`,
      });
    }
    if (chosen.length > 1) {
      return sendPgrst(res, 300, {
        code: 'PGRST203',
        details: null,
        hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
        message: `Could not choose the best candidate function between: ${
          chosen.map((p) => `${ctx.schema}.${fn}(${inputParams(p).map((x) => `${x.name} => ${x.type}`).join(', ')})`).join(', ')
        }`,
      });
    }
    const proc = chosen[0]!;
    const params = inputParams(proc);
    const qualified = `${ident(ctx.schema)}.${ident(fn)}`;
    let callArgs: string;
    let from: string;
    let values: unknown[];
    if (params.length === 1 && params[0]!.name === '') {
      callArgs = `$1::${params[0]!.type}`;
      from = '';
      values = [method === 'POST' ? (rawBody.trim() === '' ? '{}' : rawBody) : JSON.stringify(args)];
    } else {
      const used = params.filter((x) => keys.includes(x.name));
      callArgs = used.map((x) => `${ident(x.name)} := _args.${ident(x.name)}`).join(', ');
      from = used.length ? `json_to_record($1::json) as _args(${used.map((x) => `${ident(x.name)} ${x.type}`).join(', ')})` : '';
      values = used.length ? [JSON.stringify(args)] : [];
    }
    const call = `${qualified}(${callArgs})`;
    let sql: string;
    if (proc.rettype === 'void') sql = `select ${call}${from ? ` from ${from}` : ''}`;
    else if (proc.proretset) sql = `select coalesce(json_agg(_t), '[]')::text as body from ${from ? `${from}, lateral ` : ''}${call} _t`;
    else if (proc.rettyptype === 'c') sql = `select to_json(_t)::text as body from ${from ? `${from}, lateral ` : ''}${call} _t`;
    else sql = `select to_json(${call})::text as body${from ? ` from ${from}` : ''}`;

    const readOnly = method !== 'POST' || proc.provolatile !== 'v';
    await client.query(readOnly ? 'begin isolation level read committed read only' : 'begin isolation level read committed');
    began = true;
    const headersJson = JSON.stringify(Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v])));
    await client.query(
      `select set_config('search_path', $1, true), set_config('role', $2, true), set_config('request.jwt.claims', $3, true),
              set_config('request.jwt.claim.sub', $4, true), set_config('request.jwt.claim.role', $2, true),
              set_config('request.method', $5, true), set_config('request.path', $6, true), set_config('request.headers', $7, true)`,
      [
        [ctx.schema, ...ctx.extraSearchPath.filter((s) => s !== ctx.schema)].map(ident).join(', '),
        role,
        JSON.stringify(claims),
        typeof claims.sub === 'string' ? claims.sub : '',
        method,
        url.pathname.replace(/^\/rest\/v1/, ''),
        headersJson,
      ],
    );
    const result = await client.query<{ body: string | null }>(sql, values);
    await client.query('commit');
    began = false;
    if (proc.rettype === 'void' || prefer.has('return=minimal')) {
      res.writeHead(204);
      return void res.end();
    }
    const body = result.rows[0]?.body ?? 'null';
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Range': proc.proretset ? `0-${Math.max((JSON.parse(body) as unknown[]).length - 1, 0)}/*` : '0-0/*',
    });
    res.end(method === 'HEAD' ? undefined : body);
  } catch (err) {
    if (began) await client.query('rollback').catch(() => undefined);
    const e = err as pg.DatabaseError;
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) {
      const status = statusForSqlState(e.code, role);
      const headers: Record<string, string> = status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {};
      return sendPgrst(res, status, { code: e.code, details: e.detail ?? null, hint: e.hint ?? null, message: e.message }, headers);
    }
    broken = true;
    if (!(err instanceof Error) || !/ECONNREFUSED|terminat|Connection/i.test(err.message)) throw err;
    return sendPgrst(res, 503, { code: 'PGRST001', details: err.message, hint: null, message: 'Database client error. Retrying the connection.' });
  } finally {
    // A connection that failed outside SQL is discarded rather than reused.
    client.release(broken);
  }
}
