/** Formatting in the store's locale (Intl, the library's formatters) and the dashboard's words for statuses and errors (from its catalogs, i18n/). */
import { formatDateTime, formatInteger, formatMoney, formatPercent } from '../../../edge/_shared/i18n/format.ts';
import { ApiError, type Money } from './api.ts';
import { label, setAdminLocale, t } from './i18n/index.ts';

let locale = 'es-AR';

/** The store's locale (from /env.js), set once at start. */
export function setLocale(l: string): void {
  locale = l;
  setAdminLocale(l);
  document.documentElement.lang = l;
}

export function money(amount: number | string | null | undefined, currency = 'ARS'): string {
  if (amount === null || amount === undefined) return '—';
  return formatMoney(amount, currency, locale);
}

/** {ARS: 1200, USD: 3} as "$ 1.200,00 · US$ 3,00"; a dash when empty. */
export function moneyByCurrency(m: Money | undefined): string {
  const entries = Object.entries(m ?? {});
  return entries.length ? entries.map(([c, a]) => money(a, c)).join(' · ') : money(0);
}

export const integer = (n: number | null | undefined) => formatInteger(n ?? 0, locale);

export const percent = (r: number | null | undefined) => r === null || r === undefined ? '—' : formatPercent(r, locale);

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return formatDateTime(iso, locale, { dateStyle: 'short', timeStyle: 'medium' });
}

/** A calendar day (YYYY-MM-DD) as day and month in the store's locale. */
export function day(isoDate: string): string {
  return formatDateTime(`${isoDate}T12:00:00Z`, locale, { day: '2-digit', month: '2-digit', timeZone: 'UTC' });
}

/** A time of day (24 h, seconds) in the store's locale. */
export const clock = (at: Date): string => formatDateTime(at, locale, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

/** The server's values (statuses, reasons, invariants, events) in the store's catalog; an unknown one as sent. */
export const orderStatus = (s: string) => label('order_', s);
export const paymentStatus = (s: string) => label('pay_', s);
export const refundReason = (r: string) => label('reason_', r);
export const auditInvariant = (i: string) => label('inv_', i);
export const eventKind = (k: string) => label('event_', k);
/** The checkouts' outcomes, in the order the overview's chart draws them. */
export const SESSION_OUTCOMES = ['active', 'paid', 'expired', 'cancelled', 'refund_owed', 'refunded'] as const;
export const sessionOutcome = (k: string) => label('outcome_', k);

/** The payer's consent to cart reminders, in a sentence for the store owner. */
export function consentText(c: { state: string; source: string | null; consent_updated_at: string | null } | null): string {
  if (!c || c.state === 'not_subscribed') return t('consent_none');
  const when = c.consent_updated_at ? t('consent_on', { date: dateTime(c.consent_updated_at) }) : '';
  if (c.state === 'unsubscribed') return t('consent_unsubscribed', { when });
  if (c.state === 'pending') return t('consent_pending', { when });
  if (c.source === 'account') return t('consent_account', { when });
  return t('consent_confirmed', { when });
}

/** What to tell the store owner about a failed call (`currency`: the order's, for refund amounts). */
export function describeError(err: unknown, currency?: string): string {
  if (!(err instanceof ApiError)) return t('err_unexpected');
  const d = err.details;
  switch (err.code) {
    case 'forbidden':
      return t('err_forbidden');
    case 'unauthenticated':
      return t('err_unauthenticated');
    case 'stock_reserved':
      return t('err_stock_reserved', {
        reserved: integer(Number(d.reserved)),
        sessions: integer(Number(d.reserving_sessions)),
        minimum: integer(Number(d.minimum_delta)),
      });
    case 'invalid_input':
      if (d.field === 'delta' && d.minimum_delta !== undefined) return t('err_below_zero', { on_hand: integer(Number(d.on_hand)) });
      return t('err_invalid');
    case 'validation_failed': {
      const issues = (d.issues as { path: string }[] | undefined) ?? [];
      const fields = new Set(issues.map((i) => i.path));
      if (fields.has('delta')) return t('err_delta');
      if (fields.has('reason')) return t('err_reason');
      if (fields.has('variant_id')) return t('err_variant');
      return t('err_invalid');
    }
    case 'fractional_amount':
      return t('err_whole_units');
    case 'not_found':
      return t('err_not_found');
    case 'conflict':
      return d.refundable === undefined ? t('err_conflict') : t('err_over_refund', { amount: money(d.refundable as number | string, currency) });
    case 'refund_refused':
      return t('err_refund_refused');
    case 'payment_provider_unavailable':
      return t('err_mp_unavailable');
    case 'network':
      return t('err_network');
    case 'invalid_file_type':
      return t('err_file_type', { file: String(d.file ?? t('err_theFile')) });
    case 'payload_too_large':
      return t('err_too_large');
    case 'evidence_refused':
      return d.mp_error === 'documentation_deadline_expired' ? t('err_deadline') : t('err_evidence_refused', { error: String(d.mp_error ?? err.message) });
    default:
      return t('err_unexpected');
  }
}
