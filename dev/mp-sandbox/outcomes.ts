/**
 * MercadoPago's test convention: the cardholder name forces the result.
 * Source: MercadoPago developers, "Test cards" and "Payment creation results"
 * (status / status_detail table).
 */
import { offlineMethods } from './sites.ts';
import type { PaymentStatus, PaymentTypeId } from './types.ts';

export { OFFLINE_TYPES } from './offline.ts';

export interface Outcome {
  status: PaymentStatus;
  statusDetail: string;
  /** Spanish text shown on the checkout page. */
  label: string;
}

export const TEST_CARDHOLDERS: Record<string, Outcome> = {
  APRO: { status: 'approved', statusDetail: 'accredited', label: 'Pago aprobado' },
  CONT: { status: 'in_process', statusDetail: 'pending_contingency', label: 'Pago pendiente' },
  OTHE: { status: 'rejected', statusDetail: 'cc_rejected_other_reason', label: 'Rechazado por error general' },
  CALL: { status: 'rejected', statusDetail: 'cc_rejected_call_for_authorize', label: 'Rechazado con validación para autorizar' },
  FUND: { status: 'rejected', statusDetail: 'cc_rejected_insufficient_amount', label: 'Rechazado por importe insuficiente' },
  SECU: { status: 'rejected', statusDetail: 'cc_rejected_bad_filled_security_code', label: 'Rechazado por código de seguridad inválido' },
  EXPI: { status: 'rejected', statusDetail: 'cc_rejected_bad_filled_date', label: 'Rechazado por problema con la fecha de vencimiento' },
  FORM: { status: 'rejected', statusDetail: 'cc_rejected_bad_filled_other', label: 'Rechazado por error en formulario' },
  CARD: { status: 'rejected', statusDetail: 'cc_rejected_bad_filled_card_number', label: 'Rechazado por falta de card_number' },
  INST: { status: 'rejected', statusDetail: 'cc_rejected_invalid_installments', label: 'Rechazado por cuotas inválidas' },
  DUPL: { status: 'rejected', statusDetail: 'cc_rejected_duplicated_payment', label: 'Rechazado por pago duplicado' },
  LOCK: { status: 'rejected', statusDetail: 'cc_rejected_card_disabled', label: 'Rechazado por tarjeta deshabilitada' },
  CTNA: { status: 'rejected', statusDetail: 'cc_rejected_card_type_not_allowed', label: 'Rechazado por tipo de tarjeta no permitida' },
  ATTE: { status: 'rejected', statusDetail: 'cc_rejected_max_attempts', label: 'Rechazado por superar intentos de PIN' },
  BLAC: { status: 'rejected', statusDetail: 'cc_rejected_blacklist', label: 'Rechazado por estar en lista negra' },
};

/** The first word of the cardholder name decides ("APRO", "apro", "APRO Perez"). */
export function outcomeForName(name: string): Outcome | undefined {
  const first = name.trim().split(/\s+/)[0]?.toUpperCase() ?? '';
  return TEST_CARDHOLDERS[first];
}

/** Cash and transfer payments wait for the buyer to pay elsewhere, whatever the name. */
export function offlineOutcome(type: PaymentTypeId): Outcome {
  return type === 'bank_transfer'
    ? { status: 'pending', statusDetail: 'pending_waiting_transfer', label: 'Esperando la transferencia' }
    : { status: 'pending', statusDetail: 'pending_waiting_payment', label: 'Esperando el pago en efectivo' };
}

/** Payment types the checkout page offers, in display order, with a method per site. */
export const OFFERED_TYPES: readonly PaymentTypeId[] = [
  'credit_card',
  'debit_card',
  'account_money',
  'ticket',
  'atm',
  'bank_transfer',
];

export const TYPE_LABELS: Record<string, string> = {
  credit_card: 'Tarjeta de crédito',
  debit_card: 'Tarjeta de débito',
  account_money: 'Dinero en cuenta de Mercado Pago',
  ticket: 'Efectivo (cupón de pago)',
  atm: 'Cajero automático / red bancaria',
  bank_transfer: 'Transferencia bancaria / Pix',
};

/** Names shown for MercadoPago's offline method ids. */
export const METHOD_LABELS: Record<string, string> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: 'Boleto bancário',
  pec: 'Pagamento na lotérica',
  pix: 'Pix',
  oxxo: 'OXXO',
  paycash: 'PayCash (7-Eleven y otras)',
  bancomer: 'BBVA Bancomer',
  banamex: 'Citibanamex',
  serfin: 'Santander',
  clabe: 'Transferencia SPEI',
  servipag: 'Servipag',
  khipu: 'Khipu',
  efecty: 'Efecty',
  pse: 'PSE',
  pagoefectivo_atm: 'PagoEfectivo',
  abitab: 'Abitab',
  redpagos: 'Redpagos',
};

/** The method a payment type uses when none is chosen; undefined when the site has none of that type. */
export function defaultMethod(type: PaymentTypeId, siteId: string): string | undefined {
  switch (type) {
    case 'credit_card':
      return 'master';
    case 'debit_card':
      return 'debmaster';
    case 'prepaid_card':
      return 'maestro';
    case 'account_money':
      return 'account_money';
    case 'ticket':
    case 'atm':
    case 'bank_transfer':
      return offlineMethods(type, siteId)[0];
    default:
      return type;
  }
}
