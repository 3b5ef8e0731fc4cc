/**
 * `/checkout/return`: MercadoPago sends the buyer here (success, pending and
 * failure back_urls) with the payment in the query. The library confirms it
 * with the backend (which applies it exactly as the webhook does).
 */
import { type MouseEvent, useCallback, useEffect, useRef, useState } from 'react';
import { ReservationExpiredError, type ReturnResult } from '../../../src/index.ts';
import type { StoreApi } from '../store-api.ts';
import { money, rejectionDetail, time } from '../format.ts';
import { t } from '../i18n.ts';
import { type AlertMessage, describeError } from '../messages.ts';
import { clearCheckoutForm } from '../checkout-form.ts';
import { loadPendingCheckout } from '../pending-checkout.ts';
import { navigate } from '../router.ts';
import { OrderView } from './OrderView.tsx';
import { PendingPaymentView } from './PendingPaymentView.tsx';

/** How often a pending payment is checked again (the database only: the webhook brings the news). */
const PENDING_POLL_MS = 4000;

export function ReturnPage({ api, search }: { api: StoreApi; search: string }) {
  const [result, setResult] = useState<ReturnResult | null>(null);
  const [error, setError] = useState<AlertMessage | null>(null);
  const [retrying, setRetrying] = useState(false);
  const { sf, refresh, setPending } = api;
  const done = useRef(false);

  const confirm = useCallback(async () => {
    setError(null);
    try {
      const r = await sf.confirmReturn(new URLSearchParams(search));
      setResult(r);
      const pending = loadPendingCheckout();
      if (pending && pending.token === r.orderSession.token && !r.canRetry && r.status !== 'pending') setPending(null);
      // The order is placed: the payer's data has no reason to stay in this browser.
      if (r.order) clearCheckoutForm();
      // The order took the stock and emptied the cart: show it.
      void refresh();
    } catch (err) {
      setError(describeError(err));
    }
  }, [sf, search, refresh, setPending]);

  useEffect(() => {
    if (done.current) return;
    done.current = true;
    void confirm();
  }, [confirm]);

  // A payment still pending (a ticket or Pix the buyer pays later): ask
  // again until it lands, without asking MercadoPago (checkoutStatus reads
  // the order session; the webhook applies the payment).
  const token = result?.status === 'pending' ? result.orderSession.token : null;
  useEffect(() => {
    if (!token) return;
    const timer = setInterval(() => {
      sf.checkoutStatus(token).then((r) => {
        if (r.status === 'pending') return;
        // The status by reference knows no payment: keep the one we had.
        setResult((prev) => ({ ...r, payment: r.payment ?? prev?.payment ?? null }));
        if (r.order) clearCheckoutForm();
        void refresh();
      }, () => undefined);
    }, PENDING_POLL_MS);
    return () => clearInterval(timer);
  }, [sf, token, refresh]);

  const go = (to: string) => (e: MouseEvent) => {
    e.preventDefault();
    navigate(to);
  };

  const retry = async () => {
    if (!result) return;
    setRetrying(true);
    try {
      await sf.assertCanRetry(result.orderSession.token);
      const pending = loadPendingCheckout();
      if (pending && pending.token === result.orderSession.token) {
        // MercadoPago lets the buyer pay again on the same preference while it lasts.
        window.location.assign(pending.redirectUrl);
        return;
      }
      setError({ kind: 'error', title: t('noPaymentLink'), lines: [t('noPaymentLinkHint')] });
    } catch (err) {
      if (err instanceof ReservationExpiredError) {
        setPending(null);
        setResult((r) => (r ? { ...r, status: 'expired', canRetry: false } : r));
      } else setError(describeError(err));
    }
    setRetrying(false);
  };

  if (error) {
    return (
      <section>
        <div className={`alert ${error.kind}`} role='alert' data-testid={error.kind === 'network' ? 'network-error' : 'return-error'}>
          <div>
            <strong className='alert-title'>{error.title}</strong>
            {error.lines?.map((l) => <p key={l}>{l}</p>)}
          </div>
          <button type='button' className='button small' onClick={() => void confirm()} data-testid='return-reload'>
            {t('retry')}
          </button>
        </div>
      </section>
    );
  }
  if (!result) return <p className='muted' data-testid='return-loading'>{t('confirming')}</p>;

  const s = result.orderSession;
  const backToStore = (
    <a className='button' href='/' onClick={go('/')} data-testid='continue-shopping'>
      {t('keepShopping')}
    </a>
  );
  return (
    <section className='return' data-testid='return' data-status={result.status}>
      {result.status === 'paid' && result.order && (
        <div data-testid='return-paid'>
          <h1 className='page-title success-text'>{t('thanks')}</h1>
          <p>{t('paidDetail', { email: String(result.order.payer?.['email'] ?? t('yourEmail')) })}</p>
          <OrderView order={result.order} />
          <div className='actions'>
            {backToStore}
            <a className='button' href='/orders' onClick={go('/orders')} data-testid='see-orders'>
              {t('seeOrders')}
            </a>
          </div>
        </div>
      )}
      {result.status === 'paid' && !result.order && (
        <div data-testid='return-paid'>
          <h1 className='page-title'>{t('paymentApproved')}</h1>
          <p>{t('registeringOrder')}</p>
          {backToStore}
        </div>
      )}
      {result.status === 'pending' && (
        <div data-testid='return-pending'>
          <h1 className='page-title'>{t('paymentPending')}</h1>
          {result.pendingPayment?.waiting
            ? <PendingPaymentView payment={result.pendingPayment} total={s.total} currency={s.currency} />
            : <p>{t('stillProcessing', { amount: money(s.total, s.currency) })}</p>}
          {backToStore}
        </div>
      )}
      {(result.status === 'rejected' || result.status === 'open') && (
        <div data-testid='return-rejected'>
          <h1 className='page-title'>{result.status === 'rejected' ? t('paymentRejected') : t('notPaidYet')}</h1>
          {result.status === 'rejected' && <p data-testid='rejection-detail'>{rejectionDetail(result.payment?.status_detail) ?? t('mpDidNotApprove')}</p>}
          <p>
            {t('holdStillValid', { amount: money(s.total, s.currency), time: time(s.expires_at) })}
          </p>
          <div className='actions'>
            <button type='button' className='button primary' disabled={retrying} onClick={() => void retry()} data-testid='retry-payment'>
              {t('retryPayment')}
            </button>
            {backToStore}
          </div>
        </div>
      )}
      {result.status === 'expired' && (
        <div data-testid='return-expired'>
          <h1 className='page-title'>{t('reservationExpired')}</h1>
          <p data-testid='reservation-expired'>{t('expiredDetail')}</p>
          <a className='button primary' href='/cart' onClick={go('/cart')}>
            {t('backToCart')}
          </a>
        </div>
      )}
      {result.status === 'refund_owed' && (
        <div data-testid='return-refund'>
          <h1 className='page-title'>{t('couldNotComplete')}</h1>
          <p>{t('refundDetail')}</p>
          {backToStore}
        </div>
      )}
      {result.status === 'cancelled' && (
        <div data-testid='return-cancelled'>
          <h1 className='page-title'>{t('replaced')}</h1>
          <p>{t('replacedDetail')}</p>
          {backToStore}
        </div>
      )}
    </section>
  );
}
