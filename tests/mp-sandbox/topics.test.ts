/**
 * The notification topics beyond `payment`: merchant orders (the feed and the
 * Webhooks topic), fraud alerts (sent once), chargebacks with their
 * documentation upload, and claims; every delivery checked with the SDK's
 * WebhookSignatureValidator.
 */
import { describe, expect, it } from 'vitest';
import { MercadoPagoConfig, Preference } from 'mercadopago';
import type { Sandbox } from '../../dev/mp-sandbox/index.ts';
import { BASIC_TOTAL, basicItems, sandboxWithSdk, useSandboxWithReceiver, validateWithSdk, type WebhookReceiver } from './helpers.ts';

let sandbox: Sandbox;
let config: MercadoPagoConfig;
let receiver: WebhookReceiver;

useSandboxWithReceiver({ retrySchedule: [50, 100], webhookTimeoutMs: 300 }, (env) => ({ sandbox, config, receiver } = env));

async function preference(): Promise<string> {
  const pref = await new Preference(config).create({ body: { items: basicItems, external_reference: 'os_topics', notification_url: receiver.url } });
  return pref.id as string;
}

const api = async (path: string, init: RequestInit = {}): Promise<{ status: number; json: Record<string, unknown> }> => {
  const res = await fetch(`${sandbox.url}${path}`, { ...init, headers: { authorization: `Bearer ${sandbox.accessToken}`, ...init.headers } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

describe('merchant_order notifications', () => {
  it('the feed: ?id=<order>&topic=merchant_order, {resource, topic}, signed over the id, on creation and every payment change', async () => {
    const prefId = await preference();
    const rejected = sandbox.pay(prefId, { cardholderName: 'OTHE' });
    const approved = sandbox.pay(prefId, { cardholderName: 'APRO' });
    sandbox.refund(approved.id);
    await sandbox.settle();
    const orderId = rejected.order.id;
    const hooks = receiver.ofType('merchant_order', rejected.order.id);
    // created, then one per payment made or changed (2 payments, 1 refund)
    expect(hooks.length).toBe(4);
    for (const hook of hooks) {
      expect(hook.query.get('id')).toBe(orderId);
      expect(hook.query.get('data.id')).toBeNull();
      expect(JSON.parse(hook.raw)).toEqual({ resource: `${sandbox.url}/merchant_orders/${orderId}`, topic: 'merchant_order' });
      expect(hook.headers['user-agent']).toBe('MercadoPago Feed v2.0 merchant_order');
      expect(() => validateWithSdk(hook, sandbox.webhookSecret)).not.toThrow();
    }
    expect(sandbox.deliveries({ type: 'merchant_order', resourceId: orderId })).toHaveLength(4);
    // The payment filter keeps meaning payment notifications only.
    expect(sandbox.deliveries({ paymentId: approved.id }).every((d) => d.type === 'payment')).toBe(true);
    // Following the resource gives the current order.
    const order = await api(`/merchant_orders/${orderId}`);
    expect(order.json).toMatchObject({ order_status: 'reverted', refunded_amount: BASIC_TOTAL });
  });

  it('the Webhooks topic: ?data.id=<order>&type=topic_merchant_order_wh with action, status and version', async () => {
    const wh = await sandboxWithSdk({ merchantOrderTopic: 'topic_merchant_order_wh' });
    try {
      const pref = await new Preference(wh.config).create({ body: { items: basicItems, notification_url: receiver.url } });
      const first = wh.sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: 1000 });
      wh.sandbox.pay(pref.id as string, { cardholderName: 'APRO', amount: BASIC_TOTAL - 1000 });
      await wh.sandbox.settle();
      const hooks = receiver.ofType('topic_merchant_order_wh', first.order.id);
      expect(hooks.map((h) => [h.body.action, h.body['status'], h.body['version']])).toEqual([
        ['create', 'opened', 0],
        ['update', 'opened', 1],
        ['update', 'closed', 2],
      ]);
      for (const hook of hooks) {
        expect(hook.query.get('data.id')).toBe(first.order.id);
        expect(hook.body).toMatchObject({ id: first.order.id, type: 'topic_merchant_order_wh', live_mode: false, data: { marketplace: 'NONE' } });
        validateWithSdk(hook, wh.sandbox.webhookSecret);
      }
    } finally {
      await wh.sandbox.close();
    }
  });
});

describe('fraud alerts', () => {
  it('stop_delivery_op_wh: the documented body, signed, and sent once even when the store answers 500', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    await sandbox.settle();
    receiver.responder = (_hit, query) => (query.get('type') === 'stop_delivery_op_wh' ? 500 : 200);
    const res = await fetch(`${sandbox.url}/__sandbox/payments/${payment.id}/fraud-alert`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(202);
    await sandbox.settle();
    const [alert, ...more] = receiver.ofType('stop_delivery_op_wh', payment.id);
    expect(more).toHaveLength(0); // no retry: MercadoPago does not resend fraud alerts
    expect(alert?.query.get('data.id')).toBe(String(payment.id));
    expect(alert?.body).toMatchObject({
      action: 'Created',
      api_version: 'v1',
      data: { merchant_order: Number(payment.order.id), payment_id: payment.id, site_id: 'MLA' },
      id: String(payment.id),
      type: 'stop_delivery_op_wh',
      user_id: sandbox.collectorId,
      version: 1,
    });
    if (alert !== undefined) validateWithSdk(alert, sandbox.webhookSecret);
    expect(sandbox.deliveries({ type: 'stop_delivery_op_wh' }).map((d) => [d.attempt, d.statusCode, d.ok])).toEqual([[1, 500, false]]);
    expect(sandbox.state().fraudAlerts).toMatchObject([{ paymentId: payment.id }]);
    // The store then cancels by refunding; a rejected payment gets no alert.
    expect(() => sandbox.fraudAlert(sandbox.pay(prefId, { cardholderName: 'OTHE' }).id)).toThrow(/No fraud alert/);
  });
});

describe('chargebacks', () => {
  it('opens one (payment charged_back, topic_chargebacks_wh), reads it, takes documentation, and resolves it', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const opened = sandbox.openChargeback(payment.id);
    expect(sandbox.getPayment(payment.id)).toMatchObject({ status: 'charged_back', status_detail: 'in_process' });
    await sandbox.settle();
    const [hook] = receiver.ofType('topic_chargebacks_wh', opened.id);
    expect(hook?.query.get('data.id')).toBe(opened.id);
    expect(hook?.body).toMatchObject({
      actions: ['changed_case_status'],
      api_version: 'v1',
      data: { checkout: 'PRO', id: Number(opened.id), payment_id: payment.id, site_id: 'MLA' },
      type: 'topic_chargebacks_wh',
    });
    if (hook !== undefined) validateWithSdk(hook, sandbox.webhookSecret);

    const got = await api(`/v1/chargebacks/${opened.id}`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      id: opened.id,
      payments: [payment.id],
      amount: BASIC_TOTAL,
      currency: 'ARS',
      coverage_applied: null,
      coverage_eligible: true,
      documentation_required: true,
      documentation_status: 'pending',
      live_mode: false,
    });
    const deadline = Date.parse(String(got.json['date_documentation_deadline']));
    expect(deadline - Date.now()).toBeGreaterThan(9.9 * 86_400_000);

    const upload = (files: Array<[string, string, number]>): Promise<{ status: number; json: Record<string, unknown> }> => {
      const form = new FormData();
      for (const [name, type, size] of files) form.append('files[]', new Blob([Buffer.alloc(size, 1)], { type }), name);
      return api(`/v1/chargebacks/${opened.id}/documentation`, { method: 'POST', body: form });
    };
    const wrongType = await upload([['invoice.docx', 'application/msword', 100]]);
    expect([wrongType.status, wrongType.json['error']]).toEqual([400, 'invalid_file_type']);
    const tooBig = await upload([['a.pdf', 'application/pdf', 6 * 1024 * 1024], ['b.png', 'image/png', 5 * 1024 * 1024]]);
    expect([tooBig.status, tooBig.json['error'], tooBig.json['message']]).toEqual([
      400,
      'invalid_file_size',
      'Files too large. They should not exceed 10 MB overall.',
    ]);
    expect((await api(`/v1/chargebacks/${opened.id}`)).json['documentation_status']).toBe('pending');
    const ok = await upload([['invoice.pdf', 'application/pdf', 2048], ['delivery.jpg', 'image/jpeg', 4096]]);
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ documentation_status: 'review_pending', documentation: [{ type: 'application/pdf' }, { type: 'image/jpeg' }] });
    const notMultipart = await api(`/v1/chargebacks/${opened.id}/documentation`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(notMultipart.status).toBe(400);
    expect((await api('/v1/chargebacks/999/documentation', { method: 'POST', body: new FormData() })).status).toBe(404);

    receiver.received.length = 0;
    const resolved = sandbox.resolveChargeback(opened.id, { coverageApplied: true });
    expect(resolved).toMatchObject({ coverage_applied: true, documentation_status: 'valid', status: 'closed' });
    expect(sandbox.getPayment(payment.id)).toMatchObject({ status: 'charged_back', status_detail: 'reimbursed' });
    await sandbox.settle();
    expect(receiver.ofType('topic_chargebacks_wh', opened.id)).toHaveLength(1);
    expect(receiver.forPayment(payment.id).map((w) => w.body.action)).toEqual(['payment.updated']);
  });

  it('refuses documentation after the deadline, or when none is required', async () => {
    const prefId = await preference();
    const late = sandbox.openChargeback(sandbox.pay(prefId, { cardholderName: 'APRO' }).id, {
      documentationDeadline: new Date(Date.now() - 1000).toISOString(),
    });
    const form = new FormData();
    form.append('files[]', new Blob([Buffer.alloc(10)], { type: 'application/pdf' }), 'x.pdf');
    const res = await api(`/v1/chargebacks/${late.id}/documentation`, { method: 'POST', body: form });
    expect([res.status, res.json['error']]).toEqual([400, 'documentation_deadline_expired']);
    const none = sandbox.openChargeback(sandbox.pay(prefId, { cardholderName: 'APRO' }).id, { documentationRequired: false, coverageEligible: false });
    expect(none).toMatchObject({ documentation_required: false, documentation_status: 'not_required', coverage_eligible: false });
    const res2 = await api(`/v1/chargebacks/${none.id}/documentation`, { method: 'POST', body: form });
    expect([res2.status, res2.json['error']]).toEqual([400, 'documentation_not_required']);
    expect((await api('/v1/chargebacks/123456')).status).toBe(404);
    expect(() => sandbox.openChargeback(sandbox.pay(prefId, { cardholderName: 'CONT' }).id)).toThrow(/Only an approved payment/);
  });
});

describe('claims', () => {
  it('opened, escalated (payment in_mediation), resolved for the buyer (refunded), each notified', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const claim = sandbox.openClaim(payment.id, { reasonId: 'PDD9549' });
    expect(claim).toMatchObject({
      resource: 'payment',
      resource_id: payment.id,
      status: 'opened',
      stage: 'claim',
      type: 'mediations',
      reason_id: 'PDD9549',
      resolution: null,
    });
    expect(sandbox.escalateClaim(claim.id).stage).toBe('dispute');
    expect(sandbox.getPayment(payment.id).status).toBe('in_mediation');
    const closed = sandbox.resolveClaim(claim.id, { benefited: 'complainant' });
    expect(closed).toMatchObject({ status: 'closed', resolution: { reason: 'payment_refunded', benefited: ['complainant'] } });
    expect(sandbox.getPayment(payment.id)).toMatchObject({ status: 'refunded', transaction_amount_refunded: BASIC_TOTAL });
    const got = await api(`/post-purchase/v1/claims/${claim.id}`);
    expect(got.json).toMatchObject({ id: claim.id, status: 'closed', stage: 'dispute' });
    await sandbox.settle();
    const hooks = receiver.ofType('topic_claims_integration_wh', claim.id);
    expect(hooks.map((h) => h.body.action)).toEqual(['created', 'updated', 'updated']);
    for (const hook of hooks) {
      expect(hook.query.get('data.id')).toBe(String(claim.id));
      expect(hook.body.data).toEqual({ id: String(claim.id), resource: 'claim' });
      validateWithSdk(hook, sandbox.webhookSecret);
    }
  });

  it('resolved for the seller: the payment is approved again; unknown claims 404', async () => {
    const prefId = await preference();
    const payment = sandbox.pay(prefId, { cardholderName: 'APRO' });
    const claim = sandbox.openClaim(payment.id);
    sandbox.escalateClaim(claim.id);
    sandbox.resolveClaim(claim.id, { benefited: 'respondent' });
    expect(sandbox.getPayment(payment.id)).toMatchObject({ status: 'approved', transaction_amount_refunded: 0 });
    expect(() => sandbox.resolveClaim(claim.id, { benefited: 'complainant' })).toThrow(/already closed/);
    expect((await api('/post-purchase/v1/claims/77')).status).toBe(404);
    const bad = await fetch(`${sandbox.url}/__sandbox/claims/${claim.id}/resolve`, { method: 'POST', body: '{"benefited":"nobody"}' });
    expect(bad.status).toBe(400);
  });
});
