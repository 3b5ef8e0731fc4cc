/**
 * Control API for tests and demos, under `/__sandbox` (no authentication: the
 * sandbox is a local development tool). Every route mirrors a method of the
 * `Sandbox` object returned by `startSandbox`; see README.md for the list.
 */
import { z } from 'zod';
import { badRequest, MpError } from './errors.ts';
import type { DeliveryAttempt, FaultOptions, PayOptions, ReleaseOrder, StatusChange } from './types.ts';
import { PAYMENT_STATUSES, PAYMENT_TYPES } from './types.ts';
import type { ActiveFault } from './faults.ts';
import type { Notification } from './webhooks.ts';
import type { MerchantOrderView } from './merchant-orders.ts';
import type { PaymentView, PreferenceView, RefundView } from './views.ts';
import type { Claims } from './claims.ts';
import type { ChargebackOptions, Disputes } from './disputes.ts';

export type ChargebackView = ReturnType<Disputes['chargebackJson']>;
export type ClaimView = ReturnType<Claims['claimJson']>;
export interface DeliveryFilter {
  /** Payment notifications (topic `payment`) of this payment. */
  paymentId?: number | string;
  /** Notifications of a topic (`merchant_order`, `stop_delivery_op_wh`, ...). */
  type?: string;
  /** Notifications whose query carries this id. */
  resourceId?: number | string;
}

/** What the control API (and the in-process `Sandbox` object) can do. */
export interface SandboxOperations {
  pay(preferenceId: string, options?: PayOptions): PaymentView;
  setPaymentStatus(paymentId: number | string, change: StatusChange): PaymentView;
  refund(paymentId: number | string, amount?: number): RefundView;
  cancel(paymentId: number | string): PaymentView;
  resendNotification(paymentId: number | string, options?: { copies?: number }): Notification;
  holdNotifications(): void;
  releaseNotifications(order?: ReleaseOrder, options?: { parallel?: boolean }): Promise<Notification[]>;
  deliveries(filter?: DeliveryFilter): DeliveryAttempt[];
  /** The buyer pays a pending offline payment (approved, notified); 409 once it expired or was cancelled. */
  payOffline(paymentId: number | string): PaymentView;
  /** The offline payment's deadline passes now: cancelled / expired, notified. */
  expire(paymentId: number | string): PaymentView;
  /** Expires what is due at `at` (default now): past date_of_expiration, or unconfirmed for 30 days. */
  expireDue(options?: { at?: string }): PaymentView[];
  /** A `stop_delivery_op_wh` notification for the payment, sent once (null without notification URL). */
  fraudAlert(paymentId: number | string, options?: { description?: string }): Notification | null;
  openChargeback(paymentId: number | string, options?: ChargebackOptions): ChargebackView;
  resolveChargeback(chargebackId: string, options: { coverageApplied: boolean }): ChargebackView;
  openClaim(paymentId: number | string, options?: { reasonId?: string }): ClaimView;
  escalateClaim(claimId: number | string): ClaimView;
  resolveClaim(claimId: number | string, options: { benefited: 'complainant' | 'respondent'; reason?: string }): ClaimView;
  settle(timeoutMs?: number): Promise<void>;
  failNextCalls(options: FaultOptions): ActiveFault;
  faults(): ActiveFault[];
  clearFaults(): void;
  state(): {
    preferences: PreferenceView[];
    payments: PaymentView[];
    merchantOrders: MerchantOrderView[];
    chargebacks: ChargebackView[];
    claims: ClaimView[];
    fraudAlerts: Array<{ paymentId: number; merchantOrderId: number; description: string; at: number }>;
  };
  reset(): void;
}

export interface ControlResult {
  status: number;
  body: unknown;
}

/** Without cardholderName, status or paymentTypeId the payment is an APRO card payment. */
const payBody = z.strictObject({
  cardholderName: z.string().optional(),
  status: z.enum(PAYMENT_STATUSES).optional(),
  statusDetail: z.string().optional(),
  paymentTypeId: z.enum(PAYMENT_TYPES).optional(),
  paymentMethodId: z.string().optional(),
  payerEmail: z.string().optional(),
  amount: z.number().positive().optional(),
  installments: z.number().int().min(1).max(36).optional(),
});
const expireDueBody = z.strictObject({ at: z.iso.datetime({ offset: true }).optional() });
const fraudBody = z.strictObject({ description: z.string().max(500).optional() });
const chargebackBody = z.strictObject({
  coverageEligible: z.boolean().optional(),
  documentationRequired: z.boolean().optional(),
  reasonId: z.string().max(50).optional(),
  documentationDeadline: z.iso.datetime({ offset: true }).optional(),
});
const resolveChargebackBody = z.strictObject({ coverageApplied: z.boolean() });
const claimBody = z.strictObject({ reasonId: z.string().max(50).optional() });
const resolveClaimBody = z.strictObject({ benefited: z.enum(['complainant', 'respondent']), reason: z.string().max(100).optional() });
const statusBody = z.strictObject({ status: z.enum(PAYMENT_STATUSES), statusDetail: z.string().optional() });
const refundBody = z.strictObject({ amount: z.number().positive().optional() });
const notifyBody = z.strictObject({ copies: z.number().int().min(1).max(20).optional() });
const releaseBody = z.strictObject({ order: z.enum(['fifo', 'reverse', 'shuffle']).optional(), parallel: z.boolean().optional() });
const settleBody = z.strictObject({ timeoutMs: z.number().int().positive().max(600_000).optional() });
const faultBody = z.strictObject({
  mode: z.enum(['error', 'timeout']),
  count: z.number().int().min(1).optional(),
  pathPrefix: z.string().startsWith('/').optional(),
  method: z.string().optional(),
  hangMs: z.number().int().positive().optional(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const cause = result.error.issues.map((i) => ({ code: 'invalid_body', description: `${i.path.join('.') || 'body'}: ${i.message}` }));
    throw badRequest('invalid_body', cause.map((c) => c.description).join('; '), cause);
  }
  return result.data;
}

/** Removes keys whose value is undefined (exactOptionalPropertyTypes-friendly options). */
function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

export async function handleControl(
  ops: SandboxOperations,
  method: string,
  path: string,
  query: URLSearchParams,
  body: unknown,
): Promise<ControlResult> {
  const seg = path.replace(/^\/__sandbox\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [a, b, c] = seg;
  const key = `${method} ${a ?? ''}${c !== undefined ? `/:id/${c}` : b !== undefined ? '/' + b : ''}`;

  switch (key) {
    case 'GET ':
      return { status: 200, body: { name: 'mp-sandbox', docs: 'dev/mp-sandbox/README.md' } };
    case 'POST preferences/:id/pay': {
      const options = defined(parse(payBody, body));
      const decided = options.cardholderName ?? options.status ?? options.paymentTypeId;
      return { status: 201, body: ops.pay(b ?? '', decided === undefined ? { ...options, cardholderName: 'APRO' } : options) };
    }
    case 'POST payments/:id/status':
      return { status: 200, body: ops.setPaymentStatus(b ?? '', defined(parse(statusBody, body))) };
    case 'POST payments/:id/refund':
      return { status: 201, body: ops.refund(b ?? '', parse(refundBody, body).amount) };
    case 'POST payments/:id/cancel':
      return { status: 200, body: ops.cancel(b ?? '') };
    case 'POST payments/:id/notify':
      return { status: 202, body: ops.resendNotification(b ?? '', defined(parse(notifyBody, body))) };
    case 'POST payments/:id/duplicate':
      return { status: 202, body: ops.resendNotification(b ?? '', { copies: 2 }) };
    case 'POST notifications/hold':
      ops.holdNotifications();
      return { status: 200, body: { holding: true } };
    case 'POST notifications/release': {
      const { order, parallel } = parse(releaseBody, body);
      return { status: 200, body: { released: await ops.releaseNotifications(order, { parallel: parallel ?? false }) } };
    }
    case 'GET deliveries': {
      const filter: DeliveryFilter = {};
      const paymentId = query.get('payment_id');
      const type = query.get('type');
      const resourceId = query.get('resource_id');
      if (paymentId !== null) filter.paymentId = paymentId;
      if (type !== null) filter.type = type;
      if (resourceId !== null) filter.resourceId = resourceId;
      return { status: 200, body: ops.deliveries(filter) };
    }
    case 'POST payments/:id/pay':
      return { status: 200, body: ops.payOffline(b ?? '') };
    case 'POST payments/:id/expire':
      return { status: 200, body: ops.expire(b ?? '') };
    case 'POST expire-due':
      return { status: 200, body: ops.expireDue(defined(parse(expireDueBody, body))) };
    case 'POST payments/:id/fraud-alert': {
      const sent = ops.fraudAlert(b ?? '', defined(parse(fraudBody, body)));
      return { status: 202, body: { sent: sent !== null, notification: sent } };
    }
    case 'POST payments/:id/chargeback':
      return { status: 201, body: ops.openChargeback(b ?? '', defined(parse(chargebackBody, body))) };
    case 'POST chargebacks/:id/resolve':
      return { status: 200, body: ops.resolveChargeback(b ?? '', parse(resolveChargebackBody, body)) };
    case 'POST payments/:id/claim':
      return { status: 201, body: ops.openClaim(b ?? '', defined(parse(claimBody, body))) };
    case 'POST claims/:id/escalate':
      return { status: 200, body: ops.escalateClaim(b ?? '') };
    case 'POST claims/:id/resolve':
      return { status: 200, body: ops.resolveClaim(b ?? '', defined(parse(resolveClaimBody, body))) };
    case 'POST settle':
      try {
        await ops.settle(parse(settleBody, body).timeoutMs);
        return { status: 200, body: { settled: true } };
      } catch (err) {
        throw new MpError(408, 'not_settled', err instanceof Error ? err.message : String(err));
      }
    case 'POST faults':
      return { status: 201, body: ops.failNextCalls(defined(parse(faultBody, body))) };
    case 'GET faults':
      return { status: 200, body: ops.faults() };
    case 'DELETE faults':
      ops.clearFaults();
      return { status: 200, body: { cleared: true } };
    case 'GET state':
      return { status: 200, body: ops.state() };
    case 'POST reset':
      ops.reset();
      return { status: 200, body: { reset: true } };
    default:
      throw new MpError(404, 'not_found', `Unknown control route ${method} ${path} (see dev/mp-sandbox/README.md)`);
  }
}
