/** The MercadoPago preference for an order session: pure mapping, no I/O. */
import type { OrderSession } from './checkout.ts';
import type { Config } from './config.ts';
import { type Catalogs, translator } from './i18n/format.ts';
import type { PreferenceRequest } from './mercadopago.ts';

/** The one item of a discounted order, as the buyer reads it on MercadoPago's page, in the store's locale. */
export const PREFERENCE_TEXTS: Catalogs<'discountedItem'> = {
  'es-AR': { discountedItem: '{store}: {count} producto(s), cupón {coupon}' },
  'es-MX': { discountedItem: '{store}: {count} producto(s), cupón {coupon}' },
  'pt-BR': { discountedItem: '{store}: {count} produto(s), cupom {coupon}' },
};

const money = (v: number | string) => Number(v);

/** MercadoPago's payment types paid after the checkout: they may hold the stock until their deadline. */
export const OFFLINE_PAYMENT_TYPES = ['ticket', 'atm', 'bank_transfer'] as const;

/** Whether the store offers any offline payment type at all (MP_EXCLUDED_PAYMENT_TYPES). */
export function offersOffline(config: Config): boolean {
  return OFFLINE_PAYMENT_TYPES.some((t) => !config.mp.excludedPaymentTypes.includes(t));
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The preference for an order session: items from the snapshot, expiring with
 * the reservation, the buyer sent back to `returnUrl` (default the project's).
 * With `offline` the offline methods the store offers stay in, payable for
 * MP_TICKET_EXPIRATION_DAYS (`date_of_expiration`); without, they are left out.
 * `locale` (the store's, private.settings.locale) writes a discounted order's item.
 */
export function preferenceFor(
  session: OrderSession,
  config: Config,
  now: Date,
  returnUrl = config.returnUrl,
  offline = true,
  locale = 'es-AR',
): PreferenceRequest {
  const excluded = offline ? config.mp.excludedPaymentTypes : [...new Set([...config.mp.excludedPaymentTypes, ...OFFLINE_PAYMENT_TYPES])];
  const payer = session.payer as PreferenceRequest['payer'];
  const items = Number(session.discount) > 0
    // MercadoPago items cannot be negative: a discounted order is one line at the total.
    ? [{
      id: session.token,
      title: translator(PREFERENCE_TEXTS, locale)('discountedItem', { store: config.storeName, count: session.item_count, coupon: session.coupon_code ?? '' })
        .trim(),
      quantity: 1,
      unit_price: money(session.total),
      currency_id: session.currency,
    }]
    : session.lines.map((l) => ({ id: l.sku, title: l.title, quantity: l.quantity, unit_price: money(l.unit_price), currency_id: session.currency }));
  const address = session.shipping_address as Record<string, string | undefined>;
  return {
    items,
    payer: { email: payer.email, name: payer.name, surname: payer.surname, phone: payer.phone, identification: payer.identification },
    back_urls: { success: returnUrl, pending: returnUrl, failure: returnUrl },
    auto_return: 'approved',
    notification_url: `${config.functionsUrl}/mercadopago-webhook`,
    external_reference: session.token,
    metadata: { order_session_id: session.id },
    expires: true,
    expiration_date_from: now.toISOString(),
    expiration_date_to: new Date(session.expires_at).toISOString(),
    payment_methods: {
      excluded_payment_types: excluded.map((id) => ({ id })),
      ...(config.mp.maxInstallments ? { installments: config.mp.maxInstallments } : {}),
    },
    ...(offline && offersOffline(config) ? { date_of_expiration: new Date(now.getTime() + config.mp.ticketExpirationDays * DAY_MS).toISOString() } : {}),
    statement_descriptor: config.mp.statementDescriptor,
    shipments: {
      receiver_address: Object.fromEntries(
        Object.entries({
          street_name: address.street_name,
          street_number: address.street_number,
          zip_code: address.zip_code,
          city_name: address.city,
          state_name: address.state,
          floor: address.floor,
          apartment: address.apartment,
        }).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
        ),
      ),
    },
  };
}
