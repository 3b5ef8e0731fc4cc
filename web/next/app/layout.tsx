/** The document. Each page renders its own header (app/shell.tsx), after its own work. */
import type { Metadata, Viewport } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = { title: 'Tienda', description: 'La tienda, renderizada en el servidor.' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang='es-AR'>
      <body>{children}</body>
    </html>
  );
}
