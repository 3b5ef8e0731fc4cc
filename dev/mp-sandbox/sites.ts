/**
 * The seven MercadoPago sites the sandbox emulates: currency, whole-unit
 * currencies, the cash / ATM / transfer methods each site offers (MercadoPago's
 * own `payment_method_id` values), installments and the sandbox's fixed,
 * documented price table (interest per installment, MercadoPago's fee).
 *
 * The rates are the sandbox's, not MercadoPago's (which vary by seller, plan
 * and release schedule): they only need to be deterministic so tests can
 * predict `total_paid_amount`, `fee_details` and `net_received_amount`.
 */
import type { PaymentTypeId } from './types.ts';

export interface Site {
  currency: string;
  /** Whole units only (CLP, COP): MercadoPago refuses decimal prices there. */
  wholeUnits: boolean;
  /** Offline methods per payment type, first one the default. */
  ticket: readonly string[];
  atm: readonly string[];
  bank_transfer: readonly string[];
  /** Most installments a card offers on this site. */
  maxInstallments: number;
  /** Interest per installment (n >= 2): total = price x (1 + rate x n). */
  installmentRate: number;
  /** MercadoPago's fee on an approved payment, charged to the collector. */
  feeRate: number;
}

export const SITES: Readonly<Record<string, Site>> = {
  MLA: {
    currency: 'ARS',
    wholeUnits: false,
    ticket: ['rapipago', 'pagofacil'],
    atm: ['redlink'],
    bank_transfer: [],
    maxInstallments: 12,
    installmentRate: 0.05,
    feeRate: 0.0629,
  },
  MLB: {
    currency: 'BRL',
    wholeUnits: false,
    ticket: ['bolbradesco', 'pec'],
    atm: [],
    bank_transfer: ['pix'],
    maxInstallments: 12,
    installmentRate: 0.0299,
    feeRate: 0.0499,
  },
  MLM: {
    currency: 'MXN',
    wholeUnits: false,
    ticket: ['oxxo', 'paycash'],
    atm: ['bancomer', 'banamex', 'serfin'],
    bank_transfer: ['clabe'],
    maxInstallments: 12,
    installmentRate: 0.035,
    feeRate: 0.0349,
  },
  MLC: {
    currency: 'CLP',
    wholeUnits: true,
    ticket: ['servipag'],
    atm: [],
    bank_transfer: ['khipu'],
    maxInstallments: 12,
    installmentRate: 0.025,
    feeRate: 0.0319,
  },
  MCO: { currency: 'COP', wholeUnits: true, ticket: ['efecty'], atm: [], bank_transfer: ['pse'], maxInstallments: 36, installmentRate: 0.022, feeRate: 0.0329 },
  MPE: {
    currency: 'PEN',
    wholeUnits: false,
    ticket: [],
    atm: ['pagoefectivo_atm'],
    bank_transfer: [],
    maxInstallments: 12,
    installmentRate: 0.03,
    feeRate: 0.0399,
  },
  MLU: {
    currency: 'UYU',
    wholeUnits: false,
    ticket: ['abitab', 'redpagos'],
    atm: [],
    bank_transfer: [],
    maxInstallments: 12,
    installmentRate: 0.025,
    feeRate: 0.0469,
  },
};

export const SITE_IDS = Object.keys(SITES);

/** Site of each currency; a collector account belongs to one site. */
export const SITE_BY_CURRENCY: Record<string, string> = Object.fromEntries(Object.entries(SITES).map(([id, s]) => [s.currency, id]));
export const CURRENCY_BY_SITE: Record<string, string> = Object.fromEntries(Object.entries(SITES).map(([id, s]) => [id, s.currency]));

export function site(siteId: string): Site {
  const s = SITES[siteId];
  if (s === undefined) throw new Error(`mp-sandbox: unknown site ${siteId}`);
  return s;
}

/** Rounds to the currency's unit: cents, or whole units for CLP and COP. */
export function roundMoney(amount: number, siteId: string): number {
  return site(siteId).wholeUnits ? Math.round(amount) : Math.round(amount * 100) / 100;
}

/** Offline methods of a type on a site (cards and account money have none here). */
export function offlineMethods(type: PaymentTypeId, siteId: string): readonly string[] {
  if (type === 'ticket' || type === 'atm' || type === 'bank_transfer') return site(siteId)[type];
  return [];
}

/** The type a known offline method belongs to on the site, if any. */
export function typeOfMethod(method: string, siteId: string): PaymentTypeId | undefined {
  const s = site(siteId);
  return (['ticket', 'atm', 'bank_transfer'] as const).find((t) => s[t].includes(method));
}

export interface Financing {
  installments: number;
  installmentAmount: number;
  totalPaid: number;
  /** What the buyer pays on top of the price (0 for one installment). */
  financingFee: number;
}

/** Installment plan of a price on a site, from the table above. */
export function financing(price: number, installments: number, siteId: string): Financing {
  if (installments <= 1) return { installments: 1, installmentAmount: price, totalPaid: price, financingFee: 0 };
  const rate = site(siteId).installmentRate;
  const installmentAmount = roundMoney((price * (1 + rate * installments)) / installments, siteId);
  const totalPaid = roundMoney(installmentAmount * installments, siteId);
  return { installments, installmentAmount, totalPaid, financingFee: roundMoney(totalPaid - price, siteId) };
}

/** MercadoPago's fee on an approved amount (the collector pays it). */
export const mercadopagoFee = (amount: number, siteId: string): number => roundMoney(amount * site(siteId).feeRate, siteId);
