/** A shopper's checkout through the real create-preference function, for the suites that run it under Deno. */
import type pg from 'pg';
import { addToCart, createShopper, createVariant, payer } from './db.ts';
import { callFunction } from './http.ts';
import { shopperClaims, signHs256 } from './jwt.ts';

export interface FunctionCheckout {
  variant: { id: string };
  preferenceId: string;
  session: { id: string; token: string };
}

/** A fresh shopper checks out one unit of a fresh variant (`sku`, `price`, 5 in stock) through create-preference at `createUrl`. */
export async function checkoutOneUnit(
  pool: pg.Pool,
  createUrl: string,
  jwtSecret: string,
  opts: { sku: string; price: number },
): Promise<FunctionCheckout> {
  const variant = await createVariant(pool, { sku: opts.sku, stock: 5, price: opts.price });
  const shopper = await createShopper(pool);
  await addToCart(pool, shopper, variant.id, 1);
  const res = await callFunction(`${createUrl}/create-preference`, {
    token: signHs256(shopperClaims(shopper), jwtSecret),
    body: {
      payer: { email: payer.email, name: payer.name, surname: payer.surname },
      shipping_address: { street_name: 'Av. Corrientes', street_number: '1234', zip_code: 'C1043', city: 'CABA' },
    },
  });
  if (res.status !== 201) throw new Error(`create-preference answered ${res.status}: ${JSON.stringify(res.body)}`);
  const body = res.body as { preference_id: string; order_session: { id: string; token: string } };
  return { variant, preferenceId: body.preference_id, session: body.order_session };
}
