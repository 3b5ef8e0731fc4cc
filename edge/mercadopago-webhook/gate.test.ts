import assert from '../_test/assert.ts';
import type { ApplyResult, CheckoutRoutines } from '../_shared/checkout.ts';
import type { PaymentSnapshot } from '../_shared/contract.ts';
import { harness, signedNotification } from '../_test/fakes.ts';
import { createGate, GateFull } from './gate.ts';
import { webhookHandler } from './handler.ts';

/** A promise and its resolver. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test('gate: at most `limit` jobs run at once, the others start in arrival order as slots free', async () => {
  const gate = createGate(2);
  const started: string[] = [];
  const done = new Map<string, ReturnType<typeof deferred>>();
  const job = (key: string) =>
    gate.run(key, () => {
      started.push(key);
      const d = deferred();
      done.set(key, d);
      return d.promise.then(() => key);
    });
  const all = ['a', 'b', 'c', 'd'].map(job);
  await tick();
  assert.deepEqual(started, ['a', 'b']);
  done.get('b')!.resolve();
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c']);
  done.get('a')!.resolve();
  done.get('c')!.resolve();
  await tick();
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c', 'd']);
  done.get('d')!.resolve();
  assert.deepEqual(await Promise.all(all), ['a', 'b', 'c', 'd']);
});

Deno.test('gate: a key still waiting is joined; once started, a new arrival runs again; a failure frees the slot', async () => {
  const gate = createGate(1);
  const block = deferred();
  let runs = 0;
  const first = gate.run('x', () => block.promise);
  const waiting = gate.run('y', () => Promise.resolve(++runs));
  const joined = gate.run('y', () => Promise.resolve(++runs));
  block.resolve();
  assert.deepEqual([await waiting, await joined], [1, 1]);
  assert.equal(await gate.run('y', () => Promise.resolve(++runs)), 2);
  await first;
  assert.equal(await gate.run('z', () => Promise.reject(new Error('boom'))).catch((e: Error) => e.message), 'boom');
  assert.equal(await gate.run('z', () => Promise.resolve('after')), 'after');
});

Deno.test('webhook: a burst is worked on a few at a time (4 per database connection), not all at once', async () => {
  let inFlight = 0;
  let peak = 0;
  const release = deferred();
  const applyPayment: CheckoutRoutines['applyPayment'] = async (p) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await release.promise;
    inFlight--;
    return { order_session_id: 'os', outcome: 'order_created', payment_id: p.id } as ApplyResult;
  };
  const h = harness({ applyPayment }, {
    getPayment: (id: string) =>
      Promise.resolve({ id: Number(id), status: 'approved', transaction_amount: 1, currency_id: 'ARS', external_reference: 't' } as PaymentSnapshot),
  });
  const handler = webhookHandler({ ...h.deps, config: { ...h.deps.config, dbPoolMax: 3 } });
  const answers = Promise.all(await Promise.all(Array.from({ length: 40 }, (_, i) => signedNotification(String(1000 + i)))).then((reqs) => reqs.map(handler)));
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(peak, 12);
  release.resolve();
  const res = await answers;
  assert.deepEqual(res.map((r) => r.status), Array(40).fill(200));
});

Deno.test('gate: past `maxWaiting` a new key is refused at once (GateFull); a key already waiting is still joined', async () => {
  const gate = createGate(1, 1);
  const block = deferred();
  const first = gate.run('a', () => block.promise);
  const waiting = gate.run('b', () => Promise.resolve('b'));
  assert.equal(await gate.run('c', () => Promise.resolve('c')).catch((e) => e instanceof GateFull), true);
  const joined = gate.run('b', () => Promise.resolve('again'));
  block.resolve();
  assert.deepEqual([await waiting, await joined], ['b', 'b']);
  await first;
  assert.equal(await gate.run('c', () => Promise.resolve('c')), 'c');
});

Deno.test('webhook: past MP_WEBHOOK_MAX_WAITING a notification is answered 503 webhook_busy at once', async () => {
  const release = deferred();
  const h = harness({
    applyPayment: async (p) => {
      await release.promise;
      return { order_session_id: 'os', outcome: 'order_created', payment_id: p.id } as ApplyResult;
    },
  }, {
    getPayment: (id: string) =>
      Promise.resolve({ id: Number(id), status: 'approved', transaction_amount: 1, currency_id: 'ARS', external_reference: 't' } as PaymentSnapshot),
  });
  const handler = webhookHandler({ ...h.deps, config: { ...h.deps.config, dbPoolMax: 1, mp: { ...h.deps.config.mp, webhookMaxWaiting: 2 } } });
  const reqs = await Promise.all(Array.from({ length: 10 }, (_, i) => signedNotification(String(2000 + i))));
  const settled: number[] = [];
  const answers = reqs.map((req) => handler(req).then((res) => (settled.push(res.status), res)));
  for (let i = 0; i < 50 && settled.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
  // Refused before any admitted one finished: 4 running (4 per connection), 2 waiting.
  assert.deepEqual(settled, [503, 503, 503, 503]);
  release.resolve();
  const res = await Promise.all(answers);
  assert.deepEqual(res.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 503, 503, 503, 503]);
  assert.equal((await res.find((r) => r.status === 503)!.json()).error, 'webhook_busy');
});
