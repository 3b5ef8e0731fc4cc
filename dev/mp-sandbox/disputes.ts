/**
 * After the sale: fraud alerts (`stop_delivery_op_wh`, sent once, never
 * retried) and chargebacks (`topic_chargebacks_wh`, `GET /v1/chargebacks/{id}`,
 * the documentation upload); claims live in claims.ts. Each is started from
 * the control API, as MercadoPago's side would; the payment's status follows
 * (`charged_back` / `in_process`, then `reimbursed` or `settled`).
 */
import type { SandboxCore } from './core.ts';
import { badRequest, MpError, notFound } from './errors.ts';
import type { ChargebackRecord } from './types.ts';
import { mpDate } from './util.ts';
import { refundedAmount } from './views.ts';
import type { Notification } from './webhooks.ts';

const DAY = 86_400_000;
/** Days a seller has to send chargeback documentation. */
export const DOCUMENTATION_DAYS = 10;
/** MercadoPago's documented limits for chargeback documentation: .jpg, .png or .pdf, 10 MB in all. */
export const DOCUMENTATION_TYPES: Readonly<Record<string, string>> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', pdf: 'application/pdf' };
export const DOCUMENTATION_MAX_BYTES = 10 * 1024 * 1024;

export interface ChargebackOptions {
  coverageEligible?: boolean;
  documentationRequired?: boolean;
  reasonId?: string;
  /** ISO date; default 10 days from now. */
  documentationDeadline?: string;
}

export class Disputes {
  constructor(private readonly core: SandboxCore) {}

  // ---- fraud alerts -------------------------------------------------------

  /** MercadoPago's fraud alert for a payment: "cancel without delivering". Sent once; a failed delivery is lost. */
  fraudAlert(paymentId: number | string, description = 'Fraud alert: cancel the order without delivering it.'): Notification | null {
    const p = this.core.payment(paymentId);
    if (!['approved', 'authorized', 'in_process', 'pending'].includes(p.status)) {
      throw new MpError(409, 'invalid_status_transition', `No fraud alert for a ${p.status} payment.`);
    }
    this.core.store.fraudAlerts.push({ paymentId: p.id, merchantOrderId: p.merchantOrderId, description, at: Date.now() });
    const site = this.core.store.preferences.get(p.preferenceId)?.siteId ?? this.core.siteId;
    return this.core.notifyTopic(p, 'stop_delivery_op_wh', String(p.id), 'Created', {
      action: 'Created',
      api_version: 'v1',
      data: { description, merchant_order: p.merchantOrderId, payment_id: p.id, site_id: site },
      date_created: mpDate(Date.now()),
      id: String(p.id),
      live_mode: false,
      type: 'stop_delivery_op_wh',
      user_id: this.core.ctx.collectorId,
      version: 1,
    }, false);
  }

  // ---- chargebacks ---------------------------------------------------------

  openChargeback(paymentId: number | string, opts: ChargebackOptions = {}): ChargebackRecord {
    const p = this.core.payment(paymentId);
    if (p.status !== 'approved' && p.status !== 'in_mediation') {
      throw new MpError(409, 'invalid_status_transition', `Only an approved payment can be charged back; this one is ${p.status}.`);
    }
    const now = Date.now();
    const deadline = opts.documentationDeadline === undefined ? now + DOCUMENTATION_DAYS * DAY : Date.parse(opts.documentationDeadline);
    if (Number.isNaN(deadline)) throw badRequest('invalid_documentation_deadline', 'documentationDeadline must be an ISO date.');
    const required = opts.documentationRequired ?? true;
    const cb: ChargebackRecord = {
      id: this.core.store.chargebackId(),
      paymentId: p.id,
      amount: Math.round((p.amount - refundedAmount(p)) * 100) / 100,
      currencyId: p.currencyId,
      reasonId: opts.reasonId ?? '4837',
      createdAt: now,
      updatedAt: now,
      coverageEligible: opts.coverageEligible ?? true,
      coverageApplied: null,
      documentationRequired: required,
      documentationStatus: required ? 'pending' : 'not_required',
      documentation: [],
      deadline,
      status: 'opened',
    };
    this.core.store.chargebacks.set(cb.id, cb);
    this.core.transition(p, 'charged_back', 'in_process');
    this.notifyChargeback(cb);
    return cb;
  }

  /** MercadoPago's decision: covered (the seller keeps the money: `reimbursed`) or not (`settled`). */
  resolveChargeback(id: string, coverageApplied: boolean): ChargebackRecord {
    const cb = this.chargeback(id);
    if (cb.status === 'closed') throw new MpError(409, 'invalid_status_transition', 'The chargeback is already resolved.');
    cb.status = 'closed';
    cb.coverageApplied = coverageApplied;
    if (cb.documentationStatus === 'pending') cb.documentationStatus = 'not_supplied';
    else if (cb.documentationStatus === 'review_pending') cb.documentationStatus = coverageApplied ? 'valid' : 'not_supplied';
    cb.updatedAt = Date.now();
    this.core.transition(this.core.payment(cb.paymentId), 'charged_back', coverageApplied ? 'reimbursed' : 'settled');
    this.notifyChargeback(cb);
    return cb;
  }

  chargeback(id: string): ChargebackRecord {
    const cb = this.core.store.chargebacks.get(id);
    if (cb === undefined) throw notFound('Chargeback not found', [{ code: 'not_found', description: 'chargeback not found' }]);
    return cb;
  }

  /** `POST /v1/chargebacks/{id}/documentation` once the files are read: MercadoPago's type, size and deadline rules. */
  addDocumentation(id: string, files: Array<{ name: string; type: string; size: number }>): ChargebackRecord {
    const cb = this.chargeback(id);
    if (files.length === 0) throw badRequest('invalid_files', 'files needed: send them as multipart form-data fields named files[].');
    for (const f of files) {
      const ext = /\.([a-z0-9]+)$/i.exec(f.name)?.[1]?.toLowerCase() ?? '';
      if (DOCUMENTATION_TYPES[ext] === undefined || !Object.values(DOCUMENTATION_TYPES).includes(f.type || DOCUMENTATION_TYPES[ext])) {
        throw badRequest('invalid_file_type', `File ${f.name} invalid. Files can be .jpg, .png or .pdf.`);
      }
    }
    const total = files.reduce((s, f) => s + f.size, 0);
    if (total > DOCUMENTATION_MAX_BYTES) throw badRequest('invalid_file_size', 'Files too large. They should not exceed 10 MB overall.');
    if (!cb.documentationRequired) throw badRequest('documentation_not_required', 'This chargeback does not require documentation.');
    if (cb.status === 'closed' || Date.now() > cb.deadline) {
      throw badRequest('documentation_deadline_expired', 'The deadline to send documentation for this chargeback has passed.');
    }
    const now = Date.now();
    for (const f of files) cb.documentation.push({ type: f.type || 'application/octet-stream', name: f.name, size: f.size, uploadedAt: now });
    cb.documentationStatus = 'review_pending';
    cb.updatedAt = now;
    return cb;
  }

  chargebackJson(cb: ChargebackRecord) {
    const site = this.core.store.preferences.get(this.core.payment(cb.paymentId).preferenceId)?.siteId ?? this.core.siteId;
    return {
      id: cb.id,
      payments: [cb.paymentId],
      currency: cb.currencyId,
      amount: cb.amount,
      coverage_applied: cb.coverageApplied,
      coverage_eligible: cb.coverageEligible,
      documentation_required: cb.documentationRequired,
      documentation_status: cb.documentationStatus,
      documentation: cb.documentation.map((d, i) => ({
        type: d.type,
        url: `${this.core.ctx.publicUrl}/v1/chargebacks/${cb.id}/documentation/${i + 1}`,
        description: d.name,
      })),
      date_documentation_deadline: mpDate(cb.deadline),
      date_created: mpDate(cb.createdAt),
      date_last_updated: mpDate(cb.updatedAt),
      live_mode: false,
      site_id: site,
      // As the SDK's ChargebackResponse types them.
      payment_id: cb.paymentId,
      status: cb.status,
      reason_id: cb.reasonId,
      currency_id: cb.currencyId,
      last_modified: mpDate(cb.updatedAt),
    };
  }

  private notifyChargeback(cb: ChargebackRecord): void {
    const p = this.core.payment(cb.paymentId);
    this.core.notifyTopic(p, 'topic_chargebacks_wh', cb.id, 'changed_case_status', (notificationId) => ({
      actions: ['changed_case_status'],
      api_version: 'v1',
      application_id: this.core.ctx.collectorId,
      data: {
        checkout: 'PRO',
        date_updated: mpDate(cb.updatedAt),
        id: Number(cb.id),
        payment_id: p.id,
        product_id: 'MPSANDBOX',
        site_id: this.core.store.preferences.get(p.preferenceId)?.siteId ?? this.core.siteId,
        transaction_intent_id: '',
      },
      date_created: mpDate(Date.now()),
      id: notificationId,
      live_mode: false,
      type: 'topic_chargebacks_wh',
      user_id: this.core.ctx.collectorId,
      version: Math.floor(cb.updatedAt / 1000),
    }));
  }
}
