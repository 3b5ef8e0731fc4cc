/**
 * The query MercadoPago appends to `back_urls` (success, pending, failure):
 * `collection_id, collection_status, payment_id, status, external_reference,
 * payment_type, merchant_order_id, preference_id, site_id, processing_mode,
 * merchant_account_id`. Missing values arrive as the string `null`.
 */
import type { MercadoPagoReturnQuery } from './types.ts';

function clean(value: string | null | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  return v === '' || v === 'null' || v === 'undefined' ? undefined : v;
}

export function parseReturnQuery(input: URLSearchParams | string | Record<string, string | undefined>): MercadoPagoReturnQuery {
  const params = input instanceof URLSearchParams
    ? input
    : typeof input === 'string'
    ? new URLSearchParams(input.includes('?') ? input.slice(input.indexOf('?') + 1) : input)
    : new URLSearchParams(Object.entries(input).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const get = (...names: string[]) => {
    for (const n of names) {
      const v = clean(params.get(n));
      if (v) return v;
    }
    return undefined;
  };
  const q: MercadoPagoReturnQuery = {};
  const paymentId = get('payment_id', 'collection_id');
  if (paymentId && /^\d{1,20}$/.test(paymentId)) q.paymentId = paymentId;
  const status = get('status', 'collection_status');
  if (status) q.status = status;
  const ref = get('external_reference');
  if (ref && /^[A-Za-z0-9_-]{1,64}$/.test(ref)) q.externalReference = ref;
  const pref = get('preference_id');
  if (pref) q.preferenceId = pref;
  const mo = get('merchant_order_id');
  if (mo) q.merchantOrderId = mo;
  const pt = get('payment_type');
  if (pt) q.paymentType = pt;
  return q;
}
