/** Shared pieces of the mp-sandbox suites: SDK wiring and a recording webhook receiver. */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MercadoPagoConfig, WebhookSignatureValidator } from 'mercadopago';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { AppConfig } from 'mercadopago/dist/utils/config/index.js';
import { type Sandbox, type SandboxOptions, startSandbox } from '../../dev/mp-sandbox/index.ts';

/** Starts a sandbox on a random port and points the official SDK at it. */
export async function sandboxWithSdk(options: SandboxOptions = {}): Promise<{ sandbox: Sandbox; config: MercadoPagoConfig }> {
  const sandbox = await startSandbox({ retrySchedule: [50, 100, 200], webhookTimeoutMs: 1_000, ...options });
  // BASE_URL is typed readonly but is a plain static field: the documented way to redirect the SDK.
  Object.assign(AppConfig, { BASE_URL: sandbox.url });
  // No SDK-level retries unless a test asks for them: faults must surface.
  const config = new MercadoPagoConfig({ accessToken: sandbox.accessToken, options: { maxRetries: 0, timeout: 5_000 } });
  return { sandbox, config };
}

/**
 * One sandbox with the SDK pointed at it for a whole suite, reset before each
 * test: `use` receives it once started (assign your own variables there).
 */
export function useSandboxWithSdk(use: (env: { sandbox: Sandbox; config: MercadoPagoConfig }) => void): void {
  let sandbox: Sandbox | undefined;
  beforeAll(async () => {
    const env = await sandboxWithSdk();
    sandbox = env.sandbox;
    use(env);
  });
  afterAll(async () => {
    await sandbox?.close();
  });
  beforeEach(() => {
    sandbox?.reset();
  });
}

/**
 * A sandbox (SDK pointed at it) and a webhook receiver for a whole suite;
 * before each test the sandbox is reset, the receiver emptied and answering
 * 200, and the SDK pointed back at this sandbox (a test may start others).
 */
export function useSandboxWithReceiver(
  options: SandboxOptions,
  use: (env: { sandbox: Sandbox; config: MercadoPagoConfig; receiver: WebhookReceiver }) => void,
): void {
  let env: { sandbox: Sandbox; config: MercadoPagoConfig; receiver: WebhookReceiver } | undefined;
  beforeAll(async () => {
    env = { ...(await sandboxWithSdk(options)), receiver: await new WebhookReceiver().start() };
    use(env);
  });
  afterAll(async () => {
    await env?.sandbox.close();
    await env?.receiver.close();
  });
  beforeEach(() => {
    if (env === undefined) return;
    env.sandbox.reset();
    env.receiver.received.length = 0;
    env.receiver.responder = () => 200;
    Object.assign(AppConfig, { BASE_URL: env.sandbox.url });
  });
}

export interface ReceivedWebhook {
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  raw: string;
  /** A payment notification's body; other topics carry other fields (see topics.test.ts). */
  body: {
    action: string;
    api_version: string;
    data: { id: string } & Record<string, unknown>;
    date_created: string;
    id: number;
    live_mode: boolean;
    type: string;
    user_id: number;
  } & Record<string, unknown>;
  /** What the receiver answered (a status code, or 'hang'). */
  answered: number | 'hang';
}

export type Responder = (hit: number, query: URLSearchParams) => number | 'hang';

/** A local HTTP server standing in for the store's webhook endpoint. */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  responder: Responder = () => 200;
  private server: Server | undefined;
  url = '';
  /** A path of its own: a sandbox of another suite still retrying to a port this receiver reuses gets a 404, not recorded. */
  readonly path = `/webhooks/mercadopago/${randomUUID()}`;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://receiver.invalid');
        if (url.pathname !== this.path) {
          res.writeHead(404).end();
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const answer = this.responder(this.received.length + 1, url.searchParams);
        this.received.push({
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          raw,
          body: JSON.parse(raw) as ReceivedWebhook['body'],
          answered: answer,
        });
        if (answer === 'hang') return; // never answers: the sandbox must time out
        res.writeHead(answer, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${this.path}`;
    return this;
  }

  forPayment(paymentId: number | string): ReceivedWebhook[] {
    return this.received.filter((w) => w.query.get('data.id') === String(paymentId));
  }

  /**
   * Notifications of a topic (the query's `type`, or `topic` for the merchant_order feed),
   * optionally for one resource id (another process's sandbox may retry to a reused port).
   */
  ofType(type: string, resourceId?: number | string): ReceivedWebhook[] {
    return this.received.filter((w) =>
      (w.query.get('type') ?? w.query.get('topic')) === type &&
      (resourceId === undefined || (w.query.get('data.id') ?? w.query.get('id')) === String(resourceId))
    );
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Runs the SDK's own validator; throws InvalidWebhookSignatureError when it rejects. */
export function validateWithSdk(hook: ReceivedWebhook, secret: string): void {
  WebhookSignatureValidator.validate({
    xSignature: hook.headers['x-signature'],
    xRequestId: hook.headers['x-request-id'],
    // The merchant_order feed (`?id=&topic=`) is signed over its `id`.
    dataId: hook.query.get('data.id') ?? hook.query.get('id'),
    secret,
    toleranceSeconds: 300,
  });
}

/** Polls until `check` returns a value (not undefined/false) or the time runs out. */
export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const basicItems = [
  { id: 'sku-1', title: 'Remera', quantity: 2, unit_price: 1500.5, currency_id: 'ARS' },
  { id: 'sku-2', title: 'Gorra', quantity: 1, unit_price: 999, currency_id: 'ARS' },
];
export const BASIC_TOTAL = 4000;
