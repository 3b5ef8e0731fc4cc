/**
 * The seven countries MercadoPago sells in, written once: the account's site,
 * its currency, whether that currency has cents, the locale money and dates
 * are formatted in, the message catalog the texts come from, and the payer's
 * identification types (identification.ts checks their numbers).
 *
 * The store's country is one setting in the database
 * (`private.settings.site_id`, docs/configuration.md); the routines read it
 * through `checkout.store_country()`. Plain TypeScript, no runtime-specific
 * import: the Edge Functions, the storefront library (web/src) and the tests
 * import it alike.
 */

/** An identification type MercadoPago accepts for a payer (`payer.identification.type`). */
export type IdentificationType = 'DNI' | 'CUIT' | 'CPF' | 'CNPJ' | 'RFC' | 'RUT' | 'CC' | 'NIT' | 'RUC' | 'CI';

/** The three catalogs the texts are written in; the other Spanish-speaking countries read the nearest. */
export type CatalogLocale = 'es-AR' | 'es-MX' | 'pt-BR';

export interface Country {
  /** ISO 3166-1 alpha-2. */
  code: string;
  /** MercadoPago's site id: an account belongs to one. */
  site: string;
  /** The one currency a preference on this site may use. */
  currency: string;
  /** MercadoPago refuses cents in this currency (CLP has none; COP's are not accepted). */
  wholeUnits: boolean;
  /** The locale money and dates are formatted in (Intl). */
  locale: string;
  /** The payer's identification types, the usual one first. */
  identificationTypes: readonly IdentificationType[];
}

export const COUNTRIES = {
  MLA: { code: 'AR', site: 'MLA', currency: 'ARS', wholeUnits: false, locale: 'es-AR', identificationTypes: ['DNI', 'CUIT'] },
  MLB: { code: 'BR', site: 'MLB', currency: 'BRL', wholeUnits: false, locale: 'pt-BR', identificationTypes: ['CPF', 'CNPJ'] },
  MLM: { code: 'MX', site: 'MLM', currency: 'MXN', wholeUnits: false, locale: 'es-MX', identificationTypes: ['RFC'] },
  MLC: { code: 'CL', site: 'MLC', currency: 'CLP', wholeUnits: true, locale: 'es-CL', identificationTypes: ['RUT'] },
  MCO: { code: 'CO', site: 'MCO', currency: 'COP', wholeUnits: true, locale: 'es-CO', identificationTypes: ['CC', 'NIT'] },
  MPE: { code: 'PE', site: 'MPE', currency: 'PEN', wholeUnits: false, locale: 'es-PE', identificationTypes: ['DNI', 'RUC'] },
  MLU: { code: 'UY', site: 'MLU', currency: 'UYU', wholeUnits: false, locale: 'es-UY', identificationTypes: ['CI'] },
} as const satisfies Record<string, Country>;

export type SiteId = keyof typeof COUNTRIES;
export const SITE_IDS = Object.keys(COUNTRIES) as SiteId[];

/** The country of a site id, a country code (BR) or a currency (BRL); undefined when none. */
export function countryOf(key: string): Country | undefined {
  const k = key.toUpperCase();
  return (Object.values(COUNTRIES) as Country[]).find((c) => c.site === k || c.code === k || c.currency === k);
}

/**
 * The catalog a locale's texts come from: Portuguese reads pt-BR; Argentina
 * and Uruguay (voseo) read es-AR; the other Spanish-speaking countries (tú)
 * read es-MX.
 */
export function catalogFor(locale: string): CatalogLocale {
  if (/^pt\b/i.test(locale)) return 'pt-BR';
  return /^es-(AR|UY)$/i.test(locale) ? 'es-AR' : 'es-MX';
}

/** The store's country as `checkout.store_country()` answers it. */
export interface StoreCountry {
  site_id: SiteId;
  currency: string;
  locale: string;
}

/** The country of the store's settings (the site decides; the locale may differ, e.g. es-AR texts in Uruguay). */
export function storeCountry(s: StoreCountry): Country {
  return { ...COUNTRIES[s.site_id], locale: s.locale };
}
