/** Money and dates in the store's locale (Intl, through the library's formatters), and the Spanish texts for statuses. */
import { COUNTRIES, formatDateTime, formatMoney, formatTime, type SiteId } from '../../src/index.ts';
import { setDemoLocale, t } from './i18n.ts';

let locale = 'es-AR';
let site: SiteId = 'MLA';

/** The store's country and locale (from /env.js), set once at start. */
export function setStore(siteId: SiteId, l: string): void {
  site = siteId;
  locale = l;
  setDemoLocale(l);
}

/** The payer's identification types of the store's country, the usual one first. */
export const identificationTypes = (): readonly string[] => COUNTRIES[site].identificationTypes;
const storeCurrency = () => COUNTRIES[site].currency;

export const money = (amount: number | string, currency: string | null | undefined): string => formatMoney(amount, currency ?? storeCurrency(), locale);

export function date(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : formatDateTime(d, locale);
}

/** Hours and minutes (24 h) in the store's locale. */
export const time = (iso: string): string => formatTime(iso, locale);

const ATTRIBUTE_LABELS: Record<string, string> = { color: 'Color', talle: 'Talle', size: 'Talle' };
export function attributeText(attributes: Record<string, unknown>): string {
  return Object.entries(attributes)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${ATTRIBUTE_LABELS[k] ?? k}: ${String(v)}`)
    .join(' · ');
}

export function stockText(available: number): string {
  if (available <= 0) return 'Sin stock';
  if (available === 1) return '¡Queda 1 unidad!';
  if (available <= 3) return `¡Quedan ${available} unidades!`;
  return `${available} disponibles`;
}

export function units(n: number): string {
  return n === 1 ? '1 unidad' : `${n} unidades`;
}

/** An order's status in the store's catalog (the raw status when unknown). */
export function orderStatus(status: string): string {
  const known = ['paid', 'in_mediation', 'refunded', 'charged_back'] as const;
  const s = known.find((k) => k === status);
  return s ? t(`status_${s}`) : status;
}

/** MercadoPago's status_detail for rejections, as a shopper would read it. */
export const REJECTION_DETAIL: Record<string, string> = {
  cc_rejected_other_reason: 'La tarjeta rechazó el pago.',
  cc_rejected_call_for_authorize: 'Tenés que autorizar el pago con el banco emisor de la tarjeta.',
  cc_rejected_insufficient_amount: 'La tarjeta no tiene fondos suficientes.',
  cc_rejected_bad_filled_security_code: 'El código de seguridad es incorrecto.',
  cc_rejected_bad_filled_date: 'La fecha de vencimiento es incorrecta.',
  cc_rejected_bad_filled_other: 'Revisá los datos de la tarjeta.',
  cc_rejected_bad_filled_card_number: 'Revisá el número de la tarjeta.',
  cc_rejected_invalid_installments: 'La tarjeta no acepta esa cantidad de cuotas.',
  cc_rejected_duplicated_payment: 'Ya hiciste un pago por ese monto.',
  cc_rejected_card_disabled: 'La tarjeta está deshabilitada.',
  cc_rejected_max_attempts: 'Llegaste al límite de intentos.',
  cc_rejected_blacklist: 'No pudimos procesar el pago.',
};
