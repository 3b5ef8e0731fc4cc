import assert from '../_test/assert.ts';
import type { Db } from '../_shared/db.ts';
import { loadEmailConfig, type Mailer, type OutgoingEmail, type SendResult } from '../_shared/emails.ts';
import { fakeVerifyJwt, NOW, OTHER_SHOPPER as OTHER, request, SERVICE_KEY, SHOPPER } from '../_test/fakes.ts';
import { signLink } from '../_shared/links.ts';
import { renderRow, sendEmailsHandler } from './handler.ts';

const LINK_SECRET = 'unit-test-link-secret-of-32-characters!';
const config = loadEmailConfig({
  SUPABASE_URL: 'http://127.0.0.1:54321',
  CHECKOUT_DB_URL: 'postgres://unused',
  SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
  JWT_SECRET: 'x'.repeat(32),
  RESEND_API_KEY: 're_unit',
  EMAIL_LINK_SECRET: LINK_SECRET,
  EMAIL_MAX_TRIES: '3',
  EMAIL_RETRY_BASE_MS: '100',
});
const nowSeconds = Math.floor(NOW.getTime() / 1000);

const line = { sku: 'TEE-M', title: 'Remera', quantity: 1, unit_price: 1500, line_total: 1500, currency: 'ARS' };
const reminder = (id: number) => ({
  id,
  kind: 'cart_reminder',
  recipient: `ana${id}@example.com`,
  session_id: SHOPPER,
  cart_created_at: '2026-11-30T10:00:00.123456+00:00',
  created_at: '2026-12-01T11:00:00.654321+00:00',
  attempts: 0,
  idempotency_key: `outbox-${id}`,
  data: { lines: [line], total: 1500, currency: 'ARS' },
});

/** A database that answers the email routines from a script and records every statement. */
function fakeDb(answers: Record<string, (params: unknown[]) => unknown[]>, locale = 'es-AR') {
  const calls: { routine: string; params: unknown[] }[] = [];
  const db: Db = {
    query<R>(sql: string, params: unknown[] = []): Promise<R[]> {
      const routine = /select (email\.\w+|checkout\.store_country)/.exec(sql)?.[1] ?? sql;
      calls.push({ routine, params });
      const answer = answers[routine] ?? (routine === 'checkout.store_country' ? () => [{ r: { site_id: 'MLA', currency: 'ARS', locale } }] : undefined);
      return answer ? Promise.resolve(answer(params) as R[]) : Promise.reject(new Error(`unexpected statement ${sql}`));
    },
    close: () => Promise.resolve(),
  };
  return { db, calls };
}

/** A provider that answers each send from the list in turn. */
function fakeMailer(results: SendResult[]) {
  const sent: { email: OutgoingEmail; key: string }[] = [];
  const mailer: Mailer = {
    send(email, key) {
      sent.push({ email, key });
      return Promise.resolve(results.shift() ?? { ok: true, id: `re_${sent.length}` });
    },
  };
  return { mailer, sent };
}

function handler(db: Db, mailer: Mailer, sleeps: number[] = []) {
  return sendEmailsHandler({
    db,
    mailer,
    config,
    verifyJwt: fakeVerifyJwt,
    log: () => undefined,
    now: () => NOW,
    sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
  });
}

const markFailed = (params: unknown[]) => [{ r: { status: params[2] ? 'pending' : 'failed' } }];

Deno.test('send-emails: claims due rows, sends each under its outbox key, records what the provider said', async () => {
  const { db, calls } = fakeDb({
    'email.claim': () => [{ r: [reminder(1), reminder(2), reminder(3), reminder(4)] }],
    'email.mark_sent': () => [{}],
    'email.mark_failed': markFailed,
  });
  const { mailer, sent } = fakeMailer([
    { ok: true, id: 're_a' },
    // rate limited twice, then accepted: one email, retried with back-off
    { ok: false, status: 429, name: 'rate_limit_exceeded', message: 'slow down' },
    { ok: false, status: 429, name: 'rate_limit_exceeded', message: 'slow down', retryAfterMs: 2000 },
    { ok: true, id: 're_b' },
    // refused for good
    { ok: false, status: 422, name: 'validation_error', message: 'bad recipient' },
    // the provider already holds this key: it was sent before
    { ok: false, status: 409, name: 'invalid_idempotent_request', message: 'same key' },
  ]);
  const sleeps: number[] = [];
  const res = await handler(db, mailer, sleeps)(request('send-emails', { method: 'POST', token: SERVICE_KEY }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { claimed: 4, sent: 3, retry_later: 0, failed: 1 });
  assert.deepEqual(sent.map((s) => s.key), ['outbox-1', 'outbox-2', 'outbox-2', 'outbox-2', 'outbox-3', 'outbox-4']);
  assert.deepEqual(sleeps, [100, 2000]);
  assert.deepEqual(calls.map((c) => [c.routine, c.params[0], c.params[1]]), [
    ['email.claim', 20, undefined],
    ['checkout.store_country', undefined, undefined],
    ['email.mark_sent', 1, 're_a'],
    ['email.mark_sent', 2, 're_b'],
    ['email.mark_failed', 3, { status: 422, name: 'validation_error', message: 'bad recipient' }],
    ['email.mark_sent', 4, null],
  ]);
  // The reminder carries a restore link signed for this cart, and an unsubscribe link.
  const first = sent[0]!.email;
  assert.deepEqual(first.to, ['ana1@example.com']);
  assert.ok(first.html.includes(`${config.siteUrl}/?restore=`));
  assert.ok(first.html.includes(`${config.functionsUrl}/send-emails/unsubscribe?token=`));
});

Deno.test('send-emails: the provider unreachable on every try is left for a later run, not failed', async () => {
  const { db, calls } = fakeDb({ 'email.claim': () => [{ r: [reminder(1)] }], 'email.mark_failed': markFailed });
  const down: SendResult = { ok: false, status: null, name: 'application_error', message: 'fetch failed' };
  const { mailer, sent } = fakeMailer([down, down, down]);
  const res = await handler(db, mailer)(request('send-emails', { method: 'POST', token: SERVICE_KEY }));
  assert.deepEqual(await res.json(), { claimed: 1, sent: 0, retry_later: 1, failed: 0 });
  assert.equal(sent.length, 3);
  assert.deepEqual(calls.at(-1)?.params.slice(2), [true]);
});

Deno.test('send-emails: a row with nothing to render is failed without calling the provider', async () => {
  const { db, calls } = fakeDb({ 'email.claim': () => [{ r: [{ ...reminder(1), data: null }] }], 'email.mark_failed': markFailed });
  const { mailer, sent } = fakeMailer([]);
  const res = await handler(db, mailer)(request('send-emails', { method: 'POST', token: SERVICE_KEY }));
  assert.deepEqual(await res.json(), { claimed: 1, sent: 0, retry_later: 0, failed: 1 });
  assert.equal(sent.length, 0);
  assert.equal((calls[2]?.params[1] as { reason: string }).reason, 'render_failed');
});

Deno.test('send-emails: draining the outbox needs the service role; a shopper is 403 and nothing is claimed', async () => {
  for (const token of [`shopper:${SHOPPER}`, 'not-the-key']) {
    const { db, calls } = fakeDb({});
    const res = await handler(db, fakeMailer([]).mailer)(request('send-emails', { method: 'POST', token }));
    assert.equal(res.status, 403);
    assert.equal(calls.length, 0);
  }
});

Deno.test('send-emails: unsubscribe: GET only asks, POST unsubscribes; a bad or expired link writes nothing', async () => {
  const good = await signLink(LINK_SECRET, 'unsubscribe', { email: 'ana@example.com', exp: nowSeconds + 60 });
  const expired = await signLink(LINK_SECRET, 'unsubscribe', { email: 'ana@example.com', exp: nowSeconds - 1 });
  const forged = await signLink('another-secret-of-at-least-32-characters', 'unsubscribe', { email: 'ana@example.com', exp: nowSeconds + 60 });
  const { db, calls } = fakeDb({ 'email.unsubscribe': () => [{}] });
  const h = handler(db, fakeMailer([]).mailer);
  // What the link did (a page also reads the store's locale).
  const acted = () => calls.filter((c) => c.routine !== 'checkout.store_country');
  const unsubscribe = (token: string, method: string, headers: Record<string, string> = {}) =>
    h(request(`send-emails/unsubscribe?token=${token}`, { method, headers }));

  // The link opened (by the shopper, or by a mail scanner before her): a page with a button, nothing written.
  const asked = await unsubscribe(good, 'GET');
  assert.equal(asked.status, 200);
  const form = await asked.text();
  assert.ok(form.includes('<form method="post">') && form.includes('Darme de baja'));
  assert.equal(acted().length, 0);

  // The button: a browser's form POST, answered with a page.
  const done = await unsubscribe(good, 'POST', { accept: 'text/html,application/xhtml+xml' });
  assert.equal(done.status, 200);
  assert.ok((await done.text()).includes('Ya no te vamos a enviar recordatorios'));
  assert.deepEqual(acted(), [{ routine: 'email.unsubscribe', params: ['ana@example.com'] }]);

  // A mail client's one-click POST (RFC 8058), answered in JSON; idempotent.
  const oneClick = await unsubscribe(good, 'POST', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.deepEqual(await oneClick.json(), { unsubscribed: true });
  assert.equal(acted().length, 2);

  assert.equal((await unsubscribe(expired, 'GET')).status, 410);
  assert.equal((await unsubscribe(forged, 'GET')).status, 400);
  const posted = await unsubscribe(expired, 'POST');
  assert.equal(posted.status, 410);
  assert.equal((await posted.json()).error, 'link_expired');
  assert.equal((await unsubscribe(forged, 'POST', { accept: 'text/html' })).status, 400);
  assert.equal((await unsubscribe(good, 'PUT')).status, 405);
  assert.equal(acted().length, 2);
});

Deno.test('send-emails: restore copies the reminded cart for the signed-in shopper; a bad link or no shopper writes nothing', async () => {
  const claims = { session_id: OTHER, cart_created_at: '2026-11-30T10:00:00Z', exp: nowSeconds + 60 };
  const token = await signLink(LINK_SECRET, 'restore', claims);
  const expired = await signLink(LINK_SECRET, 'restore', { ...claims, exp: nowSeconds - 1 });
  const { db, calls } = fakeDb({ 'email.restore_cart': () => [{ r: { restored: 2 } }] });
  const h = handler(db, fakeMailer([]).mailer);
  const restore = (body: unknown, bearer?: string) => h(request('send-emails/restore', { method: 'POST', token: bearer, json: body }));

  const res = await restore({ token }, `shopper:${SHOPPER}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { restored: 2 });
  // The last parameter is the user checkout.require_user checks first, in the same transaction.
  assert.deepEqual(calls, [{ routine: 'email.restore_cart', params: [OTHER, '2026-11-30T10:00:00Z', SHOPPER, SHOPPER] }]);

  assert.equal((await restore({ token: expired }, `shopper:${SHOPPER}`)).status, 410);
  assert.equal((await restore({ token: `${token}x` }, `shopper:${SHOPPER}`)).status, 400);
  assert.equal((await restore({ token, extra: true }, `shopper:${SHOPPER}`)).status, 400);
  assert.equal((await restore({ token })).status, 401);
  assert.equal(calls.length, 1);
});

Deno.test('send-emails: the opt-in link: GET only asks, POST confirms; an unsubscribe token is not an opt-in token', async () => {
  const good = await signLink(LINK_SECRET, 'opt_in', { email: 'ana@example.com', exp: nowSeconds + 60 });
  const unsubscribeToken = await signLink(LINK_SECRET, 'unsubscribe', { email: 'ana@example.com', exp: nowSeconds + 60 });
  const { db, calls } = fakeDb({ 'email.confirm_marketing_opt_in': () => [{}] });
  const h = handler(db, fakeMailer([]).mailer);
  // What the link did (a page also reads the store's locale).
  const acted = () => calls.filter((c) => c.routine !== 'checkout.store_country');
  const optIn = (token: string, method: string, headers: Record<string, string> = {}) => h(request(`send-emails/opt-in?token=${token}`, { method, headers }));

  const asked = await optIn(good, 'GET');
  assert.equal(asked.status, 200);
  assert.ok((await asked.text()).includes('Sí, quiero recibirlos'));
  assert.equal(acted().length, 0);
  const done = await optIn(good, 'POST', { accept: 'text/html' });
  assert.ok((await done.text()).includes('Vas a recibir recordatorios'));
  assert.deepEqual(acted(), [{ routine: 'email.confirm_marketing_opt_in', params: ['ana@example.com'] }]);
  assert.equal((await optIn(unsubscribeToken, 'POST')).status, 400);
  assert.equal(acted().length, 1);
});

Deno.test("send-emails: the emails are written in the store's locale (pt-BR), money formatted by Intl in it", async () => {
  const { db } = fakeDb({
    'email.claim': () => [{
      r: [{ ...reminder(1), data: { lines: [{ ...line, currency: 'BRL', unit_price: 1234.5, line_total: 1234.5 }], total: 1234.5, currency: 'BRL' } }],
    }],
    'email.mark_sent': () => [{}],
  }, 'pt-BR');
  const { mailer, sent } = fakeMailer([]);
  const res = await handler(db, mailer)(request('send-emails', { method: 'POST', token: SERVICE_KEY }));
  assert.deepEqual(await res.json(), { claimed: 1, sent: 1, retry_later: 0, failed: 0 });
  const email = sent[0]!.email;
  assert.ok(email.subject.startsWith('Esqueceu alguma coisa?'), email.subject);
  assert.ok(email.html.includes('<html lang="pt-BR">'));
  assert.ok(email.text.includes(`Total: ${new Intl.NumberFormat('pt-BR', { style: 'currency', currency: 'BRL' }).format(1234.5)}`), email.text);
  assert.ok(email.text.includes('R$'), email.text);
});

Deno.test('send-emails: payment instructions: the method, the barcode or the Pix code, the link and the deadline in the store time zone', async () => {
  const base = {
    id: 9,
    kind: 'payment_instructions' as const,
    recipient: 'ana@example.com',
    session_id: SHOPPER,
    cart_created_at: null,
    created_at: '2026-12-01T11:00:00.654321+00:00',
    attempts: 0,
    idempotency_key: 'outbox-9',
  };
  const ticket = await renderRow({
    ...base,
    data: {
      payment: {
        payment_type_id: 'ticket',
        payment_method_id: 'rapipago',
        deadline: '2026-12-04T14:30:00Z',
        external_resource_url: 'https://mp.example/ticket?payment_id=9',
        barcode: '1234567890',
      },
      lines: [line],
      total: 1500,
      currency: 'ARS',
      payer: { name: 'Ana' },
      time_zone: 'America/Argentina/Buenos_Aires',
    },
  }, config);
  assert.equal(ticket.subject, 'Pagá tu compra con Rapipago antes del viernes, 4 de diciembre de 2026, 11:30');
  assert.ok(ticket.text.includes('Código de barras: 1234567890'));
  assert.ok(ticket.html.includes('href="https://mp.example/ticket?payment_id=9"'));
  const pix = await renderRow({
    ...base,
    data: {
      payment: {
        payment_type_id: 'bank_transfer',
        payment_method_id: 'pix',
        deadline: '2026-12-04T14:30:00Z',
        qr_code: '00020126<pix>',
        ticket_url: 'https://mp.example/pix',
      },
      lines: [line],
      total: 1500,
      currency: 'BRL',
      payer: {},
      time_zone: 'America/Sao_Paulo',
    },
  }, config);
  assert.ok(pix.subject.startsWith('Pagá tu compra con Pix antes del viernes, 4 de diciembre de 2026, 11:30'));
  assert.ok(pix.html.includes('00020126&lt;pix&gt;'), 'the Pix code, escaped');
  assert.ok(pix.text.includes('https://mp.example/pix'));
});

Deno.test("send-emails: the link pages in the store's locale (pt-BR): asking, done and a bad link; the one-click JSON reads no locale", async () => {
  const good = await signLink(LINK_SECRET, 'unsubscribe', { email: 'ana@example.com', exp: nowSeconds + 60 });
  const expired = await signLink(LINK_SECRET, 'opt_in', { email: 'ana@example.com', exp: nowSeconds - 1 });
  const optInToken = await signLink(LINK_SECRET, 'opt_in', { email: 'ana@example.com', exp: nowSeconds + 60 });
  const { db, calls } = fakeDb({ 'email.unsubscribe': () => [{}], 'email.confirm_marketing_opt_in': () => [{}] }, 'pt-BR');
  const h = handler(db, fakeMailer([]).mailer);
  const open = async (path: string, method: string, headers: Record<string, string> = {}) => {
    const res = await h(request(path, { method, headers }));
    return { status: res.status, html: await res.text() };
  };

  const asked = await open(`send-emails/unsubscribe?token=${good}`, 'GET');
  assert.equal(asked.status, 200);
  assert.ok(asked.html.includes('<html lang="pt-BR">'), asked.html);
  assert.ok(asked.html.includes('<title>Parar de receber lembretes?</title>') && asked.html.includes('>Cancelar a inscrição</button>'), asked.html);
  const done = await open(`send-emails/unsubscribe?token=${good}`, 'POST', { accept: 'text/html' });
  assert.ok(done.html.includes('<h1>Pronto</h1>') && done.html.includes('Não vamos mais enviar lembretes do carrinho.'), done.html);
  const optIn = await open(`send-emails/opt-in?token=${optInToken}`, 'GET');
  assert.ok(optIn.html.includes('Quer receber lembretes do seu carrinho?') && optIn.html.includes('>Sim, quero receber</button>'), optIn.html);
  const bad = await open(`send-emails/opt-in?token=${expired}`, 'GET');
  assert.equal(bad.status, 410);
  assert.ok(bad.html.includes('<h1>Link inválido</h1>') && bad.html.includes('Este link de confirmação não é válido ou expirou.'), bad.html);
  assert.ok(![asked, done, optIn, bad].some((p) => /Darme de baja|Listo|Enlace no válido/.test(p.html)), 'no Spanish left');

  const reads = calls.filter((c) => c.routine === 'checkout.store_country').length;
  const oneClick = await h(request(`send-emails/unsubscribe?token=${good}`, { method: 'POST' }));
  assert.deepEqual(await oneClick.json(), { unsubscribed: true });
  assert.equal(calls.filter((c) => c.routine === 'checkout.store_country').length, reads);
});
