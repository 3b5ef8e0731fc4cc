/**
 * MercadoPago's REST paths, as the official SDK calls them (see
 * node_modules/mercadopago/dist/clients/<resource>/<operation>/index.js).
 * Handlers return `{ status, body }` so the server can cache answers for
 * `X-Idempotency-Key`.
 */
import type { SandboxCore } from './core.ts';
import { badRequest, MpError } from './errors.ts';
import { isPlainObject } from './util.ts';

export interface ApiRequest {
  params: string[];
  query: URLSearchParams;
  body: unknown;
}
export interface ApiResult {
  status: number;
  body: unknown;
}
export interface ApiRoute {
  method: string;
  pattern: RegExp;
  /** Writes that honour `X-Idempotency-Key`. */
  idempotent: boolean;
  handle: (req: ApiRequest) => ApiResult;
}

const id = (req: ApiRequest): string => req.params[0] ?? '';

export function apiRoutes(core: SandboxCore): ApiRoute[] {
  const r = (method: string, pattern: RegExp, handle: ApiRoute['handle']): ApiRoute => ({
    method,
    pattern,
    idempotent: method === 'POST' || method === 'PUT',
    handle,
  });
  return [
    // The SDK posts to `/checkout/preferences/` (trailing slash); curl examples use none.
    r('POST', /^\/checkout\/preferences\/?$/, (req) => ({
      status: 201,
      body: core.preferenceJson(core.createPreference(req.body)),
    })),
    r('GET', /^\/checkout\/preferences\/([^/]+)$/, (req) => ({
      status: 200,
      body: core.preferenceJson(core.preference(id(req))),
    })),
    r('PUT', /^\/checkout\/preferences\/([^/]+)$/, (req) => ({
      status: 200,
      body: core.preferenceJson(core.updatePreference(id(req), req.body)),
    })),
    r('GET', /^\/v1\/payments\/search\/?$/, (req) => ({ status: 200, body: core.searchPayments(req.query) })),
    r('POST', /^\/v1\/payments\/?$/, () => {
      throw new MpError(
        501,
        'not_emulated',
        'mp-sandbox emulates Checkout Pro: payments are made on the checkout page (init_point) or with POST /__sandbox/preferences/{id}/pay',
      );
    }),
    r('GET', /^\/v1\/payments\/([^/]+)$/, (req) => ({ status: 200, body: core.paymentJson(core.payment(id(req))) })),
    r('PUT', /^\/v1\/payments\/([^/]+)$/, (req) => {
      const body = req.body;
      if (!isPlainObject(body) || body['status'] !== 'cancelled' || Object.keys(body).length !== 1) {
        throw badRequest(
          'not_emulated',
          'mp-sandbox supports PUT /v1/payments/{id} only with {"status":"cancelled"} (capture and other updates are not emulated)',
        );
      }
      return { status: 200, body: core.paymentJson(core.cancel(id(req))) };
    }),
    r('POST', /^\/v1\/payments\/([^/]+)\/refunds\/?$/, (req) => {
      const body = req.body ?? {};
      if (!isPlainObject(body)) throw badRequest('bad_request', 'body must be a JSON object');
      const amount = body['amount'];
      if (amount !== undefined && amount !== null && typeof amount !== 'number') {
        throw badRequest('invalid_amount', 'amount invalid. Should be a number.');
      }
      return { status: 201, body: core.refundJson(core.refund(id(req), amount ?? undefined)) };
    }),
    r('GET', /^\/v1\/payments\/([^/]+)\/refunds\/?$/, (req) => ({
      status: 200,
      body: core.payment(id(req)).refunds.map((ref) => core.refundJson(ref)),
    })),
    r('GET', /^\/v1\/payments\/([^/]+)\/refunds\/([^/]+)$/, (req) => {
      const refund = core.payment(id(req)).refunds.find((ref) => String(ref.id) === req.params[1]);
      if (refund === undefined) throw new MpError(404, 'not_found', 'Refund not found');
      return { status: 200, body: core.refundJson(refund) };
    }),
    r('GET', /^\/merchant_orders\/search\/?$/, (req) => ({ status: 200, body: core.searchMerchantOrders(req.query) })),
    r('GET', /^\/merchant_orders\/([^/]+)$/, (req) => ({ status: 200, body: core.merchantOrderJson(id(req)) })),
  ];
}
