/**
 * The payer's identification, per type, with its check digits where it has
 * them: one definition, used by create-preference's body schema and by the
 * storefront library (web/src) to check a form before sending it.
 *
 * Numbers may be written with the separators people type (dots, hyphens,
 * spaces, a slash in a CNPJ); `normalizeIdentification` strips them, and the
 * normalized number is what MercadoPago is sent.
 *
 * | type | country | rule |
 * | ---- | ------- | ---- |
 * | DNI  | AR, PE  | 7-8 digits (AR), 8 digits (PE); no check digit |
 * | CUIT | AR      | 11 digits, prefix 20/23/24/27/30/33/34, mod 11 (weights 5432765432) |
 * | CPF  | BR      | 11 digits, not all equal, two mod 11 check digits |
 * | CNPJ | BR      | 14 characters (digits, or letters in the first 12 since July 2026), two mod 11 check digits |
 * | RFC  | MX      | 12 (company) or 13 (person) characters, a real date, homoclave check digit (SAT, mod 11); the generic XAXX010101000 and XEXX010101000 |
 * | RUT  | CL      | 7-8 digits and a check digit 0-9 or K (mod 11, weights 2-7) |
 * | CC   | CO      | 5-10 digits; no check digit |
 * | NIT  | CO      | 5-15 digits and a check digit (DIAN's prime weights, mod 11) |
 * | RUC  | PE      | 11 digits, prefix 10/15/16/17/20, mod 11 (weights 5432765432) |
 * | CI   | UY      | 6-7 digits and a check digit (weights 2987634, mod 10) |
 */
import { COUNTRIES, type IdentificationType, type SiteId } from './country.ts';

const digits = (s: string) => Array.from(s, Number);
const weighted = (values: number[], weights: readonly number[]) => values.reduce((sum, v, i) => sum + v * weights[i]!, 0);

/** 11 - (sum mod 11), the rule CUIT and RUC share, before each maps 10 and 11. */
const mod11 = (body: string, weights: readonly number[]) => 11 - (weighted(digits(body), weights) % 11);

function cuit(n: string): boolean {
  if (!/^(20|23|24|27|30|33|34)\d{9}$/.test(n)) return false;
  const r = mod11(n.slice(0, 10), [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
  return (r === 11 ? 0 : r) === Number(n[10]);
}

function cpf(n: string): boolean {
  if (!/^\d{11}$/.test(n) || /^(\d)\1{10}$/.test(n)) return false;
  const d = digits(n);
  const check = (len: number) => ((weighted(d.slice(0, len), Array.from({ length: len }, (_, i) => len + 1 - i)) * 10) % 11) % 10;
  return check(9) === d[9] && check(10) === d[10];
}

/** CNPJ: the value of a character is its code minus 48 (digits 0-9, letters from 17), as the Receita Federal defines the alphanumeric CNPJ. */
function cnpj(n: string): boolean {
  if (!/^[0-9A-Z]{12}\d{2}$/.test(n) || /^(\d)\1{13}$/.test(n)) return false;
  const v = Array.from(n, (c) => c.charCodeAt(0) - 48);
  const check = (len: number) => {
    const weights = Array.from({ length: len }, (_, i) => ((len - 1 - i) % 8) + 2);
    const r = weighted(v.slice(0, len), weights) % 11;
    return r < 2 ? 0 : 11 - r;
  };
  return check(12) === v[12] && check(13) === v[13];
}

function rut(n: string): boolean {
  const m = /^(\d{7,8})([\dK])$/.exec(n);
  if (!m) return false;
  const body = digits(m[1]!).reverse();
  const r = 11 - (body.reduce((sum, d, i) => sum + d * ((i % 6) + 2), 0) % 11);
  return (r === 11 ? '0' : r === 10 ? 'K' : String(r)) === m[2];
}

const NIT_WEIGHTS = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];

function nit(n: string): boolean {
  if (!/^\d{6,16}$/.test(n)) return false;
  const body = digits(n.slice(0, -1)).reverse();
  const r = body.reduce((sum, d, i) => sum + d * NIT_WEIGHTS[i]!, 0) % 11;
  return (r > 1 ? 11 - r : r) === Number(n.at(-1));
}

function ruc(n: string): boolean {
  if (!/^(10|15|16|17|20)\d{9}$/.test(n)) return false;
  const r = mod11(n.slice(0, 10), [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]);
  return r % 10 === Number(n[10]);
}

function ci(n: string): boolean {
  if (!/^\d{7,8}$/.test(n)) return false;
  const body = digits(n.slice(0, -1).padStart(7, '0'));
  return (10 - (weighted(body, [2, 9, 8, 7, 6, 3, 4]) % 10)) % 10 === Number(n.at(-1));
}

/** The SAT's alphabet for the RFC's check digit. */
const RFC_ALPHABET = '0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ';

/** The SAT's generic RFCs: the general public and foreign buyers (their last digit is a fixed 0, not a check digit). */
const GENERIC_RFC = new Set(['XAXX010101000', 'XEXX010101000']);

function rfc(n: string): boolean {
  if (GENERIC_RFC.has(n)) return true;
  const m = /^([A-ZÑ&]{3,4})(\d{2})(\d{2})(\d{2})([A-Z\d]{2})([\dA])$/.exec(n);
  if (!m) return false;
  const [month, day] = [Number(m[3]), Number(m[4])];
  // Any year: the RFC writes two digits, so 29 February is allowed whatever the century.
  if (month < 1 || month > 12 || day < 1 || day > [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!) return false;
  const padded = n.padStart(13, ' ');
  const sum = Array.from(padded.slice(0, 12)).reduce((s, c, i) => s + RFC_ALPHABET.indexOf(c) * (13 - i), 0);
  const r = 11 - (sum % 11);
  return (r === 11 ? '0' : r === 10 ? 'A' : String(r)) === m[6];
}

/** What each type's number must be, and the message naming it when it is not. */
const RULES: Record<IdentificationType, { valid: (n: string) => boolean; message: string }> = {
  DNI: { valid: (n) => /^\d{7,8}$/.test(n), message: 'a DNI has 7 or 8 digits' },
  CUIT: { valid: cuit, message: 'not a valid CUIT (11 digits whose last is the check digit)' },
  CPF: { valid: cpf, message: 'not a valid CPF (11 digits whose last two are check digits)' },
  CNPJ: { valid: cnpj, message: 'not a valid CNPJ (14 characters whose last two are check digits)' },
  RFC: { valid: rfc, message: 'not a valid RFC (letters, a date YYMMDD and a homoclave whose last character is the check digit)' },
  RUT: { valid: rut, message: 'not a valid RUT (digits and a check digit 0-9 or K)' },
  CC: { valid: (n) => /^\d{5,10}$/.test(n), message: 'a cédula de ciudadanía has 5 to 10 digits' },
  NIT: { valid: nit, message: 'not a valid NIT (its digits and the check digit)' },
  RUC: { valid: ruc, message: 'not a valid RUC (11 digits whose last is the check digit)' },
  CI: { valid: ci, message: 'not a valid cédula (7 or 8 digits whose last is the check digit)' },
};

export const IDENTIFICATION_TYPES = Object.keys(RULES) as IdentificationType[];

/** The number without the separators people type, letters in upper case. */
export const normalizeIdentification = (n: string) => n.replace(/[\s.\-/]/g, '').toUpperCase();

/** Peru's DNI has exactly 8 digits (Argentina's 7 or 8). */
const PERU_DNI = /^\d{8}$/;

/** One problem with an identification, naming its field. */
export interface IdentificationIssue {
  field: 'type' | 'number';
  message: string;
}

/**
 * Why `id` is not a valid identification for a payer of the store on `site`
 * (undefined when it is). The number is checked as given: normalize it first.
 */
export function identificationIssue(site: SiteId, id: { type: string; number: string }): IdentificationIssue | undefined {
  const types: readonly string[] = COUNTRIES[site].identificationTypes;
  if (!types.includes(id.type)) return { field: 'type', message: `one of ${types.join(', ')} (the store sells in ${COUNTRIES[site].code})` };
  const rule = RULES[id.type as IdentificationType];
  if (!rule.valid(id.number) || (site === 'MPE' && id.type === 'DNI' && !PERU_DNI.test(id.number))) {
    return { field: 'number', message: site === 'MPE' && id.type === 'DNI' ? 'a DNI has 8 digits' : rule.message };
  }
  return undefined;
}

/** Why `number` is not one of `type` in any country (the body's own check, before the store's country is known). */
export function identificationNumberIssue(type: IdentificationType, number: string): string | undefined {
  return RULES[type].valid(number) ? undefined : RULES[type].message;
}
