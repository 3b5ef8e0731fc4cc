/**
 * The local API of `npm start` on Supabase's local port (54321): a stand-in
 * for the few Supabase endpoints the storefront uses, with Supabase's wire
 * contract (node:http, no framework).
 *
 *   /auth/v1/*        anonymous and email/password sign-up and sign-in, updateUser,
 *                     refresh, user, logout, settings (auth.ts)
 *   /rest/v1/rpc/<fn> PostgREST RPC in schema public (rest.ts)
 *   /functions/v1/<name>/...  proxied to that Edge Function's Deno process
 *   anything else     501, pointing to `supabase start`
 *
 * Like Supabase's gateway (Kong): CORS on every answer (preflights answered
 * here, except for functions, which answer their own), `apikey` (header
 * or query parameter) required on /auth/v1 and /rest/v1: it must be the anon
 * or the service_role key, or the secret key (`sb_secret_…`, service_role's
 * rights; with it a server may forward end users' addresses), and a path whose percent-encoding is malformed
 * (`%`, `%E0%A4%A`) refused with 400 before anything is routed.
 */
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { type AuthGuardConfig, authLimiters } from './auth-guard.ts';
import { decodePathSegment } from '../../edge/_shared/input.ts';
import { type AuthContext, handleAuth, notImplementedMessage } from './auth.ts';
import { bearer, BodyTooLargeError, header, lingerAfterAnswer, sendJson } from './http-util.ts';
import { verifyJwt } from './jwt.ts';
import { handleRpc, type RestContext, sendPgrst } from './rest.ts';

export interface FunctionTarget {
  /** Base URL of the function's Deno server, or undefined while it is (re)starting. */
  url: string | undefined;
  /** supabase/config.toml `verify_jwt` (Supabase's default: true). */
  verifyJwt: boolean;
}

export interface LocalApiOptions {
  port: number;
  host?: string;
  /** Admin connection for the auth schema (GoTrue's role). */
  adminPool: pg.Pool;
  /** Connection as `authenticator` for /rest/v1 (PostgREST's role). */
  restPool: pg.Pool;
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  /** The project's secret API key (`sb_secret_…`): a server's key, which stands for service_role and may forward end users' addresses. */
  secretKey?: string;
  jwtExpirySeconds?: number;
  /** Auth's rate limits and CAPTCHA (config.toml `[auth.rate_limit]`, `[auth.captcha]`); none when absent. */
  authGuard?: AuthGuardConfig;
  /** The clock the rate limits refill by (tests freeze it). */
  now?: () => number;
  /** Looks up an Edge Function by name; undefined when there is no such function. */
  functions: (name: string) => FunctionTarget | undefined;
  log?: (line: string) => void;
}

export interface LocalApi {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const ALLOW_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS';
const EXPOSE_HEADERS = 'Content-Range, Content-Location, Content-Profile, Preference-Applied, Range-Unit, X-Supabase-Api-Version';
/** What supabase-js sends; used when a preflight does not list its headers. */
const DEFAULT_ALLOW_HEADERS =
  'authorization, x-client-info, apikey, content-type, content-profile, accept-profile, prefer, range, x-supabase-api-version, x-region';

/** Headers a client could use to claim an address; the gateway sets x-forwarded-for itself. */
const CLIENT_ADDRESS_HEADERS = ['x-forwarded-for', 'x-real-ip', 'cf-connecting-ip', 'true-client-ip', 'forwarded'];

const CORS_HEADERS: Record<string, string> = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSE_HEADERS };

export async function startLocalApi(opts: LocalApiOptions): Promise<LocalApi> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  let apiUrl = '';
  const guard = opts.authGuard
    ? { limiters: authLimiters(opts.authGuard, opts.now), captcha: opts.authGuard.captcha, sbForwardedFor: opts.authGuard.sbForwardedFor }
    : undefined;
  const secretKeys = opts.secretKey ? [opts.secretKey] : [];
  const authCtx = (): AuthContext => ({
    pool: opts.adminPool,
    jwtSecret: opts.jwtSecret,
    apiUrl,
    jwtExpirySeconds: opts.jwtExpirySeconds ?? 3600,
    secretKeys,
    ...(guard ? { guard } : {}),
  });
  const restCtx: RestContext = { pool: opts.restPool, schema: 'public', extraSearchPath: ['public', 'extensions'] };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`local API: ${req.method} ${req.url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      if (!res.headersSent) {
        if (err instanceof BodyTooLargeError) {
          lingerAfterAnswer(req, res);
          sendJson(res, 413, { code: 'PGRST413', details: null, hint: null, message: err.message });
        } else sendJson(res, 500, { code: 'LOCAL500', details: null, hint: null, message: 'Internal error in the local API (see the npm start output).' });
      } else res.destroy();
    });
  });
  // A request Node's parser refuses (headers or URL over 16 KiB, malformed
  // HTTP) is still answered in JSON, with Node's status, like every error here.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const [status, reason] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
    const body = JSON.stringify({ message: reason, hint: status === 431 ? 'The URL and headers together exceed 16 KiB.' : 'The request is not valid HTTP.' });
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${
        Buffer.byteLength(body)
      }\r\nConnection: close\r\n\r\n${body}`,
    );
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (path.split('/').some((segment) => decodePathSegment(segment) === undefined)) {
      return sendJson(res, 400, { message: 'Bad Request', hint: 'The path has a malformed percent-encoding.' }, CORS_HEADERS);
    }
    if (path === '/functions/v1' || path.startsWith('/functions/v1/')) return proxyFunction(req, res, url);

    for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
    if (method === 'OPTIONS') {
      res.writeHead(200, {
        'Access-Control-Allow-Methods': ALLOW_METHODS,
        'Access-Control-Allow-Headers': header(req, 'access-control-request-headers') ?? DEFAULT_ALLOW_HEADERS,
        'Access-Control-Max-Age': '3600',
        'Content-Length': '0',
      });
      return void res.end();
    }

    const isAuth = path === '/auth/v1' || path.startsWith('/auth/v1/');
    const isRest = path === '/rest/v1' || path.startsWith('/rest/v1/');
    if (isAuth || isRest) {
      const key = header(req, 'apikey') ?? url.searchParams.get('apikey') ?? undefined;
      if (!key) {
        return sendJson(res, 401, { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' });
      }
      if (key !== opts.anonKey && key !== opts.serviceRoleKey && !(opts.secretKey && key === opts.secretKey)) {
        return sendJson(res, 401, { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' });
      }
      if (isAuth) return handleAuth(req, res, path.slice('/auth/v1'.length) || '/', url, authCtx());

      const rpc = /^\/rest\/v1\/rpc\/([^/]+)\/?$/.exec(path);
      if (!rpc && /^\/rest\/v1\/rpc(\/|$)/.test(path)) {
        // PostgREST's answer to /rpc without one function name (or with more after it).
        return sendPgrst(res, 404, { code: 'PGRST125', details: null, hint: null, message: `Invalid path specified in request URL` });
      }
      if (!rpc) {
        return sendPgrst(res, 501, {
          code: 'LOCAL501',
          details: `${method} ${path}`,
          hint: 'Call your data through RPC functions (supabase.rpc), or run `supabase start` (Docker) for the full PostgREST.',
          message: notImplementedMessage('Table and view access through the Data API'),
        });
      }
      // The JWT PostgREST sees: Authorization, or the apikey itself (a role key) when absent.
      const token = bearer(req) ?? (req.headers.authorization ? undefined : key);
      if (!token) {
        return sendPgrst(res, 401, { code: 'PGRST301', details: null, hint: null, message: 'Expected 3 parts in JWT; got 1' }, {
          'WWW-Authenticate': 'Bearer error="invalid_token"',
        });
      }
      // A secret key is not a JWT: Supabase's gateway runs its requests as service_role.
      const verified = opts.secretKey && token === opts.secretKey
        ? { ok: true as const, claims: { role: 'service_role', iss: 'supabase' } }
        : verifyJwt(token, opts.jwtSecret);
      if (!verified.ok) {
        const code = verified.reason === 'claims' ? 'PGRST303' : 'PGRST301';
        return sendPgrst(res, 401, { code, details: null, hint: null, message: verified.message }, {
          'WWW-Authenticate': `Bearer error="invalid_token", error_description="${verified.message}"`,
        });
      }
      return handleRpc(req, res, decodePathSegment(rpc[1]!)!, url, verified.claims, restCtx);
    }

    const service = path.split('/').filter(Boolean).slice(0, 2).join('/') || '/';
    return sendJson(res, 501, {
      code: 'not_implemented',
      message: notImplementedMessage(`${service === '/' ? 'This endpoint' : `/${service}`}`),
      hint: 'The local stack answers /auth/v1 (anonymous sessions), /rest/v1/rpc/<function> and /functions/v1/<name>.',
    });
  }

  function proxyFunction(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const rest = url.pathname.slice('/functions/v1'.length);
    const name = decodePathSegment(rest.split('/')[1] ?? '')!;
    const target = name ? opts.functions(name) : undefined;
    const cors = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': DEFAULT_ALLOW_HEADERS };
    if (!target) return sendJson(res, 404, { code: 'NOT_FOUND', message: 'Requested function was not found' }, cors);
    if (!target.url) return sendJson(res, 503, { code: 'BOOT_ERROR', message: 'Function failed to start (please check logs)' }, cors);
    if (target.verifyJwt && req.method !== 'OPTIONS') {
      const token = bearer(req);
      if (!token) return sendJson(res, 401, { code: 'UNAUTHORIZED_NO_AUTH_HEADER', message: 'Missing authorization header' }, cors);
      if (!verifyJwt(token, opts.jwtSecret).ok) return sendJson(res, 401, { code: 'UNAUTHORIZED_INVALID_JWT_FORMAT', message: 'Invalid JWT' }, cors);
    }
    const upstream = new URL(target.url);
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-proto'] = 'http';
    // The caller's address, as Supabase's gateway passes it to a function:
    // from the connection, replacing whatever the client sent, so that no
    // client can choose the address the per-address caps count it under.
    for (const h of CLIENT_ADDRESS_HEADERS) delete headers[h];
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const out = httpRequest(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: rest + url.search, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.statusMessage, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      log(`local API: function ${name} unreachable: ${err.message}`);
      if (!res.headersSent) sendJson(res, 503, { code: 'BOOT_ERROR', message: 'Function failed to start (please check logs)' }, cors);
      else res.destroy();
    });
    req.pipe(out);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  apiUrl = `http://${host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    url: apiUrl,
    port,
    server,
    close: () => (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    })),
  };
}
