/**
 * The HTTP front: one node:http server dispatching to the control API
 * (`/__sandbox/...`), the checkout page (`/checkout/v1/...`) and MercadoPago's
 * REST paths (Bearer token, injected faults, `X-Idempotency-Key`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ApiRoute, apiRoutes } from './api.ts';
import { handleCheckout } from './checkout.ts';
import { handleControl, type SandboxOperations } from './control.ts';
import type { SandboxCore } from './core.ts';
import { MpError } from './errors.ts';
import type { Faults } from './faults.ts';
import type { Claims } from './claims.ts';
import type { Disputes } from './disputes.ts';
import { parseJson, readBody, readBodyBuffer, sendHtml, sendJson } from './http.ts';

export interface ServerDeps {
  core: SandboxCore;
  disputes: Disputes;
  claims: Claims;
  ops: SandboxOperations;
  faults: Faults;
  accessToken: string;
  log: (line: object) => void;
}

const sameToken = (a: string, b: string): boolean => {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
};

function authorize(req: IncomingMessage, accessToken: string): void {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null) {
    throw new MpError(401, 'unauthorized', 'unauthorized', [
      { code: 'missing_access_token', description: 'Must provide your access_token to proceed' },
    ]);
  }
  const token = match[1] ?? '';
  if (!sameToken(token, accessToken)) {
    throw new MpError(401, 'unauthorized', 'invalid access token', [
      { code: 'invalid_access_token', description: 'access denied' },
    ]);
  }
}

export function createSandboxServer(deps: ServerDeps): Server {
  const routes = apiRoutes(deps.core, deps.disputes, deps.claims);
  /** Uploads may carry more than MercadoPago's 10 MB so that the limit answers its own error. */
  const MAX_UPLOAD = 25 * 1024 * 1024;

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, method: string): Promise<void> {
    const path = url.pathname;
    const fault = deps.faults.take(method, path);
    if (fault?.mode === 'timeout') {
      deps.log({ event: 'fault', mode: 'timeout', method, path });
      deps.faults.hang(res, fault.hangMs);
      return;
    }
    if (fault?.mode === 'error') {
      deps.log({ event: 'fault', mode: 'error', method, path });
      sendJson(res, 500, new MpError(500, 'internal_error', 'Internal server error (injected by mp-sandbox)').toBody());
      return;
    }
    authorize(req, deps.accessToken);

    const candidates = routes.filter((r) => r.pattern.test(path));
    const route: ApiRoute | undefined = candidates.find((r) => r.method === method);
    if (route === undefined) {
      if (candidates.length > 0) throw new MpError(405, 'method_not_allowed', `Method ${method} not allowed for ${path}`);
      throw new MpError(404, 'not_found', `resource not found: ${method} ${path} is not emulated by mp-sandbox`);
    }
    const rawBytes = method === 'GET' ? Buffer.alloc(0) : await readBodyBuffer(req, route.multipart ? MAX_UPLOAD : undefined);
    const raw = route.multipart ? '' : rawBytes.toString('utf8');
    const params = (route.pattern.exec(path) ?? []).slice(1).map((p) => decodeURIComponent(p ?? ''));

    const key = route.idempotent ? req.headers['x-idempotency-key'] : undefined;
    const cacheKey = typeof key === 'string' && key !== '' ? `${method} ${path} ${key}` : null;
    const fingerprint = createHash('sha256').update(raw).digest('hex');
    if (cacheKey !== null) {
      const cached = deps.core.store.idempotency.get(cacheKey);
      if (cached !== undefined) {
        if (cached.fingerprint !== fingerprint) {
          throw new MpError(409, 'idempotency_key_already_used', 'X-Idempotency-Key already used with a different request body');
        }
        sendJson(res, cached.status, cached.body, { 'x-idempotency-replayed': 'true' });
        return;
      }
    }
    const result = await route.handle({
      params,
      query: url.searchParams,
      body: route.multipart ? undefined : parseJson(raw),
      raw: rawBytes,
      contentType: req.headers['content-type'] ?? '',
    });
    if (cacheKey !== null && result.status < 300) {
      deps.core.store.idempotency.set(cacheKey, { fingerprint, status: result.status, body: result.body });
    }
    sendJson(res, result.status, result.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const path = url.pathname;
    res.on('close', () => {
      deps.log({ event: 'request', method, path, status: res.writableFinished ? res.statusCode : 'dropped' });
    });
    try {
      // Lazy expiry: offline payments past their deadline (and payments unconfirmed
      // for 30 days) are cancelled, with their notifications, before anyone reads them.
      deps.core.expireDue(Date.now());
      if (path === '/__sandbox' || path.startsWith('/__sandbox/')) {
        const raw = method === 'GET' || method === 'DELETE' ? '' : await readBody(req);
        const result = await handleControl(deps.ops, method, path, url.searchParams, parseJson(raw));
        sendJson(res, result.status, result.body);
        return;
      }
      if (await handleCheckout(deps.core, req, res, url)) return;
      await handleApi(req, res, url, method);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof MpError) {
        sendJson(res, err.status, err.toBody());
        return;
      }
      deps.log({ event: 'internal_error', method, path, error: err instanceof Error ? err.stack : String(err) });
      if (path.startsWith('/checkout/v1/')) sendHtml(res, 500, '<h1>Error interno del sandbox</h1>');
      else sendJson(res, 500, new MpError(500, 'internal_error', 'Internal server error').toBody());
    }
  }

  return createServer((req, res) => {
    void handle(req, res);
  });
}
