/**
 * The demo storefront: catalog, cart and checkout, MercadoPago's return, the
 * shopper's orders, and accounts (create one, sign in and bring this
 * device's cart along, sign out). Every call goes through the storefront
 * library.
 */
import { type MouseEvent, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { type Cart, type CatalogProduct, InsufficientStockError, type Shopper, type Storefront, StorefrontError } from '../../src/index.ts';
import { makeStorefront, type StorefrontEnv } from './env.ts';
import { money, time } from './format.ts';
import { t, tNodes } from './i18n.ts';
import { type AlertMessage, describeError } from './messages.ts';
import { AccountPage } from './pages/AccountPage.tsx';
import { CartPage } from './pages/CartPage.tsx';
import { CatalogPage } from './pages/CatalogPage.tsx';
import { OrdersPage } from './pages/OrdersPage.tsx';
import { ReturnPage } from './pages/ReturnPage.tsx';
import { clearCheckoutForm } from './checkout-form.ts';
import { clearPendingCheckout, loadPendingCheckout, type PendingCheckout } from './pending-checkout.ts';
import { navigate, useLocation } from './router.ts';
import type { StoreApi } from './store-api.ts';

const CATALOG_REFRESH_MS = 10_000;

export function App({ env }: { env: StorefrontEnv }) {
  const sf = useMemo(() => makeStorefront(env), [env]);
  const { path, search } = useLocation();
  const [cart, setCart] = useState<Cart | null>(null);
  const [shopper, setShopper] = useState<Shopper | null>(null);
  const [catalog, setCatalog] = useState<CatalogProduct[] | null>(null);
  const [alert, setAlert] = useState<AlertMessage | null>(null);
  const [busy, setBusy] = useState(false);
  const [pending, setPendingState] = useState<PendingCheckout | null>(() => loadPendingCheckout());
  const [sessionError, setSessionError] = useState<AlertMessage | null>(null);
  const alertRef = useRef<HTMLDivElement>(null);
  // Bumped when a cart change starts and when it ends. A read of the cart
  // (refresh, the refresh on focus) is shown only if no change overlapped
  // it, so a slow read never overwrites the cart a newer change returned.
  const cartSeq = useRef(0);

  const titles = useMemo(() => {
    const m = new Map<string, string>();
    for (const p of catalog ?? []) for (const v of p.variants) m.set(v.id, `${p.title} (${v.title})`);
    for (const l of cart?.lines ?? []) m.set(l.variant_id, `${l.product_title} (${l.variant_title})`);
    return m;
  }, [catalog, cart]);

  const showAlert = useCallback((a: AlertMessage | null) => {
    setAlert(a);
  }, []);
  const fail = useCallback((err: unknown) => showAlert(describeError(err, titles)), [showAlert, titles]);

  const loadCatalog = useCallback(async () => {
    try {
      setCatalog(await sf.catalog());
    } catch (err) {
      fail(err);
    }
  }, [sf, fail]);

  const refresh = useCallback(async () => {
    try {
      setShopper(await sf.account.current());
      const seq = cartSeq.current;
      const [c, cat] = await Promise.all([sf.cart.get(), sf.catalog()]);
      if (seq === cartSeq.current) setCart(c);
      setCatalog(cat);
      setSessionError(null);
    } catch (err) {
      setSessionError(describeError(err));
    }
  }, [sf]);

  const setPending = useCallback((p: PendingCheckout | null) => {
    // The checkout is over (paid, expired, cancelled): forget it, and the
    // payer's data typed into the form with it.
    if (!p) {
      clearPendingCheckout();
      clearCheckoutForm();
    }
    setPendingState(p);
  }, []);

  const cartOp = useCallback(
    async (op: (s: Storefront) => Promise<Cart>, success?: string) => {
      setBusy(true);
      try {
        cartSeq.current++;
        try {
          setCart(await op(sf));
        } finally {
          cartSeq.current++;
        }
        if (success) showAlert({ kind: 'success', title: success });
        else setAlert(null);
        void loadCatalog();
        return true;
      } catch (err) {
        fail(err);
        if (err instanceof InsufficientStockError) void refresh();
        return false;
      } finally {
        setBusy(false);
      }
    },
    [sf, showAlert, fail, loadCatalog, refresh],
  );

  // Confirmations fade out on their own; problems stay until closed.
  useEffect(() => {
    if (alert?.kind !== 'success') return;
    const id = window.setTimeout(() => setAlert((current) => (current === alert ? null : current)), 4000);
    return () => window.clearTimeout(id);
  }, [alert]);

  // First load: the session (anonymous sign-in on a first visit), the cart, the catalog.
  // A recovery email's link (?restore=<token>) first brings that cart to this device.
  useEffect(() => {
    const token = new URLSearchParams(window.location.search).get('restore');
    if (!token) {
      void refresh();
      return;
    }
    void (async () => {
      try {
        await sf.ensureSession();
        setCart(await sf.restoreCart(token));
        showAlert({ kind: 'success', title: t('cartRestored') });
      } catch (err) {
        if (err instanceof StorefrontError && err.code === 'not_found') {
          showAlert({ kind: 'error', title: t('cartNotRestored'), lines: [t('cartGone')] });
        } else fail(err);
      }
      window.history.replaceState(null, '', '/cart');
      window.dispatchEvent(new PopStateEvent('popstate'));
      void refresh();
    })();
    // Once, on the first load only.
  }, [refresh]);

  // Live stock: refresh the catalog while the page is visible, and when it comes back.
  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === 'visible') void loadCatalog();
    };
    const id = window.setInterval(tick, CATALOG_REFRESH_MS);
    document.addEventListener('visibilitychange', tick);
    return () => {
      window.clearInterval(id);
      document.removeEventListener('visibilitychange', tick);
    };
  }, [loadCatalog]);

  // Every device signed in to the account shares its cart: show what another
  // one changed when this window comes back to the front.
  useEffect(() => {
    const onFocus = () => {
      if (document.visibilityState !== 'visible') return;
      void (async () => {
        try {
          const seq = cartSeq.current;
          const c = await sf.cart.get();
          if (seq === cartSeq.current) setCart(c);
        } catch {
          // Not fatal: the next action shows the cart anyway.
        }
      })();
    };
    window.addEventListener('focus', onFocus);
    document.addEventListener('visibilitychange', onFocus);
    return () => {
      window.removeEventListener('focus', onFocus);
      document.removeEventListener('visibilitychange', onFocus);
    };
  }, [sf]);

  const signOut = useCallback(async () => {
    setBusy(true);
    try {
      await sf.account.signOut();
      await refresh();
      showAlert({ kind: 'success', title: t('signedOut'), testid: 'signed-out' });
      navigate('/');
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  }, [sf, refresh, showAlert, fail]);

  // A checkout left unfinished in this browser: is it still payable, or did it expire?
  const checkPending = useCallback(async () => {
    const p = loadPendingCheckout();
    if (!p) return;
    try {
      const r = await sf.checkoutStatus(p.token);
      if (r.status === 'expired') {
        setPending(null);
        showAlert({
          kind: 'expired',
          title: t('reservationExpired'),
          lines: [t('reservationExpiredBanner')],
        });
        void refresh();
      } else if (r.status === 'open' || r.status === 'rejected' || r.status === 'pending') {
        setPendingState(p);
      } else {
        setPending(null);
      }
    } catch {
      // Not fatal: the banner stays as it was.
    }
  }, [sf, setPending, showAlert, refresh]);

  useEffect(() => {
    if (path !== '/checkout/return') void checkPending();
  }, [path, checkPending]);

  // Tell the shopper the moment the reservation lapses while they are here.
  useEffect(() => {
    if (!pending) return;
    const ms = Date.parse(pending.expiresAt) - Date.now();
    const id = window.setTimeout(() => void checkPending(), Math.max(ms + 500, 0));
    return () => window.clearTimeout(id);
  }, [pending, checkPending]);

  const api: StoreApi = { sf, cart, shopper, catalog, titles, busy, showAlert, fail, refresh, cartOp, pending, setPending };
  const count = cart?.item_count ?? 0;
  const link = (to: string) => (e: MouseEvent) => {
    e.preventDefault();
    setAlert(null);
    navigate(to);
  };

  return (
    <div className='app'>
      <div className='chrome'>
        <header className='topbar'>
          <a href='/' className='brand' onClick={link('/')} data-testid='nav-home'>
            <span className='brand-mark' aria-hidden='true'>
              ◆
            </span>{' '}
            {t('brand')}
          </a>
          <nav className='nav'>
            {shopper && !shopper.isAnonymous
              ? (
                <>
                  <span className='muted small account-email' data-testid='account-email'>
                    {shopper.email}
                  </span>
                  <button type='button' className='link' disabled={busy} onClick={() => void signOut()} data-testid='nav-signout'>
                    {t('signOut')}
                  </button>
                </>
              )
              : (
                <>
                  <a href='/cuenta/crear' onClick={link('/cuenta/crear')} data-testid='nav-signup' className={path === '/cuenta/crear' ? 'active' : ''}>
                    {t('signUp')}
                  </a>
                  <a
                    href='/cuenta/ingresar'
                    onClick={link('/cuenta/ingresar')}
                    data-testid='nav-signin'
                    className={path === '/cuenta/ingresar' ? 'active' : ''}
                  >
                    {t('signIn')}
                  </a>
                </>
              )}
            <a href='/orders' onClick={link('/orders')} data-testid='nav-orders' className={path === '/orders' ? 'active' : ''}>
              {t('myOrders')}
            </a>
            <a href='/cart' onClick={link('/cart')} data-testid='nav-cart' className={`cart-link ${path === '/cart' ? 'active' : ''}`}>
              {t('cart')}{' '}
              <span className='badge' data-testid='cart-count' data-count={count}>
                {count}
              </span>
            </a>
          </nav>
        </header>

        {/* Sticky under the header, so the message is in sight wherever the shopper scrolled to. */}
        <div ref={alertRef}>
          {(sessionError ?? alert) && (
            <Alert
              alert={(sessionError ?? alert)!}
              onClose={sessionError ? () => void refresh() : () => setAlert(null)}
              retry={!!sessionError}
            />
          )}
        </div>
      </div>

      {pending && path !== '/checkout/return' && Date.parse(pending.expiresAt) > Date.now() && (
        <div className='banner info' data-testid='pending-checkout'>
          <span>
            {tNodes('pendingBanner', { amount: <strong>{money(pending.total, pending.currency)}</strong>, time: time(pending.expiresAt) })}
          </span>
          <a className='button small' href={pending.redirectUrl} data-testid='resume-checkout'>
            {t('resumePayment')}
          </a>
        </div>
      )}

      <main className='page'>
        {path === '/' && <CatalogPage api={api} />}
        {path === '/cart' && <CartPage api={api} />}
        {path === '/checkout/return' && <ReturnPage api={api} search={search} />}
        {path === '/orders' && <OrdersPage api={api} />}
        {path === '/cuenta/crear' && <AccountPage api={api} mode='signup' />}
        {path === '/cuenta/ingresar' && <AccountPage api={api} mode='signin' />}
        {!['/', '/cart', '/checkout/return', '/orders', '/cuenta/crear', '/cuenta/ingresar'].includes(path) && (
          <section data-testid='not-found'>
            <h1>{t('notFound')}</h1>
            <a href='/' onClick={link('/')}>
              {t('backToCatalog')}
            </a>
          </section>
        )}
      </main>
      <footer className='footer'>{t('footer')}</footer>
    </div>
  );
}

function Alert({ alert, onClose, retry }: { alert: AlertMessage; onClose: () => void; retry: boolean }) {
  const testid = alert.kind === 'expired'
    ? 'reservation-expired'
    : alert.kind === 'out-of-stock'
    ? 'out-of-stock'
    : alert.kind === 'network'
    ? 'network-error'
    : undefined;
  return (
    <div
      className={`alert ${alert.kind}`}
      role={alert.kind === 'success' || alert.kind === 'info' ? 'status' : 'alert'}
      data-testid='alert'
      data-kind={alert.kind}
    >
      <div data-testid={alert.testid ?? testid}>
        <strong className='alert-title'>{alert.title}</strong>
        {alert.lines && alert.lines.length > 0 && (
          <ul>
            {alert.lines.map((l) => <li key={l}>{l}</li>)}
          </ul>
        )}
      </div>
      <button type='button' className='link' onClick={onClose} data-testid={retry ? 'alert-retry' : 'alert-close'}>
        {retry ? t('retry') : t('close')}
      </button>
    </div>
  );
}
