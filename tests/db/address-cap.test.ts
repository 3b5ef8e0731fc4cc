/**
 * The cap on what the checkouts from one client address hold
 * (checkout.begin_client_checkout, max_units_per_address), with real parallel
 * connections: four shoppers from one address racing for the last units the
 * address may hold. Their carts hold different products, so no variant lock
 * orders them: only the address's own turn does.
 */
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToCart, asService, createShopper, createVariant, type DbError, newPool, payer, race, shipping } from '../helpers/db.ts';

let pool: pg.Pool;

beforeAll(() => {
  pool = newPool(5);
});
afterAll(async () => {
  await pool.end();
});

const CHECKOUT_FROM = 'select checkout.begin_client_checkout($1, $2, $3, null, $4, false) as s';

describe('checkouts from one client address', () => {
  it('four racing for the last units the address may hold: one gets them, the others CKH05; 10 rounds', async () => {
    await pool.query('update private.settings set max_units_per_address = 6');
    try {
      for (let round = 0; round < 10; round++) {
        const address = `198.18.${randomInt(256)}.${randomInt(1, 255)}`;
        const variants = await Promise.all(['ADDR-H', 'ADDR-A', 'ADDR-B', 'ADDR-C', 'ADDR-D'].map((sku) => createVariant(pool, { sku, stock: 100 })));
        const shoppers = await Promise.all(variants.map(() => createShopper(pool)));
        // Already held from the address: 2 of 6. Each racer wants 4, of a product of its own.
        for (const [i, shopper] of shoppers.entries()) await addToCart(pool, shopper, variants[i]!.id, i === 0 ? 2 : 4);
        await asService(pool, (c) => c.query(CHECKOUT_FROM, [shoppers[0], payer, shipping, address]));

        const racers = shoppers.slice(1);
        const results = await race(racers.length, (i, client) => client.query(CHECKOUT_FROM, [racers[i], payer, shipping, address]));

        const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DbError] : []));
        expect(results.filter((r) => r.status === 'fulfilled'), `round ${round}`).toHaveLength(1);
        expect(errors.map((e) => e.code), `round ${round}`).toEqual(['CKH05', 'CKH05', 'CKH05']);
        for (const e of errors) expect(JSON.parse(e.detail ?? '{}')).toMatchObject({ max: 6, held: 6, requested: 4 });
        const { rows } = await pool.query<{ units: number }>(
          `select coalesce(sum(item_count), 0)::int as units from public.order_sessions
            where client_address = private.client_address_key($1) and status = 'active' and expires_at > now()`,
          [address],
        );
        expect(rows[0]!.units, `round ${round}`).toBe(6);
      }
    } finally {
      await pool.query('update private.settings set max_units_per_address = 30');
    }
  });
});
