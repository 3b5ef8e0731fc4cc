/**
 * `npm start -- --country BR` (dev/stack/country.ts): the store's settings
 * and the demo catalog move to the country's currency, whole units where it
 * has no cents, the same country twice changes nothing; then a cart of the
 * converted catalog checks out in that currency. In one transaction rolled
 * back (the test database is shared).
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { applyCountry } from '../../dev/stack/country.ts';
import { countryOf } from '../../edge/_shared/country.ts';
import { connect } from '../helpers/db.ts';

let client: pg.Client;
beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  await client.end();
});

async function inRollback(fn: () => Promise<void>) {
  await client.query('begin');
  try {
    await fn();
  } finally {
    await client.query('rollback');
  }
}

async function demoRows() {
  const p = (await client.query<{ id: string }>(`insert into public.products (slug, title) values ('country-' || gen_random_uuid(), 'Remera') returning id`))
    .rows[0]!;
  const v = (await client.query<{ id: string }>(
    `insert into public.variants (product_id, sku, title, price, currency, stock_on_hand) values ($1, 'CTRY-' || left(gen_random_uuid()::text, 8), 'M', 12999.00, 'ARS', 5) returning id`,
    [p.id],
  )).rows[0]!;
  const code = `CTRY${Math.floor(Math.random() * 1e6)}`;
  await client.query(
    `insert into checkout.coupons (code, kind, value, currency, min_subtotal) values ($1, 'fixed', 5000, 'ARS', 40000), ($1 || 'P', 'percent', 10, null, 20000)`,
    [code],
  );
  return { variant: v.id, code };
}

const priceOf = async (id: string) =>
  (await client.query<{ price: string; currency: string }>('select price, currency from public.variants where id = $1', [id])).rows[0]!;
const couponsOf = async (code: string) =>
  (await client.query<{ code: string; value: string; currency: string | null; min_subtotal: string }>(
    'select code, value, currency, min_subtotal from checkout.coupons where code in ($1, $1 || $2) order by code',
    [code, 'P'],
  )).rows;

describe('the local stack as a store of another country', () => {
  test('Brazil: settings, prices and coupons in BRL; twice is once', async () => {
    await inRollback(async () => {
      const { variant, code } = await demoRows();
      await applyCountry(client, countryOf('BR')!);
      expect((await client.query('select checkout.store_country() as r')).rows[0].r).toEqual({ site_id: 'MLB', currency: 'BRL', locale: 'pt-BR' });
      expect(await priceOf(variant)).toEqual({ price: '65.00', currency: 'BRL' });
      expect(await couponsOf(code)).toEqual([
        { code, value: '25.00', currency: 'BRL', min_subtotal: '200.00' },
        { code: `${code}P`, value: '10.00', currency: null, min_subtotal: '100.00' },
      ]);
      await applyCountry(client, countryOf('MLB')!);
      expect(await priceOf(variant)).toEqual({ price: '65.00', currency: 'BRL' });
      expect((await couponsOf(code))[1]!.min_subtotal).toBe('100.00');
    });
  });

  test('Colombia: whole pesos', async () => {
    await inRollback(async () => {
      const { variant } = await demoRows();
      await applyCountry(client, countryOf('CO')!);
      expect(await priceOf(variant)).toEqual({ price: '51996.00', currency: 'COP' });
    });
  });
});
