/** The document, in the store's language. Each page renders its own header (app/shell.tsx), after its own work. */
import type { Metadata, Viewport } from 'next';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import { storeLocale } from '../lib/env';
import { t } from '../lib/format';
import { LocaleProvider } from './locale';
import './globals.css';

export async function generateMetadata(): Promise<Metadata> {
  await connection(); // the store's settings are read at run time, never at build
  return { title: t('brand'), description: t('description') };
}
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection();
  const { locale } = storeLocale();
  return (
    <html lang={locale}>
      <body>
        <LocaleProvider locale={locale}>{children}</LocaleProvider>
      </body>
    </html>
  );
}
