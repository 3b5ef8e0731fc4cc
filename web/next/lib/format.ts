/** Money, dates and stock in the store's locale and time zone (lib/env.ts), on the server (the pages are rendered there). */
import { COUNTRIES, formatDateTime, formatMoney } from '@mp-checkout/storefront';
import { storeLocale } from './env';
import { statusText, textsFor } from './i18n';

/** The store's texts (its locale's catalog), for server code. */
export const t = (...args: Parameters<ReturnType<typeof textsFor>>): string => textsFor(storeLocale().locale)(...args);

export function money(amount: number | string, currency: string | null | undefined): string {
  const { locale, siteId } = storeLocale();
  return formatMoney(amount, currency ?? COUNTRIES[siteId].currency, locale);
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const { locale, timeZone } = storeLocale();
  return formatDateTime(d, locale, { dateStyle: 'medium', timeStyle: 'short', timeZone });
}

/** A payment's deadline, in full ("martes, 9 de diciembre de 2026, 18:30"), in the store's time zone. */
export function deadline(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const { locale, timeZone } = storeLocale();
  return formatDateTime(d, locale, { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23', timeZone });
}

export function availability(available: number): string {
  if (available <= 0) return t('outOfStock');
  return available === 1 ? t('stockOne') : t('stockN', { n: available });
}

/** An order's status in the store's language. */
export const orderStatus = (status: string): string => statusText(storeLocale().locale, status);

export function variantLabel(title: string, attributes: Record<string, unknown>): string {
  const attrs = Object.values(attributes).filter((v) => v !== null && v !== '').map(String);
  return attrs.length ? attrs.join(' · ') : title;
}
