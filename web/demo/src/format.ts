/** Money and dates in the store's locale (Intl, through the library's formatters), and the Spanish texts for statuses. */
import { COUNTRIES, formatDateTime, formatMoney, formatTime, type SiteId } from '../../src/index.ts';
import { setDemoLocale, t, tIfKnown } from './i18n.ts';

let locale = 'es-AR';
let site: SiteId = 'MLA';

/** The store's country and locale (from /env.js), set once at start. */
export function setStore(siteId: SiteId, l: string): void {
  site = siteId;
  locale = l;
  setDemoLocale(l);
  document.documentElement.lang = l;
}

/** The payer's identification types of the store's country, the usual one first. */
export const identificationTypes = (): readonly string[] => COUNTRIES[site].identificationTypes;
const storeCurrency = () => COUNTRIES[site].currency;

export const money = (amount: number | string, currency: string | null | undefined): string => formatMoney(amount, currency ?? storeCurrency(), locale);

export function date(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : formatDateTime(d, locale);
}

/** A payment's deadline: the day in full and the time (24 h), in the store's locale. */
export const deadline = (iso: string): string => formatDateTime(iso, locale, { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23' });

/** Hours and minutes (24 h) in the store's locale. */
export const time = (iso: string): string => formatTime(iso, locale);

const ATTRIBUTE_LABELS: Record<string, () => string> = { color: () => t('attr_color'), talle: () => t('attr_size'), size: () => t('attr_size') };
export function attributeText(attributes: Record<string, unknown>): string {
  return Object.entries(attributes)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${ATTRIBUTE_LABELS[k]?.() ?? k}: ${String(v)}`)
    .join(' · ');
}

export function stockText(available: number): string {
  if (available <= 0) return t('outOfStock');
  if (available === 1) return t('stockOne');
  if (available <= 3) return t('stockFew', { n: available });
  return t('stockMany', { n: available });
}

export function units(n: number): string {
  return n === 1 ? t('unitOne') : t('unitsN', { n });
}

/** An order's status in the store's catalog (the raw status when unknown). */
export function orderStatus(status: string): string {
  const known = ['paid', 'in_mediation', 'refunded', 'charged_back'] as const;
  const s = known.find((k) => k === status);
  return s ? t(`status_${s}`) : status;
}

/** MercadoPago's status_detail for a rejection, as a shopper would read it (undefined when the catalogs do not know it). */
export const rejectionDetail = (statusDetail: string | null | undefined): string | undefined => tIfKnown(`rej_${statusDetail ?? ''}`);
