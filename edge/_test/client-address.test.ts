import assert from './assert.ts';
import { callerAddress, firstAddress, forwardedAddress, hasSecretKey, ipAddress } from '../_shared/client-address.ts';
import { loadBaseConfig } from '../_shared/config.ts';

const SECRET = 'sb_secret_client-address-test';

Deno.test('ipAddress: one IPv4 or IPv6 address, in canonical text; anything else is none', () => {
  const ok: [string, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['0.0.0.0', '0.0.0.0'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::1', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:7f00:1', '127.0.0.1'],
  ];
  for (const [value, canonical] of ok) assert.equal(ipAddress(value), canonical, value);
  for (
    const bad of [
      '',
      ' ',
      'not-an-ip',
      '256.1.1.1',
      '010.1.1.1',
      '1.2.3',
      '1.2.3.4:80',
      '[::1]',
      'fe80::1%eth0',
      '1::2::3',
      '203.0.113.0/24',
      'x'.repeat(10_000),
    ]
  ) {
    assert.equal(ipAddress(bad), undefined, bad);
  }
  assert.equal(firstAddress(' 203.0.113.7 , 10.0.0.1'), '203.0.113.7');
  assert.equal(firstAddress('garbage, 203.0.113.7'), undefined);
  assert.equal(firstAddress(null), undefined);
});

Deno.test('forwardedAddress: Sb-Forwarded-For only with a secret key, its leftmost entry, garbage ignored', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(forwardedAddress(h({ apikey: SECRET, 'sb-forwarded-for': '198.51.100.7' }), [SECRET]), '198.51.100.7');
  assert.equal(forwardedAddress(h({ apikey: SECRET, 'Sb-Forwarded-For': '198.51.100.7, 10.0.0.1' }), ['other', SECRET]), '198.51.100.7');
  assert.equal(forwardedAddress(h({ apikey: SECRET, 'sb-forwarded-for': 'garbage' }), [SECRET]), undefined);
  assert.equal(forwardedAddress(h({ apikey: 'anon', 'sb-forwarded-for': '198.51.100.7' }), [SECRET]), undefined);
  assert.equal(forwardedAddress(h({ 'sb-forwarded-for': '198.51.100.7' }), [SECRET]), undefined);
  // No secret keys configured: nobody may forward, not even an empty apikey.
  assert.equal(forwardedAddress(h({ apikey: '', 'sb-forwarded-for': '198.51.100.7' }), []), undefined);
  assert.equal(forwardedAddress(h({ apikey: '', 'sb-forwarded-for': '198.51.100.7' }), ['']), undefined);
  assert.equal(hasSecretKey(h({ apikey: `${SECRET}x` }), [SECRET]), false);
  assert.equal(hasSecretKey(h({ apikey: SECRET.slice(0, -1) }), [SECRET]), false);
});

Deno.test("callerAddress: the forwarded address, else the gateway's header (CLIENT_IP_HEADER)", () => {
  const config = loadBaseConfig({
    SUPABASE_URL: 'http://127.0.0.1:54321',
    CHECKOUT_DB_URL: 'postgres://unused',
    SUPABASE_SERVICE_ROLE_KEY: 'service',
    SUPABASE_SECRET_KEYS: JSON.stringify({ default: SECRET }),
    CLIENT_IP_HEADER: 'CF-Connecting-IP',
  });
  const req = (headers: Record<string, string>) => new Request('http://127.0.0.1/functions/v1/create-preference', { headers });
  assert.equal(callerAddress(req({ 'cf-connecting-ip': '192.0.2.1', apikey: SECRET, 'sb-forwarded-for': '198.51.100.7' }), config), '198.51.100.7');
  assert.equal(callerAddress(req({ 'cf-connecting-ip': '192.0.2.1', apikey: 'anon', 'sb-forwarded-for': '198.51.100.7' }), config), '192.0.2.1');
  assert.equal(callerAddress(req({ 'x-forwarded-for': '192.0.2.9' }), config), undefined);
});

Deno.test('SUPABASE_SECRET_KEYS: a JSON object of keys; anything else fails at boot, naming it', () => {
  const base = { SUPABASE_URL: 'http://127.0.0.1:54321', CHECKOUT_DB_URL: 'postgres://unused', SUPABASE_SERVICE_ROLE_KEY: 'service' };
  assert.deepEqual(loadBaseConfig(base).secretKeys, []);
  assert.deepEqual(loadBaseConfig({ ...base, SUPABASE_SECRET_KEYS: '{"default":"sb_secret_a","ci":"sb_secret_b"}' }).secretKeys, [
    'sb_secret_a',
    'sb_secret_b',
  ]);
  for (const bad of ['sb_secret_a', '["sb_secret_a"]', '{"default":1}']) {
    let message = '';
    try {
      loadBaseConfig({ ...base, SUPABASE_SECRET_KEYS: bad });
    } catch (err) {
      message = String(err);
    }
    assert.ok(message.includes('SUPABASE_SECRET_KEYS'), `${bad}: ${message}`);
  }
});
