/** Every page: the header with the cart's count, read on the server. */
import type { Metadata, Viewport } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { pageStorefront } from '../lib/session';
import './globals.css';

export const metadata: Metadata = { title: 'Tienda', description: 'La tienda, renderizada en el servidor.' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

async function cartCount(): Promise<number> {
  const { storefront, hasSession } = await pageStorefront();
  if (!hasSession) return 0;
  try {
    return (await storefront.cart.get()).lines.reduce((n, l) => n + l.quantity, 0);
  } catch {
    return 0; // the page itself reports what failed
  }
}

export default async function RootLayout({ children }: { children: ReactNode }) {
  const count = await cartCount();
  return (
    <html lang='es-AR'>
      <body>
        <header className='top'>
          <Link href='/' className='brand'>Tienda</Link>
          <nav>
            <Link href='/' data-testid='nav-catalog'>Catálogo</Link>
            <Link href='/orders' data-testid='nav-orders'>Mis compras</Link>
            <Link href='/cart' data-testid='nav-cart'>
              Carrito <span className='badge' data-testid='cart-count' data-count={count}>{count}</span>
            </Link>
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
