/**
 * MercadoPago's REST paths, as the official SDK calls them (see
 * node_modules/mercadopago/dist/clients/<resource>/<operation>/index.js).
 * Handlers return `{ status, body }` so the server can cache answers for
 * `X-Idempotency-Key`.
 */
import type { SandboxCore } from './core.ts';
import type { Claims } from './claims.ts';
import type { Disputes } from './disputes.ts';
import { badRequest, MpError } from './errors.ts';
import { isPlainObject } from './util.ts';

export interface ApiRequest {
  params: string[];
  query: URLSearchParams;
  /** The JSON body (undefined for multipart routes). */
  body: unknown;
  raw: Buffer;
  contentType: string;
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
  /** Multipart uploads: the body is not JSON, and may be larger. */
  multipart?: boolean;
  handle: (req: ApiRequest) => ApiResult | Promise<ApiResult>;
}

/** Reads the `files[]` (or `files`) parts of a multipart body. */
async function uploadedFiles(req: ApiRequest): Promise<Array<{ name: string; type: string; size: number }>> {
  if (!/^multipart\/form-data;/i.test(req.contentType)) {
    throw badRequest('invalid_files', 'Send the documentation as multipart/form-data with fields named files[].');
  }
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(req.raw), { headers: { 'content-type': req.contentType } }).formData();
  } catch {
    throw badRequest('invalid_files', 'The multipart body could not be read.');
  }
  return [...form.getAll('files[]'), ...form.getAll('files')].flatMap((v) => (typeof v === 'string' ? [] : [{ name: v.name, type: v.type, size: v.size }]));
}

const id = (req: ApiRequest): string => req.params[0] ?? '';

export function apiRoutes(core: SandboxCore, disputes: Disputes, claims: Claims): ApiRoute[] {
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
    r('GET', /^\/checkout\/preferences\/search\/?$/, (req) => ({ status: 200, body: core.searchPreferences(req.query) })),
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
    r('GET', /^\/merchant_orders\/search\/?$/, (req) => ({ status: 200, body: core.orders.search(req.query) })),
    r('POST', /^\/merchant_orders\/?$/, (req) => ({ status: 201, body: core.orders.view(core.orders.create(req.body)) })),
    r('GET', /^\/merchant_orders\/([^/]+)$/, (req) => ({ status: 200, body: core.merchantOrderJson(id(req)) })),
    r('PUT', /^\/merchant_orders\/([^/]+)$/, (req) => ({ status: 200, body: core.orders.view(core.orders.update(id(req), req.body)) })),
    r('GET', /^\/v1\/chargebacks\/search\/?$/, (req) => {
      const paymentId = req.query.get('payment_id');
      const all = [...core.store.chargebacks.values()].filter((cb) => paymentId === null || String(cb.paymentId) === paymentId);
      return { status: 200, body: { results: all.map((cb) => disputes.chargebackJson(cb)), paging: { total: all.length, limit: all.length, offset: 0 } } };
    }),
    r('GET', /^\/v1\/chargebacks\/([^/]+)$/, (req) => ({ status: 200, body: disputes.chargebackJson(disputes.chargeback(id(req))) })),
    {
      method: 'POST',
      pattern: /^\/v1\/chargebacks\/([^/]+)\/documentation\/?$/,
      idempotent: false,
      multipart: true,
      handle: async (req) => {
        disputes.chargeback(id(req)); // 404 before reading the files
        const files = await uploadedFiles(req);
        return { status: 200, body: disputes.chargebackJson(disputes.addDocumentation(id(req), files)) };
      },
    },
    r('GET', /^\/post-purchase\/v1\/claims\/search\/?$/, (req) => {
      const resourceId = req.query.get('resource_id');
      const all = [...core.store.claims.values()].filter((c) => resourceId === null || String(c.paymentId) === resourceId);
      return { status: 200, body: { paging: { offset: 0, limit: all.length, total: all.length }, data: all.map((c) => claims.claimJson(c)) } };
    }),
    r('GET', /^\/post-purchase\/v1\/claims\/([^/]+)$/, (req) => ({ status: 200, body: claims.claimJson(claims.claim(id(req))) })),
  ];
}
