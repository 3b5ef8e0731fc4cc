/**
 * `GET /v1/payments/search` and `GET /checkout/preferences/search`: filters,
 * sort and paging as MercadoPago's search endpoints take them.
 */
import { badRequest } from './errors.ts';
import type { PreferenceRecord } from './types.ts';
import { isPlainObject, mpDate } from './util.ts';
import type { PaymentView, ViewContext } from './views.ts';

export function searchPayments(
  all: PaymentView[],
  query: URLSearchParams,
): { paging: { total: number; limit: number; offset: number }; results: PaymentView[] } {
  const sort = query.get('sort') ?? 'date_created';
  const criteria = query.get('criteria') ?? 'asc';
  const sortable = ['date_created', 'date_approved', 'date_last_updated', 'money_release_date', 'id'];
  if (!sortable.includes(sort)) throw badRequest('invalid_sort', `sort invalid. Should be one of ${sortable.join(', ')}.`);
  if (criteria !== 'asc' && criteria !== 'desc') throw badRequest('invalid_criteria', 'criteria invalid. Should be asc or desc.');
  const limit = Number(query.get('limit') ?? '30');
  const offset = Number(query.get('offset') ?? '0');
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('invalid_limit', 'limit invalid. Between 1 and 1000.');
  if (!Number.isInteger(offset) || offset < 0) throw badRequest('invalid_offset', 'offset invalid.');

  const filters: Array<[string, string]> = [];
  for (const [key, value] of query) {
    if (['sort', 'criteria', 'limit', 'offset', 'range', 'begin_date', 'end_date'].includes(key)) continue;
    filters.push([key, value]);
  }
  const range = query.get('range') ?? 'date_created';
  const begin = rangeDate(query.get('begin_date'), 'begin_date');
  const end = rangeDate(query.get('end_date'), 'end_date');

  const matched = all.filter((v) => {
    for (const [key, value] of filters) {
      const field = lookup(v, key);
      if (field === undefined) continue; // MercadoPago ignores unknown filters
      if (String(field) !== value) return false;
    }
    const rangeValue = lookup(v, range);
    const at = typeof rangeValue === 'string' ? Date.parse(rangeValue) : NaN;
    if (begin !== null && !(at >= begin)) return false;
    if (end !== null && !(at <= end)) return false;
    return true;
  });
  const key = (v: PaymentView): number => {
    const value = lookup(v, sort);
    if (typeof value === 'number') return value;
    return typeof value === 'string' ? Date.parse(value) : Number.NEGATIVE_INFINITY;
  };
  matched.sort((a, b) => {
    const d = key(a) - key(b) || Number(a['id']) - Number(b['id']);
    return criteria === 'asc' ? d : -d;
  });
  return { paging: { total: matched.length, limit, offset }, results: matched.slice(offset, offset + limit) };
}

function rangeDate(value: string | null, name: string): number | null {
  if (value === null) return null;
  const relative = /^NOW(?:-(\d+)(DAYS|HOURS|MINUTES))?$/.exec(value);
  if (relative !== null) {
    const n = Number(relative[1] ?? 0);
    const unit = relative[2] === 'DAYS' ? 86_400_000 : relative[2] === 'HOURS' ? 3_600_000 : 60_000;
    return Date.now() - n * unit;
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw badRequest(`invalid_${name}`, `${name} invalid.`);
  return ms;
}

/**
 * `GET /checkout/preferences/search`: the summary MercadoPago lists (items as
 * titles), newest first, filtered on `id`, `external_reference`, `site_id`,
 * `marketplace`, `sponsor_id`, `collector_id` and `payer_email`.
 */
export function searchPreferences(all: PreferenceRecord[], ctx: ViewContext, query: URLSearchParams) {
  const limit = Number(query.get('limit') ?? '30');
  const offset = Number(query.get('offset') ?? '0');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest('invalid_limit', 'limit invalid. Between 1 and 100.');
  if (!Number.isInteger(offset) || offset < 0) throw badRequest('invalid_offset', 'offset invalid.');
  const elements = all.map((p) => ({
    id: p.id,
    client_id: String(ctx.collectorId).slice(0, 16),
    collector_id: ctx.collectorId,
    concept_id: null,
    corporation_id: null,
    date_created: mpDate(p.createdAt),
    expiration_date_from: p.expirationDateFrom,
    expiration_date_to: p.expirationDateTo,
    expires: p.expires,
    external_reference: p.externalReference,
    integrator_id: null,
    items: p.items.map((i) => i.title),
    last_updated: mpDate(p.createdAt),
    live_mode: false,
    marketplace: 'NONE',
    operation_type: 'regular_payment',
    payer_email: typeof p.payer['email'] === 'string' ? p.payer['email'] : '',
    payer_id: null,
    platform_id: null,
    processing_modes: ['aggregator'],
    product_id: null,
    purpose: '',
    site_id: p.siteId,
    sponsor_id: 0,
    shipping_mode: 'not_specified',
  }));
  const keys = ['id', 'external_reference', 'site_id', 'marketplace', 'sponsor_id', 'collector_id', 'payer_email'] as const;
  const matched = elements
    .filter((e) => keys.every((k) => query.get(k) === null || String(e[k]) === query.get(k)))
    .reverse();
  return { elements: matched.slice(offset, offset + limit), next_offset: offset + limit, total: matched.length };
}

/** Reads `a.b.c` from a view, like MercadoPago's search filters (`order.id`, `payer.email`). */
function lookup(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}
