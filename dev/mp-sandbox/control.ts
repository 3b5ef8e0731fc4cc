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
import type { MerchantOrderView, PaymentView, PreferenceView, RefundView } from './views.ts';

/** What the control API (and the in-process `Sandbox` object) can do. */
export interface SandboxOperations {
  pay(preferenceId: string, options?: PayOptions): PaymentView;
  setPaymentStatus(paymentId: number | string, change: StatusChange): PaymentView;
  refund(paymentId: number | string, amount?: number): RefundView;
  cancel(paymentId: number | string): PaymentView;
  resendNotification(paymentId: number | string, options?: { copies?: number }): Notification;
  holdNotifications(): void;
  releaseNotifications(order?: ReleaseOrder, options?: { parallel?: boolean }): Promise<Notification[]>;
  deliveries(filter?: { paymentId?: number | string }): DeliveryAttempt[];
  settle(timeoutMs?: number): Promise<void>;
  failNextCalls(options: FaultOptions): ActiveFault;
  faults(): ActiveFault[];
  clearFaults(): void;
  state(): { preferences: PreferenceView[]; payments: PaymentView[]; merchantOrders: MerchantOrderView[] };
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
});
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
      const paymentId = query.get('payment_id');
      return { status: 200, body: ops.deliveries(paymentId === null ? {} : { paymentId }) };
    }
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
