/**
 * Webhooks received by a local HTTP server and checked with the SDK's own
 * WebhookSignatureValidator: shape, signature, retries, duplicates, order.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidWebhookSignatureError, MercadoPagoConfig, Payment, Preference, SignatureFailureReason, WebhookSignatureValidator } from 'mercadopago';
import type { Sandbox } from '../../dev/mp-sandbox/index.ts';
import { basicItems, sandboxWithSdk, validateWithSdk, waitFor, WebhookReceiver } from './helpers.ts';

const SCHEDULE = [50, 100, 200];
let sandbox: Sandbox;
let config: MercadoPagoConfig;
let receiver: WebhookReceiver;

beforeAll(async () => {
  // Payment notifications only here: merchant-order and dispute topics have their own suite (topics.test.ts).
  ({ sandbox, config } = await sandboxWithSdk({ retrySchedule: SCHEDULE, webhookTimeoutMs: 300, merchantOrderTopic: 'none' }));
  receiver = await new WebhookReceiver().start();
});
afterAll(async () => {
  await sandbox.close();
  await receiver.close();
});
beforeEach(() => {
  sandbox.reset();
  receiver.received.length = 0;
  receiver.responder = () => 200;
});

async function preference(notificationUrl = receiver.url): Promise<string> {
  const pref = await new Preference(config).create({
    body: { items: basicItems, external_reference: 'os-webhooks', notification_url: notificationUrl },
  });
  return pref.id as string;
}

describe('delivery', () => {
  it('notifies creation and approval with MercadoPago body, query and valid signature', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'CONT' });
    sandbox.approve(payment.id);
    await sandbox.settle();

    expect(receiver.received.map((w) => w.body.action)).toEqual(['payment.created', 'payment.updated']);
    for (const hook of receiver.received) {
      expect(hook.path).toBe(receiver.path);
      expect(hook.query.get('data.id')).toBe(String(payment.id));
      expect(hook.query.get('type')).toBe('payment');
      expect(hook.headers['content-type']).toBe('application/json');
      expect(hook.headers['user-agent']).toMatch(/^MercadoPago WebHook/);
      expect(hook.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(hook.headers['x-signature']).toMatch(/^ts=\d{10},v1=[0-9a-f]{64}$/);
      expect(Object.keys(hook.body).sort()).toEqual(['action', 'api_version', 'data', 'date_created', 'id', 'live_mode', 'type', 'user_id']);
      expect(hook.body).toMatchObject({
        api_version: 'v1',
        data: { id: String(payment.id) },
        live_mode: false,
        type: 'payment',
        user_id: sandbox.collectorId,
      });
      expect(typeof hook.body.id).toBe('number');
      expect(() => validateWithSdk(hook, sandbox.webhookSecret)).not.toThrow();
    }
    // The receiver fetches the payment, as the Edge Function does: it is approved now.
    expect((await new Payment(config).get({ id: payment.id })).status).toBe('approved');
  });

  it('is rejected by the SDK validator with a wrong secret or a forged data.id', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    const [hook] = receiver.received;
    expect(hook).toBeDefined();
    if (hook === undefined) return;

    const wrongSecret = (): void => validateWithSdk(hook, 'not-the-secret');
    expect(wrongSecret).toThrow(InvalidWebhookSignatureError);
    try {
      wrongSecret();
    } catch (err) {
      expect((err as InvalidWebhookSignatureError).reason).toBe(SignatureFailureReason.SignatureMismatch);
    }
    const forged = (): void =>
      WebhookSignatureValidator.validate({
        xSignature: hook.headers['x-signature'],
        xRequestId: hook.headers['x-request-id'],
        dataId: String(payment.id + 1),
        secret: sandbox.webhookSecret,
      });
    expect(forged).toThrow(InvalidWebhookSignatureError);
    expect(() => validateWithSdk(hook, sandbox.webhookSecret)).not.toThrow();
  });

  it('notifies refunds, cancellations and chargebacks', async () => {
    const prefId = await preference();
    const approved = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.refund(approved.id, 100);
    sandbox.refund(approved.id);
    const pending = sandbox.pay(prefId, { cardholderName: 'CONT' });
    await new Payment(config).cancel({ id: pending.id });
    const charged = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.chargeback(charged.id);
    await sandbox.settle();

    const actions = (id: number): string[] => receiver.forPayment(id).map((w) => w.body.action);
    expect(actions(approved.id)).toEqual(['payment.created', 'payment.updated', 'payment.updated']);
    expect(actions(pending.id)).toEqual(['payment.created', 'payment.updated']);
    expect(actions(charged.id)).toEqual(['payment.created', 'payment.updated']);
    expect(sandbox.getPayment(charged.id).status).toBe('charged_back');
    for (const hook of receiver.received) validateWithSdk(hook, sandbox.webhookSecret);
  });

  it('keeps the query string of the notification_url', async () => {
    const prefId = await preference(`${receiver.url}?source_news=webhooks`);
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    const [hook] = receiver.received;
    expect(hook?.query.get('source_news')).toBe('webhooks');
    expect(hook?.query.get('data.id')).toBe(String(payment.id));
  });

  it('sends nothing when the preference has no notification_url', async () => {
    const prefId = await preference();
    const plain = await new Preference(config).create({ body: { items: basicItems } });
    sandbox.pay(plain.id as string, { cardholderName: 'APRO' });
    sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    expect(receiver.received).toHaveLength(1);
  });
});

describe('retries', () => {
  it('retries after 500 answers on the (compressed) schedule', async () => {
    receiver.responder = (hit) => (hit <= 2 ? 500 : 200);
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();

    const log = sandbox.deliveries({ paymentId: payment.id });
    expect(log.map((d) => [d.attempt, d.statusCode, d.ok])).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ]);
    expect(new Set(log.map((d) => d.notificationId)).size).toBe(1);
    expect(new Set(log.map((d) => d.requestId)).size).toBe(3);
    const at = log.map((d) => Date.parse(d.at));
    expect((at[1] ?? 0) - (at[0] ?? 0)).toBeGreaterThanOrEqual(SCHEDULE[0] ?? 0);
    expect((at[2] ?? 0) - (at[1] ?? 0)).toBeGreaterThanOrEqual(SCHEDULE[1] ?? 0);
    // Every attempt is signed afresh and the same notification body is re-sent.
    expect(new Set(receiver.received.map((w) => w.raw)).size).toBe(1);
    for (const hook of receiver.received) validateWithSdk(hook, sandbox.webhookSecret);
  });

  it('retries after a time-out', async () => {
    receiver.responder = (hit) => (hit === 1 ? 'hang' : 200);
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    const log = sandbox.deliveries({ paymentId: payment.id });
    expect(log.map((d) => [d.attempt, d.error ?? d.statusCode])).toEqual([
      [1, 'timeout'],
      [2, 200],
    ]);
    expect(log[0]?.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('counts only 200 and 201 as received, and gives up after the schedule', async () => {
    receiver.responder = () => 204;
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    const log = sandbox.deliveries({ paymentId: payment.id });
    expect(log).toHaveLength(1 + SCHEDULE.length);
    expect(log.every((d) => d.statusCode === 204 && !d.ok)).toBe(true);

    receiver.received.length = 0;
    receiver.responder = () => 201;
    sandbox.resendNotification(payment.id);
    await sandbox.settle();
    expect(receiver.received).toHaveLength(1);
  });

  it('records connection errors when nobody listens', async () => {
    const closed = await new WebhookReceiver().start();
    await closed.close(); // its port is now free: nothing answers there
    const prefId = await preference(closed.url);
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    const log = sandbox.deliveries({ paymentId: payment.id });
    expect(log).toHaveLength(4);
    expect(log[0]?.error).toMatch(/ECONNREFUSED/);
  });
});

describe('duplicates and ordering', () => {
  it('delivers a duplicate notification twice, both validly signed', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    receiver.received.length = 0;

    const n = sandbox.duplicateNotification(payment.id);
    await sandbox.settle();
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received.map((w) => w.body.id)).toEqual([n.id, n.id]);
    expect(new Set(receiver.received.map((w) => w.headers['x-request-id'])).size).toBe(2);
    for (const hook of receiver.received) validateWithSdk(hook, sandbox.webhookSecret);
  });

  it('holds notifications and releases them out of order', async () => {
    const prefId = await preference();
    sandbox.holdNotifications();
    const payment = sandbox.pay(prefId, { cardholderName: 'CONT' });
    sandbox.approve(payment.id);
    await sandbox.settle();
    expect(receiver.received).toHaveLength(0);

    const released = await sandbox.releaseNotifications('reverse');
    expect(released.map((n) => n.action)).toEqual(['payment.updated', 'payment.created']);
    await sandbox.settle();
    expect(receiver.received.map((w) => w.body.action)).toEqual(['payment.updated', 'payment.created']);
    expect(receiver.received[0]?.body.id).toBeGreaterThan(receiver.received[1]?.body.id ?? Infinity);
    for (const hook of receiver.received) validateWithSdk(hook, sandbox.webhookSecret);

    // After the release notifications flow immediately again.
    sandbox.refund(payment.id);
    await waitFor(() => receiver.received.length === 3);
  });

  it('releases a burst all at once with parallel: every delivery is in flight together', async () => {
    const prefId = await preference();
    sandbox.holdNotifications();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.resendNotification(payment.id, { copies: 5 });
    // The receiver answers none of them: one after the other, the second
    // would only leave after the first timed out (300 ms).
    receiver.responder = () => 'hang';
    const start = Date.now();
    const releasing = sandbox.releaseNotifications('fifo', { parallel: true });
    await waitFor(() => receiver.forPayment(payment.id).length === 6);
    expect(Date.now() - start).toBeLessThan(300);
    receiver.responder = () => 200;
    expect(await releasing).toHaveLength(6);
    await sandbox.settle();
    for (const hook of receiver.forPayment(payment.id)) validateWithSdk(hook, sandbox.webhookSecret);
  });
});

describe('control API over HTTP', () => {
  const control = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${sandbox.url}/__sandbox${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, json: await res.json() };
  };

  it('pays, changes status, resends, reads the log and resets', async () => {
    const prefId = await preference();
    const paid = await control('POST', `/preferences/${prefId}/pay`, { cardholderName: 'CONT' });
    expect(paid.status).toBe(201);
    const id = (paid.json as { id: number }).id;
    expect(paid.json).toMatchObject({ status: 'in_process', external_reference: 'os-webhooks' });

    expect((await control('POST', `/payments/${id}/status`, { status: 'approved' })).json).toMatchObject({ status: 'approved' });
    const bad = await control('POST', `/payments/${id}/status`, { status: 'in_process' });
    expect(bad.status).toBe(409);
    expect(bad.json).toMatchObject({ error: 'invalid_status_transition', status: 409 });
    expect((await control('POST', `/payments/${id}/status`, { status: 'flying' })).status).toBe(400);

    expect((await control('POST', `/payments/${id}/notify`, {})).status).toBe(202);
    expect((await control('POST', '/settle', { timeoutMs: 5_000 })).json).toEqual({ settled: true });
    const log = await control('GET', `/deliveries?payment_id=${id}`);
    expect((log.json as Array<{ action: string; ok: boolean }>).map((d) => [d.action, d.ok])).toEqual([
      ['payment.created', true],
      ['payment.updated', true],
      ['payment.updated', true],
    ]);

    expect((await control('POST', '/faults', { mode: 'error', count: 1 })).status).toBe(201);
    expect((await control('GET', '/faults')).json).toMatchObject([{ mode: 'error', count: 1 }]);
    const failed = await fetch(`${sandbox.url}/v1/payments/${id}`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ status: 500, error: 'internal_error' });

    expect((await control('POST', '/reset')).json).toEqual({ reset: true });
    expect((await control('GET', '/state')).json).toEqual({
      preferences: [],
      payments: [],
      merchantOrders: [],
      chargebacks: [],
      claims: [],
      fraudAlerts: [],
    });
    expect((await control('GET', '/deliveries')).json).toEqual([]);
    expect((await control('POST', '/nope')).status).toBe(404);
  });
});
