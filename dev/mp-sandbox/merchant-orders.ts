/**
 * Merchant orders as MercadoPago keeps them for Checkout Pro: one per
 * preference, created at its first payment (or by `POST /merchant_orders`),
 * listing every payment with `paid_amount`, `refunded_amount`, `status` and
 * `order_status` kept current, and notified on creation and on every change.
 */
import { badRequest, notFound } from './errors.ts';
import { parseItemsForSite } from './preferences.ts';
import type { Store } from './store.ts';
import type { JsonObject, MerchantOrderRecord, PaymentRecord, PreferenceItem, PreferenceRecord } from './types.ts';
import { isPlainObject, mpDate, mpDateOrNull, round2 } from './util.ts';
import { refundedAmount, type ViewContext } from './views.ts';
import type { Notifier } from './webhooks.ts';

/** How merchant-order notifications are sent: the feed a preference's notification_url gets, the panel's Webhooks topic, or none. */
export type MerchantOrderTopic = 'merchant_order' | 'topic_merchant_order_wh' | 'none';

export interface MerchantOrderOptions {
  siteId: string;
  notificationUrl: string | undefined;
  topic: MerchantOrderTopic;
}

/** `order_status` from the payments (MercadoPago's aggregation). */
function orderStatus(total: number, payments: PaymentRecord[]): string {
  const paid = round2(payments.filter((p) => p.status === 'approved').reduce((s, p) => s + p.amount, 0));
  const refunded = round2(payments.reduce((s, p) => s + refundedAmount(p), 0));
  const reverted = payments.filter((p) => p.status === 'refunded' || p.status === 'charged_back');
  if (paid === 0 && reverted.length > 0) return 'reverted';
  if (paid > 0 && refunded > 0) return 'partially_reverted';
  if (paid >= total) return 'paid';
  if (paid > 0) return 'partially_paid';
  if (payments.some((p) => p.status === 'in_process' || p.status === 'pending')) return 'payment_in_process';
  return 'payment_required';
}

export function merchantOrderView(ctx: ViewContext, mo: MerchantOrderRecord, pref: PreferenceRecord | undefined, payments: PaymentRecord[]) {
  const items = mo.items ?? pref?.items ?? [];
  const total = round2(items.reduce((s, i) => s + i.quantity * i.unit_price, 0));
  const paid = round2(payments.filter((p) => p.status === 'approved').reduce((s, p) => s + p.amount, 0));
  const refunded = round2(payments.reduce((s, p) => s + refundedAmount(p), 0));
  return {
    id: mo.id,
    status: mo.cancelled ? 'expired' : total > 0 && paid >= total ? 'closed' : 'opened',
    external_reference: mo.externalReference ?? pref?.externalReference ?? '',
    preference_id: mo.preferenceId ?? '',
    payments: payments.map((p) => ({
      id: p.id,
      transaction_amount: p.amount,
      total_paid_amount: p.totalPaid,
      shipping_cost: 0,
      currency_id: p.currencyId,
      status: p.status,
      status_detail: p.statusDetail,
      operation_type: 'regular_payment',
      date_approved: mpDateOrNull(p.approvedAt),
      date_created: mpDate(p.createdAt),
      last_modified: mpDate(p.updatedAt),
      amount_refunded: refundedAmount(p),
    })),
    shipments: [],
    payouts: [],
    collector: { id: ctx.collectorId, email: '', nickname: 'TESTSANDBOX' },
    marketplace: mo.marketplace,
    notification_url: mo.notificationUrl ?? pref?.notificationUrl ?? null,
    date_created: mpDate(mo.createdAt),
    last_updated: mpDate(mo.updatedAt),
    sponsor_id: mo.sponsorId,
    shipping_cost: 0,
    total_amount: total,
    site_id: mo.siteId,
    paid_amount: paid,
    refunded_amount: refunded,
    payer: mo.payer,
    items: items.map((i) => ({ ...i })),
    cancelled: mo.cancelled,
    additional_info: mo.additionalInfo,
    application_id: null,
    is_test: true,
    order_status: orderStatus(total, payments),
    client_id: String(ctx.collectorId),
  };
}
export type MerchantOrderView = ReturnType<typeof merchantOrderView>;

export class MerchantOrders {
  constructor(
    private readonly store: Store,
    private readonly ctx: ViewContext,
    private readonly notifier: Notifier,
    private readonly opts: MerchantOrderOptions,
  ) {}

  private blank(preferenceId: string | null, now: number): MerchantOrderRecord {
    const mo: MerchantOrderRecord = {
      id: this.store.merchantOrderId(),
      preferenceId,
      createdAt: now,
      updatedAt: now,
      siteId: this.opts.siteId,
      notificationUrl: null,
      externalReference: null,
      items: null,
      additionalInfo: '',
      payer: null,
      marketplace: 'NONE',
      sponsorId: null,
      cancelled: false,
      version: 0,
    };
    this.store.merchantOrders.set(mo.id, mo);
    return mo;
  }

  /** The preference's merchant order, created (and notified) at its first payment. */
  forPreference(pref: PreferenceRecord, now: number): MerchantOrderRecord {
    const existing = pref.merchantOrderId === null ? undefined : this.store.merchantOrders.get(pref.merchantOrderId);
    if (existing !== undefined) return existing;
    const mo = this.blank(pref.id, now);
    pref.merchantOrderId = mo.id;
    this.notify(mo, 'create');
    return mo;
  }

  /** A payment of the order changed: new version, notified. */
  touch(id: number, now: number): void {
    const mo = this.store.merchantOrders.get(id);
    if (mo === undefined) return;
    mo.updatedAt = now;
    mo.version++;
    this.notify(mo, 'update');
  }

  get(id: number | string): MerchantOrderRecord {
    const mo = /^\d+$/.test(String(id)) ? this.store.merchantOrders.get(Number(id)) : undefined;
    if (mo === undefined) throw notFound('Merchant Order not found', [{ code: 'not_found', description: 'Merchant Order not found' }]);
    return mo;
  }

  view(mo: MerchantOrderRecord): MerchantOrderView {
    const pref = mo.preferenceId === null ? undefined : this.store.preferences.get(mo.preferenceId);
    const payments = [...this.store.payments.values()].filter((p) => p.merchantOrderId === mo.id);
    return merchantOrderView(this.ctx, mo, pref, payments);
  }

  /** `POST /merchant_orders`: for a preference (`preference_id`) or for items of its own. */
  create(body: unknown): MerchantOrderRecord {
    if (!isPlainObject(body)) throw badRequest('bad_request', 'body must be a JSON object');
    const prefId = body['preference_id'];
    if (prefId !== undefined && prefId !== null && typeof prefId !== 'string') throw badRequest('invalid_preference_id', 'preference_id must be a string.');
    const pref = typeof prefId === 'string' ? this.store.preferences.get(prefId) : undefined;
    if (typeof prefId === 'string' && pref === undefined) throw badRequest('invalid_preference_id', 'preference_id not found.');
    if (pref === undefined && body['items'] === undefined) throw badRequest('invalid_items', 'items needed.');
    const now = Date.now();
    const changes = this.parseChanges(body);
    // A preference not paid yet adopts this order: its payments will be listed here.
    const mo = this.blank(pref?.id ?? null, now);
    if (pref !== undefined && pref.merchantOrderId === null) pref.merchantOrderId = mo.id;
    Object.assign(mo, changes);
    this.notify(mo, 'create');
    return mo;
  }

  /** `PUT /merchant_orders/{id}`: the fields a collector may change. */
  update(id: number | string, body: unknown): MerchantOrderRecord {
    const mo = this.get(id);
    if (!isPlainObject(body)) throw badRequest('bad_request', 'body must be a JSON object');
    Object.assign(mo, this.parseChanges(body));
    this.touch(mo.id, Date.now());
    return mo;
  }

  private parseChanges(body: Record<string, unknown>): Partial<MerchantOrderRecord> {
    const out: Partial<MerchantOrderRecord> = {};
    const str = (key: string): string | undefined => {
      const v = body[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string') throw badRequest(`invalid_${key}`, `${key} must be a string.`);
      return v;
    };
    const url = str('notification_url');
    if (url !== undefined) {
      if (!/^https?:\/\/[^\s]+$/.test(url)) throw badRequest('invalid_notification_url', 'notification_url attribute must be url valid');
      out.notificationUrl = url;
    }
    const ref = str('external_reference');
    if (ref !== undefined) out.externalReference = ref;
    const info = str('additional_info');
    if (info !== undefined) out.additionalInfo = info;
    const marketplace = str('marketplace');
    if (marketplace !== undefined) out.marketplace = marketplace;
    if (body['items'] !== undefined) out.items = parseItemsForSite(body['items'], this.opts.siteId) as PreferenceItem[];
    if (body['payer'] !== undefined) {
      if (!isPlainObject(body['payer'])) throw badRequest('invalid_payer', 'payer invalid. Should be an object.');
      out.payer = body['payer'] as JsonObject;
    }
    const sponsor = body['sponsor_id'];
    if (sponsor !== undefined && sponsor !== null) {
      if (typeof sponsor !== 'number' || !Number.isInteger(sponsor)) throw badRequest('invalid_sponsor_id', 'sponsor_id must be a number.');
      out.sponsorId = sponsor;
    }
    if (body['cancelled'] !== undefined) {
      if (typeof body['cancelled'] !== 'boolean') throw badRequest('invalid_cancelled', 'cancelled must be boolean.');
      out.cancelled = body['cancelled'];
    }
    return out;
  }

  /** `GET /merchant_orders/search`: `preference_id`, `external_reference`, `status`, `order_status`, `site_id`, `limit`, `offset`. */
  search(query: URLSearchParams): { elements: MerchantOrderView[]; next_offset: number; total: number } {
    const limit = Number(query.get('limit') ?? '30');
    const offset = Number(query.get('offset') ?? '0');
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest('invalid_limit', 'limit invalid. Between 1 and 100.');
    if (!Number.isInteger(offset) || offset < 0) throw badRequest('invalid_offset', 'offset invalid.');
    const keys = ['preference_id', 'external_reference', 'status', 'order_status', 'site_id'] as const;
    const matched = [...this.store.merchantOrders.values()]
      .map((mo) => this.view(mo))
      .filter((mo) => keys.every((k) => query.get(k) === null || String(mo[k]) === query.get(k)));
    return { elements: matched.slice(offset, offset + limit), next_offset: offset + limit, total: matched.length };
  }

  private notify(mo: MerchantOrderRecord, action: 'create' | 'update'): void {
    const pref = mo.preferenceId === null ? undefined : this.store.preferences.get(mo.preferenceId);
    const url = mo.notificationUrl ?? pref?.notificationUrl ?? this.opts.notificationUrl ?? null;
    if (url === null || this.opts.topic === 'none') return;
    const view = this.view(mo);
    const body: JsonObject = this.opts.topic === 'merchant_order' ? { resource: `${this.ctx.publicUrl}/merchant_orders/${mo.id}`, topic: 'merchant_order' } : {
      action,
      application_id: String(this.ctx.collectorId),
      data: { currency_id: '', marketplace: mo.marketplace, status: view.status },
      date_created: mpDate(Date.now()),
      id: String(mo.id),
      live_mode: false,
      status: view.status,
      type: 'topic_merchant_order_wh',
      user_id: this.ctx.collectorId,
      version: mo.version,
    };
    this.notifier.send(this.notifier.buildTopic({
      notificationUrl: url,
      type: this.opts.topic,
      resourceId: String(mo.id),
      action: this.opts.topic === 'merchant_order' ? `merchant_order.${action === 'create' ? 'created' : 'updated'}` : action,
      body,
      style: this.opts.topic === 'merchant_order' ? 'ipn' : 'webhook',
    }));
  }
}
