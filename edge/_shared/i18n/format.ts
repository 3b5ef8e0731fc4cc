/**
 * Money, numbers and dates in a locale, through Intl only (no hand-rolled
 * separators), and the message catalogs' lookup. Plain TypeScript: the Edge
 * Functions (emails), the storefront demo and the dashboard import it alike.
 *
 * A catalog is an object of strings with `{name}` placeholders; every
 * catalog of a family has the same keys (tests/contract/i18n.test.ts).
 */
import { catalogFor, type CatalogLocale } from '../country.ts';

const numberFormats = new Map<string, Intl.NumberFormat>();

function numberFormat(locale: string, options: Intl.NumberFormatOptions): Intl.NumberFormat {
  const key = `${locale}|${JSON.stringify(options)}`;
  let f = numberFormats.get(key);
  if (!f) numberFormats.set(key, f = new Intl.NumberFormat(locale, options));
  return f;
}

/** An amount in its currency, as the locale writes it (CLP and COP without cents: Intl knows). */
export const formatMoney = (amount: number | string, currency: string, locale: string): string =>
  numberFormat(locale, { style: 'currency', currency }).format(Number(amount));

/** A count, with the locale's grouping. */
export const formatInteger = (n: number, locale: string): string => numberFormat(locale, { maximumFractionDigits: 0 }).format(n);

/** A ratio as a percentage (one decimal at most). */
export const formatPercent = (ratio: number, locale: string): string => numberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(ratio);

/** A date and time (an ISO string or a Date) as the locale writes it, in `timeZone` when given. */
export function formatDateTime(at: string | Date, locale: string, options: Intl.DateTimeFormatOptions = { dateStyle: 'medium', timeStyle: 'short' }): string {
  return new Intl.DateTimeFormat(locale, options).format(typeof at === 'string' ? new Date(at) : at);
}

/** Hours and minutes, 24-hour clock. */
export const formatTime = (at: string | Date, locale: string): string => formatDateTime(at, locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** A family of catalogs: one per catalog locale, the same keys in each. */
export type Catalogs<K extends string> = Record<CatalogLocale, Record<K, string>>;

/** `template` with each `{name}` replaced by `params[name]` (an unknown placeholder stays as written). */
export function fill(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** A translator for `locale` over `catalogs` (the nearest catalog: catalogFor). */
export function translator<K extends string>(catalogs: Catalogs<K>, locale: string) {
  const catalog = catalogs[catalogFor(locale)];
  return (key: K, params?: Record<string, string | number>): string => fill(catalog[key], params);
}
