/**
 * Disputes and fraud end to end (issue 23), through the real functions under
 * Deno, the test database and the MercadoPago sandbox:
 *
 *   - a fraud alert, which MercadoPago sends once, answered 200 and the
 *     webhook function killed with SIGKILL right after that 200 (a proxy
 *     between the sandbox and the function kills it the moment the 200
 *     arrives): the reconcile function still acts on it, once: the order is
 *     do_not_ship, the payment refunded at MercadoPago, one email to the owner;
 *   - a chargeback: recorded with its deadline, listed by deadline on the
 *     dashboard, evidence uploaded before the deadline (the sandbox shows
 *     review_pending), refused after it and for a wrong or too large file;
 *   - claims opened, escalated and resolved both ways;
 *   - replays and a stale approval change nothing; the audit stays empty.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningFunction, startFunction } from '../../dev/functions/serve.ts';
import { type MailSink, startMailSink } from '../../dev/mail-sink/index.ts';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import { freePort } from '../../dev/pg/cluster.ts';
import { addStaff } from '../../dev/staff-add.ts';
import { addToCart, createShopper, createVariant, databaseUrl, newPool } from '../helpers/db.ts';
import { functionEnv, stopAll } from '../helpers/functions.ts';
import { callFunction, type CallInit } from '../helpers/http.ts';
import { shopperClaims, signHs256 } from '../helpers/jwt.ts';
import { waitFor } from '../helpers/wait.ts';

const JWT_SECRET = 'disputes-test-jwt-secret-with-at-least-32-characters';
const SERVICE_KEY = 'disputes-test-service-role-key';
const OWNER = `owner-${Date.now()}@example.com`;

let pool: pg.Pool;
let sandbox: Sandbox;
let sink: MailSink;
let proxy: Server;
let webhookPort: number;
let staffToken: string;
const fn: Partial<Record<'create' | 'webhook' | 'reconcile' | 'admin' | 'emails', RunningFunction>> = {};
/** Set to kill the webhook function the moment it answers 200 to a notification of this topic. */
let killOnAnswer: { topic: string; killed?: Promise<void> } | null = null;

const env = (extra: Record<string, string> = {}) =>
  functionEnv({ sandbox, sink, jwtSecret: JWT_SECRET, serviceKey: SERVICE_KEY, linkSecret: 'disputes-test-link-secret-32-characters!' }, {
    MP_TIMEOUT_MS: '3000',
    NOTIFICATION_LEASE_SECONDS: '5',
    ...extra,
  });
const startWebhook = () => startFunction('mercadopago-webhook', env(), { port: webhookPort });

beforeAll(async () => {
  pool = newPool(6);
  sandbox = await startSandbox({ retrySchedule: [300, 600, 1200, 2400], webhookTimeoutMs: 5000 });
  sink = await startMailSink();
  webhookPort = await freePort();
  // Between the sandbox and the webhook: forwards every notification, and
  // when asked, SIGKILLs the function as soon as its 200 arrives, then
  // passes the 200 on (MercadoPago counts the alert as delivered).
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<
          string,
          string
        >;
        const answer = await fetch(`http://127.0.0.1:${webhookPort}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
        const body = await answer.text();
        const topic = new URL(req.url ?? '/', 'http://x').searchParams.get('type');
        if (killOnAnswer && answer.status === 200 && topic === killOnAnswer.topic) {
          const victim = fn.webhook!;
          killOnAnswer.killed = new Promise((resolve) => victim.process.once('exit', () => resolve()));
          victim.process.kill('SIGKILL');
          killOnAnswer = null;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(body);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const functionsUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const staff = await addStaff(databaseUrl(), OWNER, { password: 'contraseña-segura' });
  staffToken = signHs256(shopperClaims(staff.id, { is_anonymous: false, email: OWNER, app_metadata: { provider: 'email', store_role: 'staff' } }), JWT_SECRET);
  const [create, webhook, reconcile, admin, emails] = await Promise.all([
    startFunction('create-preference', env({ FUNCTIONS_URL: functionsUrl })),
    startWebhook(),
    startFunction('reconcile', env()),
    startFunction('admin', env()),
    startFunction('send-emails', env()),
  ]);
  Object.assign(fn, { create, webhook, reconcile, admin, emails });
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await stopAll({ fn: fn as Record<string, RunningFunction>, sandbox, sink, pool });
});

const call = (f: RunningFunction, path: string, init: CallInit = {}) => callFunction(`${f.url}${path}`, init);

/** A shopper buys one unit (APRO); every notification delivered. Returns the payment and its order. */
async function paidOrder() {
  const variant = await createVariant(pool, { sku: 'DISPUTE', stock: 5, price: 2500 });
  const shopper = await createShopper(pool);
  await addToCart(pool, shopper, variant.id, 1);
  const token = signHs256(shopperClaims(shopper), JWT_SECRET);
  const res = await call(fn.create!, '/create-preference', {
    token,
    body: {
      payer: { email: 'comprador@example.com', name: 'Ana' },
      shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
    },
  });
  expect(res.status).toBe(201);
  const payment = sandbox.pay(res.body.preference_id as string, { cardholderName: 'APRO' });
  await sandbox.settle(30_000);
  const order = await orderOf(payment.id);
  expect(order?.status).toBe('paid');
  return { payment, order: order! };
}

async function orderOf(paymentId: number) {
  const { rows } = await pool.query('select order_number, status::text, do_not_ship from public.orders where payment_id = $1', [paymentId]);
  return rows[0] as { order_number: string; status: string; do_not_ship: boolean } | undefined;
}

async function disputeOf(kind: string, mpId: string | number) {
  const { rows } = await pool.query('select * from checkout.disputes where kind = $1 and mp_id = $2', [kind, String(mpId)]);
  return rows[0] as Record<string, unknown> | undefined;
}

async function mpPayment(id: number) {
  const res = await fetch(`${sandbox.url}/v1/payments/${id}`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } });
  return (await res.json()) as { status: string; refunds: unknown[] };
}

async function runReconcile() {
  const res = await call(fn.reconcile!, '/reconcile', { token: SERVICE_KEY, body: {} });
  expect(res.status).toBe(200);
  return res.body as { notifications_processed: number; notifications_failed: number };
}

async function auditViolations() {
  const res = await call(fn.admin!, '/admin/audit', { method: 'GET', token: staffToken });
  expect(res.status).toBe(200);
  return (res.body as { violations: { invariant: string; subject: string }[] }).violations;
}

/** A notification as the sandbox signs them, sent again to the webhook (a replay). */
async function replay(type: string, id: string, body: unknown) {
  const ts = String(Math.floor(Date.now() / 1000));
  const requestId = crypto.randomUUID();
  const v1 = createHmac('sha256', sandbox.webhookSecret).update(`id:${id};request-id:${requestId};ts:${ts};`).digest('hex');
  return await callFunction(`${fn.webhook!.url}/mercadopago-webhook?data.id=${id}&type=${type}`, {
    body,
    headers: { 'x-signature': `ts=${ts},v1=${v1}`, 'x-request-id': requestId },
  });
}

async function counts(paymentId: number) {
  const { rows } = await pool.query(
    `select (select count(*) from public.orders)::int as orders,
            (select count(*) from checkout.payment_refunds where payment_id = $1)::int as refunds,
            (select count(*) from checkout.fraud_alerts where payment_id = $1)::int as alerts,
            (select count(*) from checkout.mp_notifications where resource_id = $1::text)::int as stored,
            (select count(*) from email.outbox where kind = 'fraud_alert')::int as emails`,
    [paymentId],
  );
  return rows[0] as Record<string, number>;
}

describe('fraud alert', () => {
  it('delivered once, the function killed right after its 200: still acted on, once', async () => {
    const { payment, order } = await paidOrder();
    // MercadoPago slow to answer the function's lookup, so the kill lands
    // before the function could act on the alert.
    sandbox.failNextCalls({ mode: 'timeout', pathPrefix: `/v1/payments/${payment.id}`, method: 'GET', count: 1, hangMs: 30_000 });
    killOnAnswer = { topic: 'stop_delivery_op_wh' };
    sandbox.fraudAlert(payment.id, { description: 'Fraud alert: cancel the order without delivering it.' });
    const kill = killOnAnswer;
    await waitFor('the kill', async () => kill.killed !== undefined);
    await kill.killed;
    await sandbox.settle(30_000);
    // Delivered once, answered 200 (MercadoPago will never send it again).
    expect(sandbox.deliveries({ type: 'stop_delivery_op_wh', resourceId: payment.id }).map((d) => d.statusCode)).toEqual([200]);
    const killedOutput = fn.webhook!.output();
    expect(killedOutput).toContain('"notification_stored"');
    expect(killedOutput).not.toContain('"notification_processed"');
    sandbox.clearFaults();
    // Stored, not acted on: the order still looks shippable.
    expect((await counts(payment.id)).stored).toBe(1);
    expect((await orderOf(payment.id))?.do_not_ship).toBe(false);

    fn.webhook = await startWebhook();
    // The reconcile function takes the notification over once the dead pass's lease ends.
    const report = await waitFor('reconcile to act on the alert', async () => {
      const r = await runReconcile();
      return r.notifications_processed > 0 && r;
    }, 30_000);
    expect(report.notifications_failed).toBe(0);
    await sandbox.settle(30_000);

    expect((await mpPayment(payment.id)).status).toBe('refunded');
    expect((await mpPayment(payment.id)).refunds).toHaveLength(1);
    const stopped = await orderOf(payment.id);
    expect(stopped).toEqual({ order_number: order.order_number, status: 'refunded', do_not_ship: true });
    const { rows: refund } = await pool.query('select reason, status from checkout.payment_refunds where payment_id = $1', [payment.id]);
    expect(refund).toEqual([{ reason: 'fraud_alert', status: 'refunded' }]);

    // One email to the owner, however often the sender runs.
    await Promise.all([1, 2].map(() => call(fn.emails!, '/send-emails', { token: SERVICE_KEY })));
    const mails = sink.emails().filter((e) => e.subject.includes(order.order_number) && e.to.includes(OWNER));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toContain('NO ENVIAR');

    // Replays: the same alert again, another reconcile, the payment's
    // notifications again (a stale approval is fetched as what it is now):
    // nothing changes.
    const before = await counts(payment.id);
    const again = await replay('stop_delivery_op_wh', String(payment.id), {
      action: 'Created',
      data: { payment_id: payment.id },
      id: String(payment.id),
      type: 'stop_delivery_op_wh',
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ received: true, stored: false });
    expect((await runReconcile()).notifications_processed).toBe(0);
    sandbox.resendNotification(payment.id, { copies: 2 });
    await sandbox.settle(30_000);
    expect(await counts(payment.id)).toEqual(before);
    expect(await orderOf(payment.id)).toEqual(stopped);
    expect((await mpPayment(payment.id)).refunds).toHaveLength(1);
    expect(await auditViolations()).toEqual([]);

    // The dashboard shows it as "no enviar".
    const list = await call(fn.admin!, '/admin/disputes', { method: 'GET', token: staffToken });
    expect(list.status).toBe(200);
    const alert = (list.body.fraud_alerts as Record<string, unknown>[]).find((a) => a.payment_id === String(payment.id));
    expect(alert).toMatchObject({ order_number: order.order_number, do_not_ship: true, refund_status: 'refunded' });
  });
});

const pdf = (size = 64) => new Uint8Array([...Buffer.from('%PDF-1.4\n'), ...new Uint8Array(Math.max(0, size - 9)).fill(0x20)]);

async function uploadEvidence(disputeId: string, files: { name: string; type: string; bytes: Uint8Array<ArrayBuffer> }[], token = staffToken) {
  const form = new FormData();
  for (const f of files) form.append('files[]', new Blob([f.bytes], { type: f.type }), f.name);
  const res = await fetch(`${fn.admin!.url}/admin/disputes/${disputeId}/evidence`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('chargebacks', () => {
  it('recorded with their deadline, listed soonest first; evidence before the deadline, refused after it and when wrong', async () => {
    const a = await paidOrder();
    const b = await paidOrder();
    const late = new Date(Date.now() + 9 * 86_400_000).toISOString();
    const soon = new Date(Date.now() + 4_000).toISOString();
    const cbLate = sandbox.openChargeback(a.payment.id, { documentationDeadline: late });
    const cbSoon = sandbox.openChargeback(b.payment.id, { documentationDeadline: soon });
    await sandbox.settle(30_000);
    const recorded = await waitFor('the chargebacks recorded', async () => {
      const [x, y] = [await disputeOf('chargeback', cbLate.id), await disputeOf('chargeback', cbSoon.id)];
      return x && y && [x, y];
    });
    expect(recorded[0]).toMatchObject({
      status: 'opened',
      coverage_eligible: true,
      documentation_required: true,
      documentation_status: 'pending',
      amount: '2500.00',
    });
    expect((recorded[0]!.deadline as Date).toISOString()).toBe(new Date(cbLate.date_documentation_deadline).toISOString());
    expect(Math.abs(Date.parse(late) - (recorded[0]!.deadline as Date).getTime())).toBeLessThan(1000);
    expect((await orderOf(a.payment.id))?.status).toBe('charged_back');

    const list = await call(fn.admin!, '/admin/disputes', { method: 'GET', token: staffToken });
    expect(list.status).toBe(200);
    const ids = (list.body.disputes as { mp_id: string }[]).map((d) => d.mp_id);
    expect(ids.indexOf(cbSoon.id)).toBeLessThan(ids.indexOf(cbLate.id));
    expect((await call(fn.admin!, '/admin/disputes', { method: 'GET', token: signHs256(shopperClaims(crypto.randomUUID()), JWT_SECRET) })).status).toBe(403);

    // Refused before MercadoPago is asked: a wrong type, a PDF that is not one, more than 10 MB.
    const lateId = recorded[0]!.id as string;
    const wrong = await uploadEvidence(lateId, [{ name: 'nota.txt', type: 'text/plain', bytes: new TextEncoder().encode('hola') }]);
    expect([wrong.status, wrong.body.error]).toEqual([400, 'invalid_file_type']);
    const fake = await uploadEvidence(lateId, [{ name: 'factura.pdf', type: 'application/pdf', bytes: new TextEncoder().encode('not a pdf') }]);
    expect([fake.status, fake.body.error]).toEqual([400, 'invalid_file_type']);
    const big = await uploadEvidence(lateId, [{ name: 'a.pdf', type: 'application/pdf', bytes: pdf(6 * 1024 * 1024) }, {
      name: 'b.pdf',
      type: 'application/pdf',
      bytes: pdf(5 * 1024 * 1024),
    }]);
    expect([big.status, big.body.error]).toEqual([413, 'payload_too_large']);
    expect(sandbox.state().chargebacks.find((c) => c.id === cbLate.id)?.documentation).toEqual([]);

    // Before the deadline: accepted, review_pending at MercadoPago and here.
    const ok = await uploadEvidence(lateId, [{ name: 'factura.pdf', type: 'application/pdf', bytes: pdf() }]);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ mp_id: cbLate.id, documentation_status: 'review_pending' });
    expect(sandbox.state().chargebacks.find((c) => c.id === cbLate.id)?.documentation_status).toBe('review_pending');
    expect((await disputeOf('chargeback', cbLate.id))?.documentation_status).toBe('review_pending');

    // After the deadline: MercadoPago's refusal, as a clear 409.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(soon) - Date.now() + 500)));
    const expired = await uploadEvidence(recorded[1]!.id as string, [{ name: 'factura.pdf', type: 'application/pdf', bytes: pdf() }]);
    expect([expired.status, expired.body.error, expired.body.mp_error]).toEqual([
      409,
      'evidence_refused',
      'documentation_deadline_expired',
    ]);

    // Resolved: closed, forward only; a replay of the opening changes nothing.
    sandbox.resolveChargeback(cbLate.id, { coverageApplied: true });
    await sandbox.settle(30_000);
    await waitFor('the resolution', async () => (await disputeOf('chargeback', cbLate.id))?.status === 'closed');
    expect(await disputeOf('chargeback', cbLate.id)).toMatchObject({ coverage_applied: true, documentation_status: 'valid' });
    expect(await auditViolations()).toEqual([]);
  });
});

describe('claims', () => {
  for (const benefited of ['complainant', 'respondent'] as const) {
    it(`opened, escalated, resolved for the ${benefited}`, async () => {
      const { payment } = await paidOrder();
      const claim = sandbox.openClaim(payment.id);
      await sandbox.settle(30_000);
      await waitFor('the claim recorded', async () => (await disputeOf('claim', claim.id))?.stage === 'claim');
      sandbox.escalateClaim(claim.id);
      await sandbox.settle(30_000);
      await waitFor('the escalation', async () => (await disputeOf('claim', claim.id))?.stage === 'dispute');
      expect((await orderOf(payment.id))?.status).toBe('in_mediation');
      sandbox.resolveClaim(claim.id, { benefited });
      await sandbox.settle(30_000);
      await waitFor('the resolution', async () => (await disputeOf('claim', claim.id))?.status === 'closed');
      expect((await disputeOf('claim', claim.id))?.benefited).toBe(benefited);
      expect((await orderOf(payment.id))?.status).toBe(benefited === 'complainant' ? 'refunded' : 'paid');
      expect((await mpPayment(payment.id)).refunds).toHaveLength(benefited === 'complainant' ? 1 : 0);
      expect(await auditViolations()).toEqual([]);
    });
  }
});
