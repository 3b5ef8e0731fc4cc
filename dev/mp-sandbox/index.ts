/**
 * A stateful MercadoPago sandbox for local development and tests: Checkout Pro
 * preferences, a hosted checkout page, payments, search, refunds, merchant
 * orders and signed webhooks with retries. Point the official SDK at it with
 * `AppConfig.BASE_URL = sandbox.url`. See README.md.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { SandboxOperations } from './control.ts';
import { SandboxCore } from './core.ts';
import { Claims } from './claims.ts';
import { Disputes } from './disputes.ts';
import { Faults } from './faults.ts';
import type { MerchantOrderTopic } from './merchant-orders.ts';
import { SITES } from './sites.ts';
import { createSandboxServer } from './server.ts';
import type { ReleaseOrder } from './types.ts';
import { MERCADOPAGO_RETRY_SCHEDULE, Notifier } from './webhooks.ts';

export type * from './types.ts';
export type { ChargebackView, ClaimView, DeliveryFilter, SandboxOperations } from './control.ts';
export type { ChargebackOptions } from './disputes.ts';
export type { MerchantOrderTopic, MerchantOrderView } from './merchant-orders.ts';
export type { ActiveFault } from './faults.ts';
export type { Notification } from './webhooks.ts';
export type { PaymentView, PreferenceView, RefundView } from './views.ts';
export { DOCUMENTATION_MAX_BYTES, DOCUMENTATION_TYPES } from './disputes.ts';
export { DEFAULT_EXPIRATION_MS, pixCode, qrPng, UNCONFIRMED_LIMIT_MS } from './offline.ts';
export { financing, mercadopagoFee, SITES } from './sites.ts';
export { MERCADOPAGO_RETRY_SCHEDULE, signatureManifest, signNotification, WEBHOOK_USER_AGENT } from './webhooks.ts';
export { TEST_CARDHOLDERS } from './outcomes.ts';

export interface SandboxOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** The only access token the API accepts (must start with TEST- or APP_USR-). Default: a fixed test token. */
  accessToken?: string;
  /** Secret that signs webhooks (MercadoPago's "secret signature"). Default: a fixed 64-hex secret. */
  webhookSecret?: string;
  /** The seller's user id (collector_id, user_id in webhooks). Default 1234567890. */
  collectorId?: number;
  /** The seller's site (MLA, MLB, MLM, MLC, MCO, MPE, MLU; default MLA): preferences in another currency are refused. */
  siteId?: string;
  /**
   * How merchant-order changes are notified: `merchant_order` (default: the feed a preference's
   * notification_url receives, `?id=<id>&topic=merchant_order`), `topic_merchant_order_wh` (the
   * panel's Webhooks topic, `?data.id=<id>&type=topic_merchant_order_wh`) or `none`.
   */
  merchantOrderTopic?: MerchantOrderTopic;
  /** Delays in ms between webhook attempts; default MercadoPago's (15 min, 30 min, 6 h, 48 h, 96 h...). */
  retrySchedule?: number[];
  /** How long a webhook receiver may take before the attempt counts as failed (default 22 000 ms). */
  webhookTimeoutMs?: number;
  /** Webhook URL for preferences without notification_url (MercadoPago's panel setting). */
  notificationUrl?: string;
  /** Base URL browsers use to reach the sandbox (init_point); default the listening URL. */
  publicUrl?: string;
  /** Receives one structured object per request, payment change and webhook attempt. */
  log?: (line: object) => void;
}

export interface Sandbox extends SandboxOperations {
  /** Base URL of the API, e.g. http://127.0.0.1:54330 (set `AppConfig.BASE_URL` to it). */
  readonly url: string;
  readonly publicUrl: string;
  readonly port: number;
  readonly accessToken: string;
  readonly webhookSecret: string;
  readonly collectorId: number;
  readonly siteId: string;
  /** The JSON `GET /v1/payments/{id}` answers. */
  getPayment(paymentId: number | string): ReturnType<SandboxOperations['pay']>;
  /** Shorthands: `approve` over `setPaymentStatus`, `chargeback` over `openChargeback` (returns the payment). */
  approve(paymentId: number | string): ReturnType<SandboxOperations['pay']>;
  chargeback(paymentId: number | string): ReturnType<SandboxOperations['pay']>;
  duplicateNotification(paymentId: number | string): ReturnType<SandboxOperations['resendNotification']>;
  close(): Promise<void>;
}

export const DEFAULT_COLLECTOR_ID = 1234567890;
export const defaultAccessToken = (collectorId: number): string => `TEST-5550000000000001-010100-0123456789abcdef0123456789abcdef-${collectorId}`;
export const DEFAULT_WEBHOOK_SECRET = createHash('sha256').update('mp-sandbox webhook secret').digest('hex');

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const collectorId = options.collectorId ?? DEFAULT_COLLECTOR_ID;
  const accessToken = options.accessToken ?? defaultAccessToken(collectorId);
  if (!/^(TEST|APP_USR)-\S+$/.test(accessToken)) {
    throw new Error('mp-sandbox: accessToken must look like a MercadoPago token (TEST-... or APP_USR-...)');
  }
  const webhookSecret = options.webhookSecret ?? DEFAULT_WEBHOOK_SECRET;
  const siteId = options.siteId ?? 'MLA';
  if (SITES[siteId] === undefined) throw new Error(`mp-sandbox: unknown siteId ${siteId} (one of ${Object.keys(SITES).join(', ')})`);
  const merchantOrderTopic = options.merchantOrderTopic ?? 'merchant_order';
  if (!['merchant_order', 'topic_merchant_order_wh', 'none'].includes(merchantOrderTopic)) {
    throw new Error('mp-sandbox: merchantOrderTopic must be merchant_order, topic_merchant_order_wh or none');
  }
  const retrySchedule = options.retrySchedule ?? [...MERCADOPAGO_RETRY_SCHEDULE];
  if (retrySchedule.some((ms) => !Number.isFinite(ms) || ms < 0)) throw new Error('mp-sandbox: retrySchedule must hold delays >= 0');
  const log = options.log ?? ((): void => {});
  const host = options.host ?? '127.0.0.1';

  // The URL is known only after listening; views read it through this object.
  const ctx = { collectorId, publicUrl: '' };
  const faults = new Faults();
  let nextNotificationId = 110_000_000_001;
  const notifier = new Notifier({
    secret: webhookSecret,
    collectorId,
    retrySchedule,
    timeoutMs: options.webhookTimeoutMs ?? 22_000,
    log,
    nextId: () => nextNotificationId++,
  });
  const c = new SandboxCore(
    { collectorId, siteId, notificationUrl: options.notificationUrl, merchantOrderTopic, log },
    ctx,
    notifier,
  );
  const disputes = new Disputes(c);
  const claims = new Claims(c);

  const ops: SandboxOperations = {
    pay: (preferenceId, payOptions = { cardholderName: 'APRO' }) => c.paymentJson(c.pay(preferenceId, payOptions)),
    setPaymentStatus: (paymentId, change) => c.paymentJson(c.setStatus(paymentId, change)),
    refund: (paymentId, amount) => c.refundJson(c.refund(paymentId, amount)),
    cancel: (paymentId) => c.paymentJson(c.cancel(paymentId)),
    resendNotification: (paymentId, opts = {}) => c.resend(paymentId, opts.copies ?? 1),
    holdNotifications: () => notifier.hold(),
    releaseNotifications: (order: ReleaseOrder = 'fifo', options = {}) => notifier.release(order, options),
    deliveries: (filter = {}) =>
      notifier.deliveries
        .filter((d) => filter.paymentId === undefined || (d.type === 'payment' && d.paymentId === String(filter.paymentId)))
        .filter((d) => filter.type === undefined || d.type === filter.type)
        .filter((d) => filter.resourceId === undefined || d.resourceId === String(filter.resourceId))
        .map((d) => ({ ...d })),
    payOffline: (paymentId) => c.paymentJson(c.payOffline(paymentId)),
    expire: (paymentId) => c.paymentJson(c.expire(paymentId)),
    expireDue: (opts = {}) => c.expireDue(opts.at === undefined ? Date.now() : Date.parse(opts.at)).map((p) => c.paymentJson(p)),
    fraudAlert: (paymentId, opts = {}) => disputes.fraudAlert(paymentId, opts.description),
    openChargeback: (paymentId, opts = {}) => disputes.chargebackJson(disputes.openChargeback(paymentId, opts)),
    resolveChargeback: (id, opts) => disputes.chargebackJson(disputes.resolveChargeback(id, opts.coverageApplied)),
    openClaim: (paymentId, opts = {}) => claims.claimJson(claims.openClaim(paymentId, opts.reasonId)),
    escalateClaim: (id) => claims.claimJson(claims.escalateClaim(id)),
    resolveClaim: (id, opts) => claims.claimJson(claims.resolveClaim(id, opts.benefited, opts.reason)),
    settle: (timeoutMs) => notifier.settle(timeoutMs),
    failNextCalls: (fault) => faults.add(fault),
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
    state: () => {
      c.expireDue(Date.now());
      return {
        preferences: [...c.store.preferences.values()].map((p) => c.preferenceJson(p)),
        payments: [...c.store.payments.values()].map((p) => c.paymentJson(p)),
        merchantOrders: [...c.store.merchantOrders.values()].map((mo) => c.orders.view(mo)),
        chargebacks: [...c.store.chargebacks.values()].map((cb) => disputes.chargebackJson(cb)),
        claims: [...c.store.claims.values()].map((cl) => claims.claimJson(cl)),
        fraudAlerts: c.store.fraudAlerts.map((f) => ({ ...f })),
      };
    },
    reset: () => {
      c.reset();
      faults.clear();
    },
  };

  const server = createSandboxServer({ core: c, disputes, claims, ops, faults, accessToken, log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  ctx.publicUrl = (options.publicUrl ?? url).replace(/\/+$/, '');

  let closed: Promise<void> | undefined;
  return {
    ...ops,
    url,
    publicUrl: ctx.publicUrl,
    port,
    accessToken,
    webhookSecret,
    collectorId,
    siteId,
    getPayment: (paymentId) => {
      c.expireDue(Date.now());
      return c.paymentJson(c.payment(paymentId));
    },
    approve: (paymentId) => ops.setPaymentStatus(paymentId, { status: 'approved' }),
    chargeback: (paymentId) => {
      const cb = ops.openChargeback(paymentId);
      return c.paymentJson(c.payment(cb.payment_id));
    },
    duplicateNotification: (paymentId) => ops.resendNotification(paymentId, { copies: 2 }),
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        notifier.reset();
        faults.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
