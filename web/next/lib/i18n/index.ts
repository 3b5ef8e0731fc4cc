/**
 * The storefront's texts in es-AR, es-MX and pt-BR (the store's locale picks
 * the nearest: catalogFor). Plain data and functions: the server pages and
 * the client components (through app/locale.tsx) use them alike. The
 * checkout's error codes are the library's own texts (checkoutErrorTexts).
 * Every key is in every catalog (tests/contract/i18n.test.ts).
 */
import { type Catalogs, checkoutErrorTexts, translator } from '@mp-checkout/storefront';
import { createElement, Fragment, type ReactNode } from 'react';
import { esAR, esMX, ptBR } from './catalogs';

export type NextKey = keyof typeof esAR;
export const NEXT_CATALOGS: Catalogs<NextKey> = { 'es-AR': esAR, 'es-MX': esMX, 'pt-BR': ptBR };

export type Translate = (key: NextKey, params?: Record<string, string | number>) => string;

/** The texts of `locale` (the nearest catalog). */
export const textsFor = (locale: string): Translate => translator(NEXT_CATALOGS, locale);

/** What the shopper reads for an error code (the library's checkout texts, then ours), in `locale`. */
export function errorText(locale: string, code: string | undefined): string {
  const t = textsFor(locale);
  if (!code) return t('err_error');
  const key = `err_${code}`;
  return checkoutErrorTexts(locale)[code] ?? (key in esAR ? t(key as NextKey) : t('err_error'));
}

/** `text` with some `{name}` placeholders filled by elements (a <strong> with a data-testid), as React children. */
export function withNodes(text: string, nodes: Record<string, ReactNode>): ReactNode {
  const parts = text.split(/\{(\w+)\}/);
  return createElement(Fragment, null, ...parts.map((p, i) => (i % 2 === 1 && p in nodes ? nodes[p] : p)));
}

/** An order's status as the shopper reads it (the status as sent when the catalogs do not know it). */
export function statusText(locale: string, status: string): string {
  const key = `status_${status}`;
  return key in esAR ? textsFor(locale)(key as NextKey) : status;
}
