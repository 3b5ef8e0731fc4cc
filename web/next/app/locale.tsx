'use client';
/**
 * The store's locale for client components (the checkout form, the error
 * page): the layout, rendered on the server, provides it.
 */
import { createContext, type ReactNode, useContext } from 'react';
import { textsFor, type Translate } from '../lib/i18n';

const LocaleContext = createContext('es-AR');

export function LocaleProvider({ locale, children }: { locale: string; children: ReactNode }) {
  return <LocaleContext value={locale}>{children}</LocaleContext>;
}

/** The store's texts, in a client component. */
export function useTexts(): Translate {
  return textsFor(useContext(LocaleContext));
}
