/**
 * `npm start -- --country BR` (or STORE_COUNTRY=BR): the local stack as a
 * store of another country. Sets the store's country (private.settings:
 * site_id and its locale) and moves the demo catalog's prices and coupons
 * into that country's currency at a fixed demo rate (whole units where the
 * currency has no cents). Re-runnable: prices are converted from whatever
 * currency they are in, so the same country twice changes nothing.
 */
import type pg from 'pg';
import { COUNTRIES, type Country, countryOf } from '../../edge/_shared/country.ts';

/** Demo rates: units of each currency per ARS (round numbers, for a demo catalog only). */
const PER_ARS: Record<string, number> = { ARS: 1, BRL: 0.005, MXN: 0.018, CLP: 0.9, COP: 4, PEN: 0.0035, UYU: 0.04 };

/** The country a --country value names (AR, BR, MX, CL, CO, PE, UY, or a site id); throws naming the choices. */
export function parseCountry(value: string): Country {
  const c = countryOf(value);
  if (c === undefined) throw new Error(`unknown country "${value}": one of ${Object.values(COUNTRIES).map((x) => `${x.code} (${x.site})`).join(', ')}`);
  return c;
}

/** Makes the database a store of `country`, the demo catalog priced in its currency (in the caller's transaction). */
export async function applyCountry(client: pg.ClientBase, country: Country): Promise<void> {
  const before = (await client.query<{ currency: string }>('select currency from private.settings for update')).rows[0]!.currency;
  await client.query('update private.settings set site_id = $1, locale = $2', [country.site, country.locale]);
  const rates = JSON.stringify(PER_ARS);
  const round = country.wholeUnits ? 0 : 2;
  // Variants in another currency than the store's: price / rate(theirs) * rate(the store's).
  await client.query(
    `update public.variants v set price = round(v.price / ($1::jsonb ->> v.currency)::numeric * ($1::jsonb ->> $2)::numeric, $3), currency = $2
      where v.currency <> $2 and $1::jsonb ? v.currency`,
    [rates, country.currency, round],
  );
  // Fixed coupons from their currency; a percent coupon's minimum is in the store's previous currency.
  await client.query(
    `update checkout.coupons c
        set value = case when c.kind = 'fixed' then round(c.value / ($1::jsonb ->> c.currency)::numeric * ($1::jsonb ->> $2)::numeric, $3) else c.value end,
            min_subtotal = round(c.min_subtotal / ($1::jsonb ->> coalesce(c.currency, $4))::numeric * ($1::jsonb ->> $2)::numeric, $3),
            currency = case when c.currency is null then null else $2 end
      where coalesce(c.currency, $4) <> $2 and $1::jsonb ? coalesce(c.currency, $4)`,
    [rates, country.currency, round, before],
  );
}
