/**
 * Seven countries: the preference create-preference sends (preferenceFor,
 * through the official SDK as createMercadoPago wires it) is never refused
 * by a sandbox started for each of the seven sites, whatever the lines, the
 * coupon or the payer's identification; and the sandbox refuses a currency
 * that is not its site's, as MercadoPago does (which is why the database
 * refuses such a cart before any preference: CKM03, supabase/tests/196).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { type Sandbox, startSandbox } from '../../dev/mp-sandbox/index.ts';
import type { OrderSession } from '../../edge/_shared/checkout.ts';
import { loadConfig } from '../../edge/_shared/config.ts';
import { COUNTRIES, SITE_IDS, type SiteId } from '../../edge/_shared/country.ts';
import { createMercadoPago, MercadoPagoRejected } from '../../edge/_shared/mercadopago.ts';
import { preferenceFor } from '../../edge/_shared/preference.ts';

const NOW = new Date('2026-12-08T12:00:00Z');

/** A payer identification of each country, valid by its rule. */
const IDS: Record<SiteId, { type: string; number: string }> = {
  MLA: { type: 'CUIT', number: '20123456786' },
  MLB: { type: 'CPF', number: '52998224725' },
  MLM: { type: 'RFC', number: 'GODE561231GR8' },
  MLC: { type: 'RUT', number: '123456785' },
  MCO: { type: 'NIT', number: '8001972684' },
  MPE: { type: 'RUC', number: '20100070970' },
  MLU: { type: 'CI', number: '12345672' },
};

/** An order session as begin_checkout gives it for a store on `site` (whole units where the currency has no cents). */
function session(site: SiteId, discounted: boolean): OrderSession {
  const { currency, wholeUnits } = COUNTRIES[site];
  const [a, b] = wholeUnits ? [12990, 4500] : [129.9, 45.5];
  const subtotal = a * 2 + b;
  const discount = discounted ? (wholeUnits ? Math.round(subtotal / 10) : Math.round(subtotal * 10) / 100) : 0;
  return {
    id: '00000000-0000-4000-8000-000000000001',
    session_id: '00000000-0000-4000-8000-000000000002',
    token: `tok_${site}_${discounted ? 'coupon' : 'plain'}`,
    status: 'active',
    lines: [
      { variant_id: 'v-1', sku: 'TEE-M', title: 'Camiseta - M', unit_price: a, quantity: 2, line_total: a * 2 },
      { variant_id: 'v-2', sku: 'CAP', title: 'Gorra', unit_price: b, quantity: 1, line_total: b },
    ],
    item_count: 3,
    subtotal,
    discount,
    total: subtotal - discount,
    currency,
    coupon_code: discounted ? 'DIEZ' : null,
    payer: { email: 'comprador@example.com', name: 'Ana', identification: IDS[site] },
    shipping_address: { street_name: 'Rua Augusta', street_number: '100', zip_code: '01305-000', city: 'São Paulo' },
    preference_id: null,
    payment_id: null,
    expires_at: '2026-12-08T12:15:00Z',
    created_at: '2026-12-08T12:00:00Z',
    paid_at: null,
  };
}

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function siteSandbox(site: SiteId) {
  sandbox = await startSandbox({ siteId: site });
  const config = loadConfig({
    SUPABASE_URL: 'http://127.0.0.1:54321',
    CHECKOUT_DB_URL: 'postgres://unused',
    SUPABASE_SERVICE_ROLE_KEY: 'unused',
    JWT_SECRET: 'x'.repeat(32),
    MP_ACCESS_TOKEN: sandbox.accessToken,
    MP_WEBHOOK_SECRET: 'unused-secret',
    MP_API_BASE_URL: sandbox.url,
  });
  return { config, mp: createMercadoPago({ accessToken: sandbox.accessToken, baseUrl: sandbox.url, timeoutMs: 5_000 }) };
}

describe('the preference on each of the seven sites', () => {
  for (const site of SITE_IDS) {
    test(`${site} (${COUNTRIES[site].currency}): lines and a coupon, never refused`, async () => {
      const { config, mp } = await siteSandbox(site);
      for (const discounted of [false, true]) {
        const s = session(site, discounted);
        const created = await mp.createPreference(preferenceFor(s, config, NOW), s.token);
        // What MercadoPago would answer for it (GET /checkout/preferences/{id}).
        const res = await fetch(`${sandbox!.url}/checkout/preferences/${created.id}`, { headers: { authorization: `Bearer ${sandbox!.accessToken}` } });
        const stored = (await res.json()) as { site_id: string; items: { currency_id: string; unit_price: number; quantity: number }[] };
        expect(stored.site_id).toBe(site);
        expect(stored.items.map((i) => i.currency_id)).toEqual(stored.items.map(() => COUNTRIES[site].currency));
        expect(stored.items.reduce((sum, i) => sum + i.unit_price * i.quantity, 0)).toBeCloseTo(Number(s.total), 2);
      }
    });
  }

  test("a currency other than the site's is refused, as MercadoPago does", async () => {
    const { config, mp } = await siteSandbox('MLB');
    const s = { ...session('MLA', false), currency: 'ARS' };
    await expect(mp.createPreference(preferenceFor(s, config, NOW), s.token)).rejects.toSatisfy((e) => e instanceof MercadoPagoRejected && e.status === 400);
  });
});
