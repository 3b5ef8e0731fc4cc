import assert from '../_test/assert.ts';
import { harness, NOW, orderSession, request, SECRET_KEY, SERVICE_KEY, SHOPPER } from '../_test/fakes.ts';
import { MercadoPagoUnavailable, type PreferenceRequest } from '../_shared/mercadopago.ts';
import { loadConfig } from '../_shared/config.ts';
import { createPreferenceHandler } from './handler.ts';

const body = {
  payer: { email: 'ana@example.com', name: 'Ana' },
  shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
  coupon: 'bienvenida10',
};
const post = (json: unknown = body, token = `shopper:${SHOPPER}`, headers: Record<string, string> = {}) =>
  request('create-preference', { method: 'POST', token, json, headers });

Deno.test('create-preference: reserves, creates the preference keyed by the order session, attaches it, answers 201', async () => {
  const session = orderSession();
  let sent: PreferenceRequest | undefined;
  const h = harness({
    beginCheckout: () => Promise.resolve(session),
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    attachPreference: () => Promise.resolve({ ...session, preference_id: 'pref-1' }),
  }, {
    createPreference: (pref, key) => {
      sent = pref;
      assert.equal(key, session.id);
      return Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/sandbox' });
    },
  });
  const res = await createPreferenceHandler(h.deps)(post());
  assert.equal(res.status, 201);
  const out = await res.json();
  assert.equal(out.preference_id, 'pref-1');
  assert.equal(out.order_session.preference_id, 'pref-1');
  assert.equal(out.order_session.payer, undefined, 'the payer is not echoed');
  assert.deepEqual(h.calls.find((c) => c.name === 'beginCheckout')?.args, [SHOPPER, body.payer, body.shipping_address, 'bienvenida10', null, false]);
  assert.equal(sent?.external_reference, session.token);
  assert.equal(sent?.expiration_date_from, NOW.toISOString());
  assert.deepEqual(sent?.items.map((i) => [i.id, i.quantity, i.unit_price]), [['TEE-M', 2, 1500]]);
});

/** A checkout that succeeds, recording the client address each call passes to the database. */
function addressHarness() {
  const seen: unknown[] = [];
  const h = harness({
    beginCheckout: (...args) => {
      seen.push(args[4]);
      return Promise.resolve(orderSession());
    },
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    attachPreference: () => Promise.resolve(orderSession({ preference_id: 'pref-1' })),
  }, { createPreference: () => Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/s' }) });
  return { h, seen };
}

Deno.test("create-preference: the caller's address is x-forwarded-for's first entry; garbage is no address", async () => {
  const { h, seen } = addressHarness();
  for (const xff of ['203.0.113.7, 10.0.0.1', '2001:db8::1', 'not-an-ip, 203.0.113.7', '']) {
    await createPreferenceHandler(h.deps)(post(body, `shopper:${SHOPPER}`, xff ? { 'x-forwarded-for': xff } : {}));
  }
  assert.deepEqual(seen, ['203.0.113.7', '2001:db8::1', null, null]);
});

Deno.test("create-preference: a server with the secret key forwards the shopper's address (Sb-Forwarded-For); any other key cannot", async () => {
  const { h, seen } = addressHarness();
  const gateway = { 'x-forwarded-for': '192.0.2.1' };
  const cases: [Record<string, string>, string | null][] = [
    [{ apikey: SECRET_KEY, 'sb-forwarded-for': '198.51.100.7' }, '198.51.100.7'],
    [{ apikey: SECRET_KEY, 'sb-forwarded-for': '2001:DB8:0::7, 10.0.0.1' }, '2001:db8::7'],
    // Garbage is ignored: the gateway's address counts.
    [{ apikey: SECRET_KEY, 'sb-forwarded-for': 'not-an-ip' }, '192.0.2.1'],
    [{ apikey: SECRET_KEY }, '192.0.2.1'],
    // A browser's anon key, the legacy service_role key, a wrong key: not honoured.
    [{ apikey: 'anon-key', 'sb-forwarded-for': '198.51.100.7' }, '192.0.2.1'],
    [{ apikey: SERVICE_KEY, 'sb-forwarded-for': '198.51.100.7' }, '192.0.2.1'],
    [{ apikey: `${SECRET_KEY}x`, 'sb-forwarded-for': '198.51.100.7' }, '192.0.2.1'],
    [{ 'sb-forwarded-for': '198.51.100.7' }, '192.0.2.1'],
  ];
  for (const [headers] of cases) {
    const res = await createPreferenceHandler(h.deps)(post(body, `shopper:${SHOPPER}`, { ...gateway, ...headers }));
    assert.equal(res.status, 201);
  }
  assert.deepEqual(seen, cases.map(([, expected]) => expected));
});

Deno.test('create-preference: the marketing box is passed on when ticked, and must be a boolean', async () => {
  const h = harness({
    beginCheckout: () => Promise.resolve(orderSession()),
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    attachPreference: () => Promise.resolve(orderSession({ preference_id: 'pref-1' })),
  }, { createPreference: () => Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/s' }) });
  assert.equal((await createPreferenceHandler(h.deps)(post({ ...body, marketing_opt_in: true }))).status, 201);
  assert.equal(h.calls.find((c) => c.name === 'beginCheckout')?.args[5], true);
  const bad = await createPreferenceHandler(h.deps)(post({ ...body, marketing_opt_in: 'yes' }));
  assert.equal(bad.status, 400);
  assert.deepEqual((await bad.json()).issues.map((i: { path: string }) => i.path), ['marketing_opt_in']);
});

Deno.test('create-preference: MercadoPago failing releases the reservation at once and answers 502', async () => {
  const h = harness({
    beginCheckout: () => Promise.resolve(orderSession()),
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    releaseSession: () => Promise.resolve(orderSession({ status: 'cancelled' })),
  }, { createPreference: () => Promise.reject(new MercadoPagoUnavailable('down')) });
  const res = await createPreferenceHandler(h.deps)(post());
  assert.equal(res.status, 502);
  assert.equal((await res.json()).error, 'payment_provider_unavailable');
  assert.deepEqual(h.calls.map((c) => c.name), ['beginCheckout', 'offlineMethodsAllowed', 'createPreference', 'releaseSession']);
});

Deno.test('create-preference: bad input is a 400 naming the fields, and nothing is called', async () => {
  const h = harness();
  const res = await createPreferenceHandler(h.deps)(post({ ...body, payer: { email: 'not-an-email', name: 'Ana' }, coupon: 'x' }));
  assert.equal(res.status, 400);
  const out = await res.json();
  assert.equal(out.error, 'validation_failed');
  assert.deepEqual(out.issues.map((i: { path: string }) => i.path).sort(), ['coupon', 'payer.email']);
  assert.equal(h.calls.length, 0);
});

Deno.test('create-preference: no shopper token is 401, another method 405', async () => {
  const h = harness();
  const handler = createPreferenceHandler(h.deps);
  assert.equal((await handler(post(body, 'garbage'))).status, 401);
  assert.equal((await handler(request('create-preference', { method: 'GET', token: `shopper:${SHOPPER}` }))).status, 405);
  assert.equal(h.calls.length, 0);
});

Deno.test('create-preference: return_url picks one of the allowed return pages; any other is a 400 before anything is reserved', async () => {
  const other = 'http://127.0.0.1:3000/checkout/return';
  let sent: PreferenceRequest | undefined;
  const h = harness({
    beginCheckout: () => Promise.resolve(orderSession()),
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    attachPreference: () => Promise.resolve(orderSession({ preference_id: 'pref-1' })),
  }, {
    createPreference: (pref) => {
      sent = pref;
      return Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/sandbox' });
    },
  });
  const deps = { ...h.deps, config: { ...h.deps.config, returnUrls: [other] } };
  assert.equal((await createPreferenceHandler(deps)(post({ ...body, return_url: other }))).status, 201);
  assert.deepEqual(sent?.back_urls, { success: other, pending: other, failure: other });
  // The project's own return page is always allowed, and is the default.
  assert.equal((await createPreferenceHandler(deps)(post({ ...body, return_url: deps.config.returnUrl }))).status, 201);
  assert.equal(sent?.back_urls.success, deps.config.returnUrl);
  assert.equal((await createPreferenceHandler(deps)(post())).status, 201);
  assert.equal(sent?.back_urls.success, deps.config.returnUrl);

  const before = h.calls.length;
  for (const bad of ['https://evil.example/checkout/return', `${other}?x=1`, 'not a url', 42]) {
    const res = await createPreferenceHandler(deps)(post({ ...body, return_url: bad }));
    assert.equal(res.status, 400, String(bad));
    const out = await res.json();
    assert.equal(out.error, 'validation_failed');
    assert.deepEqual(out.issues.map((i: { path: string }) => i.path), ['return_url']);
  }
  assert.equal(h.calls.length, before, 'nothing reserved or created for a refused return_url');
});

Deno.test('CHECKOUT_RETURN_URLS: a comma-separated list of URLs; anything else fails at boot', () => {
  const env = {
    SUPABASE_URL: 'http://127.0.0.1:54321',
    CHECKOUT_DB_URL: 'postgres://unused',
    SUPABASE_SERVICE_ROLE_KEY: 'k',
    MP_ACCESS_TOKEN: 'TEST-x',
    MP_WEBHOOK_SECRET: 'secret-secret',
  };
  assert.deepEqual(loadConfig(env).returnUrls, []);
  assert.deepEqual(loadConfig({ ...env, CHECKOUT_RETURN_URLS: ' http://a.test/r , https://b.test/checkout/return' }).returnUrls, [
    'http://a.test/r',
    'https://b.test/checkout/return',
  ]);
  let thrown: unknown;
  try {
    loadConfig({ ...env, CHECKOUT_RETURN_URLS: 'http://a.test/r,nope' });
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error && /CHECKOUT_RETURN_URLS: not a URL: nope/.test(thrown.message), String(thrown));
});

Deno.test("create-preference: the payer's identification is checked against the store's country before anything is reserved", async () => {
  const brazil = () => Promise.resolve({ site_id: 'MLB' as const, currency: 'BRL', locale: 'pt-BR' });
  const h = harness({ storeCountry: brazil }, {});
  const withId = (identification: unknown) => post({ ...body, payer: { ...body.payer, identification } });
  const issues = async (res: Response) => ({ status: res.status, issues: (await res.json()).issues });

  // A CPF whose check digits are wrong: refused by the body's schema, naming the number.
  const wrongCpf = await issues(await createPreferenceHandler(h.deps)(withId({ type: 'CPF', number: '529.982.247-24' })));
  assert.equal(wrongCpf.status, 400);
  assert.equal(wrongCpf.issues[0].path, 'payer.identification.number');
  assert.ok(/CPF/.test(wrongCpf.issues[0].message));
  // An Argentine DNI in a store in Brazil: refused naming the type.
  const dni = await issues(await createPreferenceHandler(h.deps)(withId({ type: 'DNI', number: '30123456' })));
  assert.equal(dni.status, 400);
  assert.deepEqual(dni.issues, [{ path: 'payer.identification.type', message: 'one of CPF, CNPJ (the store sells in BR)' }]);
  // A type nobody has.
  assert.equal((await createPreferenceHandler(h.deps)(withId({ type: 'SSN', number: '123456789' }))).status, 400);
  assert.equal(h.calls.some((c) => c.name === 'beginCheckout'), false, 'nothing was reserved');
});

Deno.test('create-preference: a valid CPF, typed with separators, reaches the checkout and MercadoPago without them', async () => {
  let sent: PreferenceRequest | undefined;
  const h = harness({
    storeCountry: () => Promise.resolve({ site_id: 'MLB', currency: 'BRL', locale: 'pt-BR' }),
    beginCheckout: (_s, payer) => Promise.resolve(orderSession({ currency: 'BRL', payer: payer as Record<string, unknown> })),
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    attachPreference: () => Promise.resolve(orderSession({ preference_id: 'pref-1' })),
  }, {
    createPreference: (pref) => {
      sent = pref;
      return Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/s' });
    },
  });
  const res = await createPreferenceHandler(h.deps)(post({ ...body, payer: { ...body.payer, identification: { type: 'CPF', number: '529.982.247-25' } } }));
  assert.equal(res.status, 201);
  const begun = h.calls.find((c) => c.name === 'beginCheckout')?.args[1] as { identification: unknown };
  assert.deepEqual(begun.identification, { type: 'CPF', number: '52998224725' });
  assert.deepEqual(sent?.payer.identification, { type: 'CPF', number: '52998224725' });
  assert.deepEqual(sent?.items.map((i) => i.currency_id), ['BRL']);
});

Deno.test('create-preference: offline methods on by default, payable MP_TICKET_EXPIRATION_DAYS (3); a cart past the hoarding limits gets cards only', async () => {
  const sent: PreferenceRequest[] = [];
  let allowed = { allowed: true, reason: null as string | null };
  const h = harness({
    beginCheckout: () => Promise.resolve(orderSession()),
    offlineMethodsAllowed: () => Promise.resolve(allowed),
    attachPreference: () => Promise.resolve(orderSession({ preference_id: 'pref-1' })),
  }, {
    createPreference: (pref) => {
      sent.push(pref);
      return Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/s' });
    },
  });
  assert.equal((await createPreferenceHandler(h.deps)(post())).status, 201);
  assert.deepEqual(sent[0]?.payment_methods.excluded_payment_types, []);
  assert.equal(sent[0]?.date_of_expiration, new Date(NOW.getTime() + 3 * 86_400_000).toISOString());
  allowed = { allowed: false, reason: 'variant_share' };
  assert.equal((await createPreferenceHandler(h.deps)(post())).status, 201);
  assert.deepEqual(sent[1]?.payment_methods.excluded_payment_types.map((t) => t.id), ['ticket', 'atm', 'bank_transfer']);
  assert.equal(sent[1]?.date_of_expiration, undefined);
  // A store that excludes every offline type never asks.
  const cardsOnly = { ...h.deps, config: { ...h.deps.config, mp: { ...h.deps.config.mp, excludedPaymentTypes: ['ticket', 'atm', 'bank_transfer'] } } };
  const before = h.calls.filter((c) => c.name === 'offlineMethodsAllowed').length;
  assert.equal((await createPreferenceHandler(cardsOnly)(post())).status, 201);
  assert.equal(h.calls.filter((c) => c.name === 'offlineMethodsAllowed').length, before);
  assert.equal(sent[2]?.date_of_expiration, undefined);
});

Deno.test("create-preference: a discounted order's one item is titled in the store's language; without a discount the store's country is not read", async () => {
  const sent: PreferenceRequest[] = [];
  let discount = 300;
  const h = harness({
    storeCountry: () => Promise.resolve({ site_id: 'MLB', currency: 'BRL', locale: 'pt-BR' }),
    beginCheckout: () => Promise.resolve(orderSession({ currency: 'BRL', discount, total: 3000 - discount, coupon_code: discount ? 'BEMVINDO10' : null })),
    offlineMethodsAllowed: () => Promise.resolve({ allowed: true, reason: null }),
    attachPreference: () => Promise.resolve(orderSession({ preference_id: 'pref-1' })),
  }, {
    createPreference: (pref) => {
      sent.push(pref);
      return Promise.resolve({ id: 'pref-1', init_point: 'https://mp.example/init', sandbox_init_point: 'https://mp.example/s' });
    },
  });
  assert.equal((await createPreferenceHandler(h.deps)(post())).status, 201);
  assert.deepEqual(sent[0]!.items.map((i) => [i.title, i.quantity, i.unit_price]), [[`${h.deps.config.storeName}: 2 produto(s), cupom BEMVINDO10`, 1, 2700]]);
  assert.equal(h.calls.filter((c) => c.name === 'storeCountry').length, 1);
  discount = 0;
  assert.equal((await createPreferenceHandler(h.deps)(post())).status, 201);
  assert.deepEqual(sent[1]!.items.map((i) => i.title), ['Remera M']);
  assert.equal(h.calls.filter((c) => c.name === 'storeCountry').length, 1, 'read only for a discounted order');
});
