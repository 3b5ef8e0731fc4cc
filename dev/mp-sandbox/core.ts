/**
 * The sandbox's behaviour, independent of HTTP: preferences, payments and their
 * status machine, refunds, merchant orders, and the notifications each change
 * triggers. The MercadoPago routes, the checkout page and the control API all
 * call into this class.
 */
import { badRequest, MpError, notFound } from './errors.ts';
import { defaultMethod, OFFERED_TYPES, OFFLINE_TYPES, offlineOutcome, type Outcome, outcomeForName } from './outcomes.ts';
import { expiryProblem, parsePreference, preferenceBody, preferenceTotal } from './preferences.ts';
import { Store } from './store.ts';
import type { PaymentRecord, PaymentStatus, PaymentTypeId, PayOptions, PreferenceRecord, RefundRecord, StatusChange } from './types.ts';
import { isPaymentStatus, isPaymentType } from './types.ts';
import {
  type MerchantOrderView,
  merchantOrderView,
  type PaymentView,
  paymentView,
  type PreferenceView,
  preferenceView,
  refundedAmount,
  type RefundView,
  refundView,
  type ViewContext,
} from './views.ts';
import type { Notification, Notifier } from './webhooks.ts';
import { isPlainObject, round2, snakeCaseKeys, uuid } from './util.ts';

export interface CoreOptions {
  collectorId: number;
  siteId: string | undefined;
  /** Fallback webhook URL, like the one configured in MercadoPago's "Your integrations" panel. */
  notificationUrl: string | undefined;
  log: (line: object) => void;
}

/** Status changes the control API allows, from -> to. Refunds go through `refund`. */
const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
  pending: ['approved', 'rejected', 'cancelled', 'in_process', 'authorized'],
  in_process: ['approved', 'rejected', 'cancelled'],
  authorized: ['approved', 'cancelled'],
  approved: ['charged_back', 'in_mediation', 'refunded'],
  in_mediation: ['approved', 'charged_back', 'refunded'],
  rejected: [],
  cancelled: [],
  refunded: [],
  charged_back: [],
};

const DEFAULT_DETAIL: Record<PaymentStatus, string> = {
  pending: 'pending_waiting_payment',
  approved: 'accredited',
  authorized: 'pending_capture',
  in_process: 'pending_contingency',
  in_mediation: 'in_process',
  rejected: 'cc_rejected_other_reason',
  cancelled: 'by_collector',
  refunded: 'refunded',
  charged_back: 'settled',
};

export class SandboxCore {
  readonly store = new Store();

  constructor(
    private readonly opts: CoreOptions,
    readonly ctx: ViewContext,
    readonly notifier: Notifier,
  ) {}

  // ---- preferences -------------------------------------------------------

  createPreference(body: unknown): PreferenceRecord {
    const fields = parsePreference(body, this.opts.siteId);
    const record: PreferenceRecord = {
      ...fields,
      id: `${this.opts.collectorId}-${uuid()}`,
      createdAt: Date.now(),
      merchantOrderId: null,
    };
    this.store.preferences.set(record.id, record);
    this.opts.log({ event: 'preference_created', preference_id: record.id, external_reference: record.externalReference });
    return record;
  }

  /** `PUT /checkout/preferences/{id}`: merges the given fields and re-validates the whole. */
  updatePreference(id: string, body: unknown): PreferenceRecord {
    const current = this.preference(id);
    if (!isPlainObject(body)) throw badRequest('bad_request', 'body must be a JSON object');
    const fields = parsePreference({ ...preferenceBody(current), ...body }, this.opts.siteId);
    const updated: PreferenceRecord = { ...current, ...fields };
    this.store.preferences.set(id, updated);
    return updated;
  }

  preference(id: string): PreferenceRecord {
    const p = this.store.preferences.get(id);
    if (p === undefined) throw new MpError(404, 'invalid_id', 'preference_id not found');
    return p;
  }

  preferenceJson(p: PreferenceRecord): PreferenceView {
    return preferenceView(this.ctx, p);
  }

  /** Payment types the preference allows on the checkout page. */
  offeredTypes(p: PreferenceRecord): PaymentTypeId[] {
    return OFFERED_TYPES.filter(
      (t) => !p.excludedPaymentTypes.includes(t) && !p.excludedPaymentMethods.includes(defaultMethod(t, p.siteId)),
    );
  }

  // ---- payments ----------------------------------------------------------

  /**
   * One payment attempt on a preference, as the checkout page makes it. Every
   * attempt is a new payment (a rejected buyer retries on the same preference).
   */
  pay(preferenceId: string, options: PayOptions): PaymentRecord {
    const pref = this.preference(preferenceId);
    const problem = expiryProblem(pref, Date.now());
    if (problem !== null) {
      throw new MpError(
        409,
        'preference_expired',
        problem === 'expired' ? 'The preference has expired and cannot be paid.' : 'The preference is not active yet.',
      );
    }
    const type = options.paymentTypeId ?? 'credit_card';
    if (!isPaymentType(type)) throw badRequest('invalid_payment_type_id', `payment_type_id ${type} invalid.`);
    if (pref.excludedPaymentTypes.includes(type)) {
      throw badRequest('payment_type_excluded', `payment_type_id ${type} is excluded by the preference.`);
    }
    const method = options.paymentMethodId ?? defaultMethod(type, pref.siteId);
    if (pref.excludedPaymentMethods.includes(method)) {
      throw badRequest('payment_method_excluded', `payment_method_id ${method} is excluded by the preference.`);
    }
    const outcome = this.outcome(type, options);

    const now = Date.now();
    if (pref.merchantOrderId === null) {
      const moId = this.store.merchantOrderId();
      this.store.merchantOrders.set(moId, { id: moId, preferenceId: pref.id, createdAt: now, updatedAt: now });
      pref.merchantOrderId = moId;
    }
    const payment: PaymentRecord = {
      id: this.store.paymentId(),
      preferenceId: pref.id,
      merchantOrderId: pref.merchantOrderId,
      createdAt: now,
      approvedAt: outcome.status === 'approved' ? now : null,
      updatedAt: now,
      status: outcome.status,
      statusDetail: outcome.statusDetail,
      paymentTypeId: type,
      paymentMethodId: method,
      cardholderName: options.cardholderName?.trim() || null,
      amount: preferenceTotal(pref),
      currencyId: pref.currencyId,
      description: pref.items[0]?.title ?? '',
      externalReference: pref.externalReference,
      metadata: snakeCaseKeys(pref.metadata),
      payerEmail: options.payerEmail ?? (typeof pref.payer['email'] === 'string' ? pref.payer['email'] : 'test_user_sandbox@testuser.com'),
      notificationUrl: pref.notificationUrl ?? this.opts.notificationUrl ?? null,
      statementDescriptor: pref.statementDescriptor,
      installments: 1,
      refunds: [],
    };
    this.store.payments.set(payment.id, payment);
    this.touchOrder(payment, now);
    this.opts.log({ event: 'payment_created', payment_id: payment.id, status: payment.status, status_detail: payment.statusDetail });
    this.notify(payment, 'payment.created');
    return payment;
  }

  private outcome(type: PaymentTypeId, options: PayOptions): Outcome {
    if (options.status !== undefined) {
      if (!isPaymentStatus(options.status)) {
        throw badRequest('invalid_status', `status ${options.status} invalid.`);
      }
      if (!['approved', 'pending', 'in_process', 'rejected', 'authorized'].includes(options.status)) {
        throw badRequest('invalid_status', `a new payment cannot start as ${options.status}.`);
      }
      return { status: options.status, statusDetail: options.statusDetail ?? DEFAULT_DETAIL[options.status], label: options.status };
    }
    if (OFFLINE_TYPES.has(type)) return offlineOutcome(type);
    const name = options.cardholderName ?? '';
    if (name.trim() === '') throw badRequest('invalid_cardholder_name', 'cardholder name needed');
    const outcome = outcomeForName(name);
    if (outcome === undefined) {
      throw badRequest(
        'invalid_cardholder_name',
        `cardholder name "${name}" is not a MercadoPago test name (APRO, CONT, OTHE, CALL, FUND, SECU, EXPI, FORM, ...)`,
      );
    }
    return outcome;
  }

  payment(id: number | string): PaymentRecord {
    const num = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
    const p = this.store.payments.get(num);
    if (p === undefined) {
      throw notFound('Payment not found', [{ code: 2000, description: 'Payment not found', data: null }]);
    }
    return p;
  }

  paymentJson(p: PaymentRecord): PaymentView {
    return paymentView(this.ctx, p);
  }

  /** Status change from the control API or MercadoPago's side (approval, chargeback, ...). */
  setStatus(id: number | string, change: StatusChange): PaymentRecord {
    const p = this.payment(id);
    if (!isPaymentStatus(change.status)) {
      throw badRequest('invalid_status', `status ${change.status} invalid.`);
    }
    if (change.status === 'refunded') {
      this.refund(p.id, undefined);
      return p;
    }
    if (!TRANSITIONS[p.status].includes(change.status)) {
      throw new MpError(409, 'invalid_status_transition', `A payment cannot go from ${p.status} to ${change.status}.`);
    }
    this.apply(p, change.status, change.statusDetail ?? DEFAULT_DETAIL[change.status]);
    return p;
  }

  /** `PUT /v1/payments/{id}` with `{status: 'cancelled'}`. */
  cancel(id: number | string): PaymentRecord {
    const p = this.payment(id);
    if (!['pending', 'in_process', 'authorized'].includes(p.status)) {
      throw badRequest('invalid_status', `Payment cannot be cancelled: status is ${p.status}.`, [
        { code: 2063, description: 'Invalid payment status to cancel', data: null },
      ]);
    }
    this.apply(p, 'cancelled', 'by_collector');
    return p;
  }

  /** Full (no amount) or partial refund of an approved payment. */
  refund(id: number | string, amount: number | undefined): RefundRecord {
    const p = this.payment(id);
    if (p.status !== 'approved') {
      throw badRequest('invalid_status', `Payment cannot be refunded: status is ${p.status}.`, [
        { code: 2085, description: 'Invalid payment status to refund', data: null },
      ]);
    }
    const remaining = round2(p.amount - refundedAmount(p));
    const value = amount ?? remaining;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || round2(value) !== value) {
      throw badRequest('invalid_amount', 'amount invalid. Should be a positive number with at most two decimals.');
    }
    if (value > remaining) {
      throw badRequest('invalid_amount', `amount invalid. The refundable amount is ${remaining}.`, [
        { code: 4040, description: 'The amount to refund exceeds the refundable amount', data: null },
      ]);
    }
    const refund: RefundRecord = { id: this.store.refundId(), paymentId: p.id, amount: value, createdAt: Date.now(), metadata: {} };
    p.refunds.push(refund);
    const full = round2(refundedAmount(p)) >= p.amount;
    if (full) this.apply(p, 'refunded', 'refunded');
    else this.apply(p, 'approved', 'partially_refunded');
    return refund;
  }

  refundJson(r: RefundRecord): RefundView {
    return refundView(this.ctx, r);
  }

  private apply(p: PaymentRecord, status: PaymentStatus, detail: string): void {
    const now = Date.now();
    if (status === 'approved' && p.approvedAt === null) p.approvedAt = now;
    p.status = status;
    p.statusDetail = detail;
    p.updatedAt = now;
    this.touchOrder(p, now);
    this.opts.log({ event: 'payment_updated', payment_id: p.id, status, status_detail: detail });
    this.notify(p, 'payment.updated');
  }

  private touchOrder(p: PaymentRecord, now: number): void {
    const mo = this.store.merchantOrders.get(p.merchantOrderId);
    if (mo !== undefined) mo.updatedAt = now;
  }

  // ---- search and merchant orders ----------------------------------------

  searchPayments(query: URLSearchParams): { paging: { total: number; limit: number; offset: number }; results: PaymentView[] } {
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
    const begin = this.rangeDate(query.get('begin_date'), 'begin_date');
    const end = this.rangeDate(query.get('end_date'), 'end_date');

    const views = [...this.store.payments.values()].map((p) => paymentView(this.ctx, p));
    const matched = views.filter((v) => {
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

  private rangeDate(value: string | null, name: string): number | null {
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

  merchantOrderJson(id: number | string): MerchantOrderView {
    const mo = this.store.merchantOrders.get(Number(id));
    if (mo === undefined) throw notFound('Merchant Order not found', [{ code: 'not_found', description: 'Merchant Order not found' }]);
    const pref = this.preference(mo.preferenceId);
    return merchantOrderView(this.ctx, mo, pref, this.store.paymentsOf(pref.id));
  }

  searchMerchantOrders(query: URLSearchParams): { elements: MerchantOrderView[]; next_offset: number; total: number } {
    const limit = Number(query.get('limit') ?? '30');
    const offset = Number(query.get('offset') ?? '0');
    const all = [...this.store.merchantOrders.values()].map((mo) => this.merchantOrderJson(mo.id));
    const matched = all.filter((mo) =>
      (['preference_id', 'external_reference', 'status'] as const).every((k) => query.get(k) === null || String(mo[k]) === query.get(k))
    );
    return { elements: matched.slice(offset, offset + limit), next_offset: offset + limit, total: matched.length };
  }

  // ---- notifications -----------------------------------------------------

  private notify(p: PaymentRecord, action: string): void {
    if (p.notificationUrl === null) return;
    this.notifier.send(this.notifier.build(p.notificationUrl, p.id, action));
  }

  /** Sends a new notification for the payment's current state (`copies` > 1 sends duplicates). */
  resend(id: number | string, copies = 1): Notification {
    const p = this.payment(id);
    if (p.notificationUrl === null) throw badRequest('no_notification_url', 'The payment has no notification_url.');
    return this.notifier.send(this.notifier.build(p.notificationUrl, p.id, 'payment.updated'), copies);
  }

  reset(): void {
    this.store.clear();
    this.notifier.reset();
  }
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
