/**
 * The sandbox's behaviour, independent of HTTP: preferences, payments and their
 * status machine, refunds, offline expiry, and the notifications each change
 * triggers. Merchant orders (merchant-orders.ts) and disputes (disputes.ts)
 * hang off it. The MercadoPago routes, the checkout page and the control API
 * all call into this class.
 */
import { decideAttempt, DEFAULT_DETAIL, offlineOpen } from './attempt.ts';
import { badRequest, MpError, notFound } from './errors.ts';
import { MerchantOrders, type MerchantOrderTopic, type MerchantOrderView } from './merchant-orders.ts';
import { expirationOf, expiryReason, OFFLINE_TYPES, offlineInstructions } from './offline.ts';
import { defaultMethod, OFFERED_TYPES } from './outcomes.ts';
import { expiryProblem, parsePreference, preferenceBody } from './preferences.ts';
import { searchPayments, searchPreferences } from './search.ts';
import { financing, offlineMethods, roundMoney } from './sites.ts';
import { Store } from './store.ts';
import type { JsonObject, PaymentRecord, PaymentStatus, PaymentTypeId, PayOptions, PreferenceRecord, RefundRecord, StatusChange } from './types.ts';
import { isPaymentStatus } from './types.ts';
import { isPlainObject, snakeCaseKeys, uuid } from './util.ts';
import { type PaymentView, paymentView, type PreferenceView, preferenceView, refundedAmount, type RefundView, refundView, type ViewContext } from './views.ts';
import type { Notification, Notifier } from './webhooks.ts';

export interface CoreOptions {
  collectorId: number;
  siteId: string;
  /** Fallback webhook URL, like the one configured in MercadoPago's "Your integrations" panel. */
  notificationUrl: string | undefined;
  merchantOrderTopic: MerchantOrderTopic;
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

export class SandboxCore {
  readonly store = new Store();
  readonly orders: MerchantOrders;

  constructor(
    private readonly opts: CoreOptions,
    readonly ctx: ViewContext,
    readonly notifier: Notifier,
  ) {
    this.orders = new MerchantOrders(this.store, ctx, notifier, {
      siteId: opts.siteId,
      notificationUrl: opts.notificationUrl,
      topic: opts.merchantOrderTopic,
    });
  }

  get siteId(): string {
    return this.opts.siteId;
  }

  // ---- preferences -------------------------------------------------------

  createPreference(body: unknown): PreferenceRecord {
    const fields = parsePreference(body, this.opts.siteId);
    const record: PreferenceRecord = { ...fields, id: `${this.opts.collectorId}-${uuid()}`, createdAt: Date.now(), merchantOrderId: null };
    this.store.preferences.set(record.id, record);
    this.opts.log({ event: 'preference_created', preference_id: record.id, external_reference: record.externalReference });
    return record;
  }

  /** `PUT /checkout/preferences/{id}`: merges the given fields and re-validates the whole. */
  updatePreference(id: string, body: unknown): PreferenceRecord {
    const current = this.preference(id);
    if (!isPlainObject(body)) throw badRequest('bad_request', 'body must be a JSON object');
    const updated: PreferenceRecord = { ...current, ...parsePreference({ ...preferenceBody(current), ...body }, this.opts.siteId) };
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

  searchPreferences(query: URLSearchParams) {
    return searchPreferences([...this.store.preferences.values()], this.ctx, query);
  }

  /** Payment types the checkout page offers, each with its methods (offline types: the site's, minus exclusions). */
  offered(p: PreferenceRecord, now = Date.now()): Array<{ type: PaymentTypeId; methods: string[] }> {
    return OFFERED_TYPES.filter((t) => !p.excludedPaymentTypes.includes(t) && (!OFFLINE_TYPES.has(t) || offlineOpen(p, now)))
      .map((type) => {
        const all = OFFLINE_TYPES.has(type) ? [...offlineMethods(type, p.siteId)] : [defaultMethod(type, p.siteId) ?? type];
        return { type, methods: all.filter((m) => !p.excludedPaymentMethods.includes(m)) };
      })
      .filter((o) => o.methods.length > 0);
  }

  /** Payment types the checkout page offers. */
  offeredTypes(p: PreferenceRecord): PaymentTypeId[] {
    return this.offered(p).map((o) => o.type);
  }

  // ---- payments ----------------------------------------------------------

  /**
   * One payment attempt on a preference, as the checkout page makes it. Every
   * attempt is a new payment (a rejected buyer retries on the same preference;
   * two cards are two attempts, each for its part).
   */
  pay(preferenceId: string, options: PayOptions): PaymentRecord {
    const pref = this.preference(preferenceId);
    const now = Date.now();
    const problem = expiryProblem(pref, now);
    if (problem !== null) {
      throw new MpError(
        409,
        'preference_expired',
        problem === 'expired' ? 'The preference has expired and cannot be paid.' : 'The preference is not active yet.',
      );
    }
    const attempt = decideAttempt(pref, options, now);
    const plan = attempt.type === 'credit_card' ? financing(attempt.amount, attempt.installments, pref.siteId) : undefined;
    const mo = this.orders.forPreference(pref, now);
    const id = this.store.paymentId();
    const base = { id, paymentTypeId: attempt.type, paymentMethodId: attempt.method, amount: attempt.amount };
    const payment: PaymentRecord = {
      ...base,
      preferenceId: pref.id,
      merchantOrderId: mo.id,
      createdAt: now,
      approvedAt: attempt.outcome.status === 'approved' ? now : null,
      updatedAt: now,
      status: attempt.outcome.status,
      statusDetail: attempt.outcome.statusDetail,
      cardholderName: options.cardholderName?.trim() || null,
      currencyId: pref.currencyId,
      description: pref.items[0]?.title ?? '',
      externalReference: pref.externalReference,
      metadata: snakeCaseKeys(pref.metadata),
      payerEmail: options.payerEmail ?? (typeof pref.payer['email'] === 'string' ? pref.payer['email'] : 'test_user_sandbox@testuser.com'),
      notificationUrl: pref.notificationUrl ?? this.opts.notificationUrl ?? null,
      statementDescriptor: pref.statementDescriptor,
      installments: plan?.installments ?? 1,
      installmentAmount: plan?.installmentAmount ?? attempt.amount,
      totalPaid: plan?.totalPaid ?? attempt.amount,
      refunds: [],
      expiresAt: attempt.outcome.status === 'pending' ? expirationOf(attempt.type, pref, now) : null,
      ...(OFFLINE_TYPES.has(attempt.type) ? offlineInstructions(base, this.opts.collectorId) : { barcode: null, pix: null }),
    };
    this.store.payments.set(payment.id, payment);
    this.orders.touch(mo.id, now);
    this.opts.log({ event: 'payment_created', payment_id: payment.id, status: payment.status, status_detail: payment.statusDetail });
    this.notify(payment, 'payment.created');
    return payment;
  }

  payment(id: number | string): PaymentRecord {
    const num = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
    const p = this.store.payments.get(num);
    if (p === undefined) throw notFound('Payment not found', [{ code: 2000, description: 'Payment not found', data: null }]);
    return p;
  }

  paymentJson(p: PaymentRecord): PaymentView {
    return paymentView(this.ctx, p, this.store.preferences.get(p.preferenceId));
  }

  searchPayments(query: URLSearchParams) {
    return searchPayments([...this.store.payments.values()].map((p) => this.paymentJson(p)), query);
  }

  /** Status change from the control API or MercadoPago's side (approval, chargeback, ...). */
  setStatus(id: number | string, change: StatusChange): PaymentRecord {
    const p = this.payment(id);
    if (!isPaymentStatus(change.status)) throw badRequest('invalid_status', `status ${change.status} invalid.`);
    if (change.status === 'refunded') {
      this.refund(p.id, undefined);
      return p;
    }
    if (change.status === 'approved') this.expireDue(Date.now());
    if (!TRANSITIONS[p.status].includes(change.status)) {
      throw new MpError(409, 'invalid_status_transition', `A payment cannot go from ${p.status} to ${change.status}.`);
    }
    this.transition(p, change.status, change.statusDetail ?? DEFAULT_DETAIL[change.status]);
    return p;
  }

  /** The buyer pays a pending cash ticket, ATM payment, Pix or transfer: approved, unless it expired or was cancelled. */
  payOffline(id: number | string): PaymentRecord {
    const p = this.payment(id);
    this.expireDue(Date.now());
    if (p.status !== 'pending' || !OFFLINE_TYPES.has(p.paymentTypeId)) {
      throw new MpError(409, 'invalid_status_transition', `Only a pending cash or transfer payment can be paid; this one is ${p.status} (${p.statusDetail}).`);
    }
    this.transition(p, 'approved', 'accredited');
    return p;
  }

  /** The offline payment's deadline passes now: cancelled / expired, notified. */
  expire(id: number | string): PaymentRecord {
    const p = this.payment(id);
    if (p.status !== 'pending' && p.status !== 'in_process') {
      throw new MpError(409, 'invalid_status_transition', `Only a pending or in_process payment can expire; this one is ${p.status}.`);
    }
    this.transition(p, 'cancelled', 'expired');
    return p;
  }

  /** Expires every payment past its date_of_expiration, or unconfirmed for 30 days, at `now`. Returns them. */
  expireDue(now: number): PaymentRecord[] {
    const due = [...this.store.payments.values()].filter((p) => expiryReason(p, now) !== null);
    for (const p of due) this.transition(p, 'cancelled', 'expired');
    return due;
  }

  /** `PUT /v1/payments/{id}` with `{status: 'cancelled'}`: only pending and in_process payments. */
  cancel(id: number | string): PaymentRecord {
    const p = this.payment(id);
    this.expireDue(Date.now());
    if (p.status !== 'pending' && p.status !== 'in_process') {
      throw badRequest('bad_request', `Invalid payment status to cancel: the payment is ${p.status}. Only pending and in_process payments can be cancelled.`, [
        { code: 2063, description: 'Invalid payment status to cancel', data: null },
      ]);
    }
    this.transition(p, 'cancelled', 'by_collector');
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
    const siteId = this.store.preferences.get(p.preferenceId)?.siteId ?? this.opts.siteId;
    const remaining = roundMoney(p.amount - refundedAmount(p), siteId);
    const value = amount ?? remaining;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || roundMoney(value, siteId) !== value) {
      throw badRequest('invalid_amount', 'amount invalid. Should be a positive number with at most two decimals (whole units in CLP and COP).');
    }
    if (value > remaining) {
      throw badRequest('invalid_amount', `amount invalid. The refundable amount is ${remaining}.`, [
        { code: 4040, description: 'The amount to refund exceeds the refundable amount', data: null },
      ]);
    }
    const refund: RefundRecord = { id: this.store.refundId(), paymentId: p.id, amount: value, createdAt: Date.now(), metadata: {} };
    p.refunds.push(refund);
    if (refundedAmount(p) >= p.amount) this.transition(p, 'refunded', 'refunded');
    else this.transition(p, 'approved', 'partially_refunded');
    return refund;
  }

  refundJson(r: RefundRecord): RefundView {
    return refundView(this.ctx, r);
  }

  /** Moves a payment, keeps its merchant order current and notifies both. */
  transition(p: PaymentRecord, status: PaymentStatus, detail: string): void {
    const now = Date.now();
    if (status === 'approved' && p.approvedAt === null) p.approvedAt = now;
    p.status = status;
    p.statusDetail = detail;
    p.updatedAt = now;
    this.opts.log({ event: 'payment_updated', payment_id: p.id, status, status_detail: detail });
    this.notify(p, 'payment.updated');
    this.orders.touch(p.merchantOrderId, now);
  }

  merchantOrderJson(id: number | string): MerchantOrderView {
    return this.orders.view(this.orders.get(id));
  }

  // ---- notifications -----------------------------------------------------

  private notify(p: PaymentRecord, action: string): void {
    if (p.notificationUrl === null) return;
    this.notifier.send(this.notifier.build(p.notificationUrl, p.id, action));
  }

  /** A notification of another topic about a payment, to its notification URL (none without one). */
  notifyTopic(
    p: PaymentRecord,
    type: string,
    resourceId: string,
    action: string,
    body: JsonObject | ((id: number) => JsonObject),
    retry = true,
  ): Notification | null {
    if (p.notificationUrl === null) return null;
    const n = this.notifier.buildTopic({ notificationUrl: p.notificationUrl, type, resourceId, paymentId: String(p.id), action, body, retry });
    return this.notifier.send(n);
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
