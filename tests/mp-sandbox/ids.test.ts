/**
 * A restarted sandbox never reuses a payment id: the database keeps orders by
 * payment id across restarts of npm start (issue 10), so a reused id would
 * turn every webhook for a new payment into a conflict with an old order.
 */
import { describe, expect, it } from 'vitest';
import { startSandbox } from '../../dev/mp-sandbox/index.ts';
import { idSeed } from '../../dev/mp-sandbox/store.ts';

async function payOnce(): Promise<number[]> {
  const sandbox = await startSandbox({ retrySchedule: [60_000] });
  try {
    const res = await fetch(`${sandbox.url}/checkout/preferences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ title: 'A', quantity: 1, unit_price: 100, currency_id: 'ARS' }] }),
    });
    const pref = (await res.json()) as { id: string };
    return [1, 2, 3].map(() => Number(sandbox.pay(pref.id, { cardholderName: 'APRO' }).id));
  } finally {
    await sandbox.close();
  }
}

describe('sandbox ids', () => {
  it('a restarted sandbox numbers its payments after every id of the run before', async () => {
    const first = await payOnce();
    await new Promise((r) => setTimeout(r, 20)); // the next run starts later, as a restart does
    const second = await payOnce();
    expect(Math.min(...second)).toBeGreaterThan(Math.max(...first));
  });

  it('the seed grows a hundred ids a second and stays above the floor', () => {
    const t = Date.UTC(2026, 11, 1);
    expect(idSeed(1_320_000_001, t + 1000) - idSeed(1_320_000_001, t)).toBe(100);
    expect(idSeed(1_320_000_001, t)).toBeGreaterThan(1_320_000_001);
    expect(Number.isSafeInteger(idSeed(20_000_000_001, Date.UTC(2100, 0, 1)))).toBe(true);
  });
});
