/**
 * Webhook delivery as MercadoPago does it: `POST <notification_url>?data.id=<id>&type=<topic>`
 * with a signed JSON body, retried on anything but 200/201 or a time-out (fraud
 * alerts excepted: MercadoPago sends them once). The merchant-order feed uses
 * the older form `?id=<id>&topic=merchant_order`; its signature covers that id.
 *
 * Signature: `x-signature: ts=<unix seconds>,v1=<hex HMAC-SHA256(secret, manifest)>` with
 * manifest `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`. MercadoPago lower-cases an
 * alphanumeric data.id in the manifest; payment ids are numeric, so the manifest equals
 * what the SDK's `WebhookSignatureValidator` builds from the query string.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { DeliveryAttempt, JsonObject, ReleaseOrder } from './types.ts';
import { mpDate } from './util.ts';

/** MercadoPago's documented retry delays after a failed delivery (15 min, 30 min, 6 h, 48 h, then 96 h). */
export const MERCADOPAGO_RETRY_SCHEDULE: readonly number[] = [
  15 * 60_000,
  30 * 60_000,
  6 * 3_600_000,
  48 * 3_600_000,
  96 * 3_600_000,
  96 * 3_600_000,
  96 * 3_600_000,
  96 * 3_600_000,
];

export const WEBHOOK_USER_AGENT = 'MercadoPago WebHook v1.0 payment';

export interface Notification {
  id: number;
  /** Topic: payment, merchant_order, topic_merchant_order_wh, stop_delivery_op_wh, topic_chargebacks_wh, topic_claims_integration_wh. */
  type: string;
  /** The id in the query string (and the signature's manifest). */
  resourceId: string;
  /** The payment concerned, '' when none. */
  paymentId: string;
  action: string;
  url: string;
  body: JsonObject;
  /** False for fraud alerts: one attempt, never retried. */
  retry: boolean;
}

export interface TopicNotification {
  notificationUrl: string;
  type: string;
  resourceId: string;
  paymentId?: string;
  action: string;
  /** The JSON body, or a function of the notification's id (bodies that carry it). */
  body: JsonObject | ((notificationId: number) => JsonObject);
  /** `ipn`: `?id=&topic=` (the merchant_order feed); default `?data.id=&type=`. */
  style?: 'webhook' | 'ipn';
  retry?: boolean;
}

export interface NotifierOptions {
  secret: string;
  collectorId: number;
  retrySchedule: readonly number[];
  timeoutMs: number;
  log: (line: object) => void;
  nextId: () => number;
}

export function signatureManifest(dataId: string, requestId: string, ts: string): string {
  return `id:${dataId.toLowerCase()};request-id:${requestId};ts:${ts};`;
}

export function signNotification(secret: string, dataId: string, requestId: string, ts: string): string {
  const v1 = createHmac('sha256', secret).update(signatureManifest(dataId, requestId, ts)).digest('hex');
  return `ts=${ts},v1=${v1}`;
}

export function notificationTarget(notificationUrl: string, dataId: string, type = 'payment', style: 'webhook' | 'ipn' = 'webhook'): string {
  const url = new URL(notificationUrl);
  url.searchParams.set(style === 'ipn' ? 'id' : 'data.id', dataId);
  url.searchParams.set(style === 'ipn' ? 'topic' : 'type', type);
  return url.toString();
}

const userAgent = (n: Notification): string =>
  n.type === 'payment' ? WEBHOOK_USER_AGENT : n.type === 'merchant_order' ? `MercadoPago Feed v2.0 ${n.type}` : `MercadoPago WebHook v1.0 ${n.type}`;

export class Notifier {
  readonly deliveries: DeliveryAttempt[] = [];
  private held: Notification[] | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private inFlight = 0;
  private waiters: Array<() => void> = [];

  constructor(private readonly opts: NotifierOptions) {}

  /** Builds a notification for a payment event. */
  build(notificationUrl: string, paymentId: number, action: string): Notification {
    const id = this.opts.nextId();
    const dataId = String(paymentId);
    return {
      id,
      type: 'payment',
      resourceId: dataId,
      paymentId: dataId,
      action,
      retry: true,
      url: notificationTarget(notificationUrl, dataId),
      body: {
        action,
        api_version: 'v1',
        data: { id: dataId },
        date_created: mpDate(Date.now()),
        id,
        live_mode: false,
        type: 'payment',
        user_id: this.opts.collectorId,
      },
    };
  }

  /** Builds a notification of another topic (merchant orders, disputes, fraud alerts). */
  buildTopic(t: TopicNotification): Notification {
    const id = this.opts.nextId();
    return {
      id,
      type: t.type,
      resourceId: t.resourceId,
      paymentId: t.paymentId ?? '',
      action: t.action,
      retry: t.retry ?? true,
      url: notificationTarget(t.notificationUrl, t.resourceId, t.type, t.style ?? 'webhook'),
      body: typeof t.body === 'function' ? t.body(id) : t.body,
    };
  }

  /** Sends now, or keeps it while holding. Returns the notification. */
  send(n: Notification, copies = 1): Notification {
    if (this.held !== null) {
      for (let i = 0; i < copies; i++) this.held.push(n);
      return n;
    }
    for (let i = 0; i < copies; i++) void this.attempt(n, 1);
    return n;
  }

  /** From now on notifications are queued instead of sent, until `release`. */
  hold(): void {
    this.held ??= [];
  }

  get holding(): boolean {
    return this.held !== null;
  }

  heldNotifications(): Notification[] {
    return [...(this.held ?? [])];
  }

  /**
   * Delivers the held notifications in the given order: one after another,
   * or all at once with `parallel` (a burst of concurrent deliveries, as
   * MercadoPago does when several events fire together).
   */
  async release(order: ReleaseOrder = 'fifo', opts: { parallel?: boolean } = {}): Promise<Notification[]> {
    const queue = this.held ?? [];
    this.held = null;
    if (order === 'reverse') queue.reverse();
    if (order === 'shuffle') {
      for (let i = queue.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        const a = queue[i];
        const b = queue[j];
        if (a !== undefined && b !== undefined) [queue[i], queue[j]] = [b, a];
      }
    }
    if (opts.parallel) await Promise.all(queue.map((n) => this.attempt(n, 1)));
    else for (const n of queue) await this.attempt(n, 1);
    return queue;
  }

  /** Resolves once nothing is in flight and no retry is scheduled (held ones do not count). */
  settle(timeoutMs = 10_000): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`webhook deliveries still pending after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /** Cancels scheduled retries, in-flight attempts and held notifications; clears the log. */
  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
    this.held = null;
    this.deliveries.length = 0;
    this.wake();
  }

  private idle(): boolean {
    return this.inFlight === 0 && this.timers.size === 0;
  }

  private wake(): void {
    if (!this.idle()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private async attempt(n: Notification, attempt: number): Promise<void> {
    const requestId = randomUUID();
    const ts = String(Math.floor(Date.now() / 1000));
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.opts.timeoutMs);
    this.controllers.add(controller);
    this.inFlight++;
    const started = Date.now();
    const record: DeliveryAttempt = {
      notificationId: n.id,
      type: n.type,
      resourceId: n.resourceId,
      paymentId: n.paymentId,
      action: n.action,
      url: n.url,
      attempt,
      requestId,
      ts,
      at: new Date(started).toISOString(),
      durationMs: 0,
      ok: false,
    };
    try {
      const res = await fetch(n.url, {
        method: 'POST',
        redirect: 'manual',
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          accept: '*/*',
          'user-agent': userAgent(n),
          'x-request-id': requestId,
          'x-signature': signNotification(this.opts.secret, n.resourceId, requestId, ts),
        },
        body: JSON.stringify(n.body),
      });
      await res.arrayBuffer();
      record.statusCode = res.status;
      // MercadoPago counts only 200 and 201 as received.
      record.ok = res.status === 200 || res.status === 201;
    } catch (err) {
      record.error = timedOut ? 'timeout' : err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
      record.durationMs = Date.now() - started;
      this.deliveries.push(record);
      this.opts.log({ event: 'webhook_attempt', ...record });
      const aborted = controller.signal.aborted && !timedOut;
      const delay = this.opts.retrySchedule[attempt - 1];
      if (!record.ok && !aborted && n.retry && delay !== undefined) {
        const retry = setTimeout(() => {
          this.timers.delete(retry);
          void this.attempt(n, attempt + 1);
        }, delay);
        this.timers.add(retry);
      }
      this.inFlight--;
      this.wake();
    }
  }
}
