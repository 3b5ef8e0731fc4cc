/**
 * The dashboard's texts in es-AR, es-MX and pt-BR; the store's locale (from
 * /env.js) picks the nearest catalog (catalogFor), as the demo's i18n.ts does.
 * Every key is in every catalog (tests/contract/i18n.test.ts).
 */
import { type Catalogs, translator } from '../../../../edge/_shared/i18n/format.ts';
import { esAR } from './es-AR.ts';
import { esMX } from './es-MX.ts';
import { ptBR } from './pt-BR.ts';

export type AdminKey = keyof typeof esAR;
export const ADMIN_CATALOGS: Catalogs<AdminKey> = { 'es-AR': esAR, 'es-MX': esMX, 'pt-BR': ptBR };

let translate = translator(ADMIN_CATALOGS, 'es-AR');

/** Picks the catalog of the store's locale (main.tsx, once at start). */
export function setAdminLocale(locale: string): void {
  translate = translator(ADMIN_CATALOGS, locale);
}

/** The text of `key` in the store's catalog. */
export const t = (key: AdminKey, params?: Record<string, string | number>): string => translate(key, params);

/** The label of a value the server sends (a status, a reason): `${prefix}${value}` when the catalogs know it, else the value as sent. */
export function label(prefix: string, value: string): string {
  const key = `${prefix}${value}`;
  return key in esAR ? t(key as AdminKey) : value;
}
