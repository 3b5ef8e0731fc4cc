/**
 * A page's header (with the cart's count) and body. Not in the layout: Next.js
 * renders a layout alongside its page, and the return page must apply the
 * payment (which empties the cart's purchased lines) before the count is read.
 */
import Link from 'next/link';
import type { ReactNode } from 'react';
import { t } from '../lib/format';
import { pageCart } from '../lib/session';

async function cartCount(): Promise<number> {
  try {
    return (await pageCart())?.lines.reduce((n, l) => n + l.quantity, 0) ?? 0;
  } catch {
    return 0; // the page itself reports what failed
  }
}

export async function Shell({ children }: { children: ReactNode }) {
  const count = await cartCount();
  return (
    <>
      <header className='top'>
        <Link href='/' className='brand'>{t('brand')}</Link>
        <nav>
          <Link href='/' data-testid='nav-catalog'>{t('catalog')}</Link>
          <Link href='/orders' data-testid='nav-orders'>{t('myOrders')}</Link>
          <Link href='/cart' data-testid='nav-cart'>
            {t('cart')} <span className='badge' data-testid='cart-count' data-count={count}>{count}</span>
          </Link>
        </nav>
      </header>
      <main>{children}</main>
    </>
  );
}
