/**
 * What one payment attempt on a preference will be, decided before anything
 * is stored: payment type and method (as the site offers them, minus what the
 * preference excludes), the amount (the whole total, or one card's part),
 * installments and the outcome (test cardholder name, or pending for cash).
 */
import { badRequest } from './errors.ts';
import { OFFLINE_TYPES } from './offline.ts';
import { defaultMethod, offlineOutcome, type Outcome, outcomeForName } from './outcomes.ts';
import { preferenceTotal } from './preferences.ts';
import { offlineMethods, roundMoney, site, SITES, typeOfMethod } from './sites.ts';
import type { PaymentStatus, PaymentTypeId, PayOptions, PreferenceRecord } from './types.ts';
import { isPaymentStatus, isPaymentType } from './types.ts';

export const DEFAULT_DETAIL: Record<PaymentStatus, string> = {
  pending: 'pending_waiting_payment',
  approved: 'accredited',
  authorized: 'pending_capture',
  in_process: 'pending_contingency',
  in_mediation: 'in_process',
  rejected: 'cc_rejected_other_reason',
  cancelled: 'by_collector',
  refunded: 'refunded',
  charged_back: 'settled',
};

/** Every site's cash, ATM and transfer methods. */
const OFFLINE_METHODS = new Set(Object.values(SITES).flatMap((s) => [...s.ticket, ...s.atm, ...s.bank_transfer]));

export interface Attempt {
  type: PaymentTypeId;
  method: string;
  amount: number;
  installments: number;
  outcome: Outcome;
}

/** Most installments the page offers: the preference's limit, within the site's. */
export function maxInstallments(pref: PreferenceRecord): number {
  const siteMax = site(pref.siteId).maxInstallments;
  return Math.min(pref.installments ?? siteMax, siteMax);
}

/** Whether an offline payment can still be generated (the preference's date_of_expiration not past). */
export const offlineOpen = (pref: PreferenceRecord, now: number): boolean => pref.dateOfExpiration === null || Date.parse(pref.dateOfExpiration) > now;

function outcome(type: PaymentTypeId, options: PayOptions): Outcome {
  if (options.status !== undefined) {
    if (!isPaymentStatus(options.status)) throw badRequest('invalid_status', `status ${options.status} invalid.`);
    if (!['approved', 'pending', 'in_process', 'rejected', 'authorized'].includes(options.status)) {
      throw badRequest('invalid_status', `a new payment cannot start as ${options.status}.`);
    }
    return { status: options.status, statusDetail: options.statusDetail ?? DEFAULT_DETAIL[options.status], label: options.status };
  }
  if (OFFLINE_TYPES.has(type)) return offlineOutcome(type);
  const name = options.cardholderName ?? '';
  if (name.trim() === '') throw badRequest('invalid_cardholder_name', 'cardholder name needed');
  const result = outcomeForName(name);
  if (result === undefined) {
    throw badRequest(
      'invalid_cardholder_name',
      `cardholder name "${name}" is not a MercadoPago test name (APRO, CONT, OTHE, CALL, FUND, SECU, EXPI, FORM, ...)`,
    );
  }
  return result;
}

export function decideAttempt(pref: PreferenceRecord, options: PayOptions, now: number): Attempt {
  const chosenMethod = options.paymentMethodId;
  const type = options.paymentTypeId ?? (chosenMethod === undefined ? undefined : typeOfMethod(chosenMethod, pref.siteId)) ?? 'credit_card';
  if (!isPaymentType(type)) throw badRequest('invalid_payment_type_id', `payment_type_id ${type} invalid.`);
  if (pref.excludedPaymentTypes.includes(type)) {
    throw badRequest('payment_type_excluded', `payment_type_id ${type} is excluded by the preference.`);
  }
  if (chosenMethod !== undefined && !OFFLINE_TYPES.has(type) && OFFLINE_METHODS.has(chosenMethod)) {
    throw badRequest('invalid_payment_method_id', `payment_method_id ${chosenMethod} is not available on site ${pref.siteId}.`);
  }
  const method = chosenMethod ?? defaultMethod(type, pref.siteId);
  if (method === undefined || (OFFLINE_TYPES.has(type) && !offlineMethods(type, pref.siteId).includes(method))) {
    throw badRequest('invalid_payment_method_id', `payment_method_id ${method ?? '(none)'} is not a ${type} method of site ${pref.siteId}.`);
  }
  if (pref.excludedPaymentMethods.includes(method)) {
    throw badRequest('payment_method_excluded', `payment_method_id ${method} is excluded by the preference.`);
  }
  if (OFFLINE_TYPES.has(type) && !offlineOpen(pref, now)) {
    throw badRequest('invalid_date', 'The preference date_of_expiration has passed: cash and transfer payments are closed.');
  }

  const total = preferenceTotal(pref);
  const amount = options.amount ?? total;
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount <= 0 || amount > total || roundMoney(amount, pref.siteId) !== amount) {
    throw badRequest(
      'invalid_transaction_amount',
      `transaction_amount invalid. Between 0 and ${total}, ${site(pref.siteId).wholeUnits ? 'in whole units' : 'with at most two decimals'}.`,
    );
  }
  const installments = options.installments ?? 1;
  const max = type === 'credit_card' ? maxInstallments(pref) : 1;
  if (!Number.isInteger(installments) || installments < 1 || installments > max) {
    throw badRequest('invalid_installments', `installments invalid. Between 1 and ${max} for ${type}.`);
  }
  return { type, method, amount, installments, outcome: outcome(type, options) };
}
