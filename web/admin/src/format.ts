/** Formatting in the store's locale (Intl, the library's formatters) and the dashboard's words for statuses and errors. */
import { formatDateTime, formatInteger, formatMoney, formatPercent } from '../../../edge/_shared/i18n/format.ts';
import { ApiError, type Money } from './api.ts';

let locale = 'es-AR';

/** The store's locale (from /env.js), set once at start. */
export function setLocale(l: string): void {
  locale = l;
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

export const ORDER_STATUS: Record<string, string> = {
  paid: 'Pagado',
  in_mediation: 'En mediación',
  partially_refunded: 'Reembolsado en parte',
  refunded: 'Reembolsado',
  charged_back: 'Contracargo',
};

export const SESSION_OUTCOME: Record<string, string> = {
  active: 'En curso',
  paid: 'Pagadas',
  expired: 'Vencidas',
  cancelled: 'Canceladas',
  refund_owed: 'Reembolso pendiente',
  refunded: 'Reembolsadas',
};

export const REFUND_REASON: Record<string, string> = {
  out_of_stock: 'Pagó sin stock',
  amount_mismatch: 'Monto distinto',
  duplicate_payment: 'Pago duplicado',
  coupon_used_up: 'Cupón agotado',
  fraud_alert: 'Alerta de fraude',
  unpaired_part: 'Pago con 2 tarjetas incompleto',
};

export const AUDIT_INVARIANT: Record<string, string> = {
  reserved_counter_mismatch: 'El contador de reservas no coincide',
  stock_below_zero: 'Stock por debajo de lo reservado o de cero',
  approved_payment_unsettled: 'Pago aprobado sin pedido ni reembolso',
  order_without_approved_payment: 'Pedido sin pago aprobado',
  two_orders_one_checkout: 'Dos pedidos de una misma compra',
  paid_session_without_order: 'Compra pagada sin pedido',
  closed_session_holds_stock: 'Compra cerrada que retiene stock',
  refund_owed_over_1h: 'Reembolso pendiente hace más de una hora',
  fraud_alert_not_acted: 'Alerta de fraude sin atender (pedido enviable o sin reembolso)',
  dispute_without_payment: 'Disputa de un pago desconocido',
  notification_unprocessed_over_1h: 'Aviso de MercadoPago sin procesar hace más de una hora',
  order_parts_mismatch: 'Los pagos del pedido no suman su total',
  payment_in_order_and_refunded: 'Pago en un pedido y también reembolsado',
  refund_exceeds_payment: 'Reembolso mayor que el pago',
};

/** The payer's consent to cart reminders, in a sentence for the store owner. */
export function consentText(c: { state: string; source: string | null; consent_updated_at: string | null } | null): string {
  if (!c || c.state === 'not_subscribed') return 'No aceptó recordatorios: no se le envían.';
  const when = c.consent_updated_at ? ` el ${dateTime(c.consent_updated_at)}` : '';
  if (c.state === 'unsubscribed') return `Se dio de baja${when}: no se le envían recordatorios.`;
  if (c.state === 'pending') return `Marcó la casilla en el checkout${when}; falta que confirme desde el correo.`;
  if (c.source === 'account') return `Email de su cuenta, confirmado${when}: recibe recordatorios.`;
  return `Confirmó la suscripción desde el correo${when} (doble opt-in): recibe recordatorios.`;
}

export const PAYMENT_STATUS: Record<string, string> = {
  approved: 'Aprobado',
  pending: 'Pendiente',
  authorized: 'Autorizado',
  in_process: 'En proceso',
  in_mediation: 'En mediación',
  rejected: 'Rechazado',
  cancelled: 'Cancelado',
  refunded: 'Reembolsado',
  charged_back: 'Contracargo',
};

export const EVENT_KIND: Record<string, string> = {
  created: 'Compra iniciada',
  reserved: 'Stock reservado',
  preference_attached: 'Preferencia de MercadoPago creada',
  payment_seen: 'Pago recibido',
  committed: 'Pedido creado',
  expired: 'Reserva vencida',
  cancelled: 'Cancelada',
  amount_mismatch: 'Monto distinto',
  refund_owed: 'Reembolso pendiente',
  refunded: 'Reembolsado',
  order_status_changed: 'Cambio de estado del pedido',
};

/** What to tell the store owner about a failed call. */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return 'Ocurrió un error inesperado. Probá de nuevo.';
  const d = err.details;
  switch (err.code) {
    case 'forbidden':
      return 'Solo el personal de la tienda puede ver y usar el panel.';
    case 'unauthenticated':
      return 'Tu sesión venció. Volvé a ingresar.';
    case 'stock_reserved':
      return `No se puede: ${integer(Number(d.reserved))} unidad(es) están reservadas por ${
        integer(Number(d.reserving_sessions))
      } compra(s) en curso. Como mínimo podés ajustar ${integer(Number(d.minimum_delta))}.`;
    case 'invalid_input':
      if (d.field === 'delta' && d.minimum_delta !== undefined) {
        return `El stock no puede quedar por debajo de cero (hay ${integer(Number(d.on_hand))}).`;
      }
      return 'Los datos no son válidos.';
    case 'validation_failed': {
      const issues = (d.issues as { path: string }[] | undefined) ?? [];
      const fields = new Set(issues.map((i) => i.path));
      if (fields.has('delta')) return 'La cantidad tiene que ser un número entero de unidades, distinto de cero.';
      if (fields.has('reason')) return 'Escribí un motivo (3 caracteres o más).';
      if (fields.has('variant_id')) return 'Elegí una variante.';
      return 'Los datos no son válidos.';
    }
    case 'not_found':
      return 'No existe.';
    case 'conflict':
      return 'Ya estaba hecho.';
    case 'refund_refused':
      return 'MercadoPago rechazó el reembolso; sigue pendiente.';
    case 'payment_provider_unavailable':
      return 'MercadoPago no responde; el reembolso sigue pendiente. Probá más tarde.';
    case 'network':
      return 'No hay conexión con el servidor.';
    case 'invalid_file_type':
      return `${String(d.file ?? 'El archivo')}: MercadoPago solo acepta archivos .jpg, .png o .pdf.`;
    case 'payload_too_large':
      return 'Los archivos no pueden superar 10 MB en total.';
    case 'evidence_refused':
      return d.mp_error === 'documentation_deadline_expired'
        ? 'Venció el plazo para enviar documentación de este contracargo.'
        : `MercadoPago rechazó la documentación (${String(d.mp_error ?? err.message)}).`;
    default:
      return 'Ocurrió un error inesperado. Probá de nuevo.';
  }
}
