/**
 * A payment waiting for the buyer (a cash ticket, ATM, a bank transfer or
 * Pix): how to pay it and by when, in the store's locale. The return page
 * shows it while the payment is pending, and updates itself when the payment
 * lands.
 */
import { useState } from 'react';
import type { PendingPayment } from '../../../src/index.ts';
import { deadline, money } from '../format.ts';
import { t, tNodes } from '../i18n.ts';

/** Payment methods by MercadoPago id: brand names stay as written; the boleto is named in the store's language. */
const METHOD: Record<string, string | (() => string)> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: () => t('boleto'),
  pix: 'Pix',
  oxxo: 'OXXO',
  efecty: 'Efecty',
  abitab: 'Abitab',
  redpagos: 'RedPagos',
};

function methodName(id: string | null | undefined): string {
  const m = METHOD[id ?? ''];
  return typeof m === 'function' ? m() : m ?? id ?? t('cash');
}

export function PendingPaymentView({ payment, total, currency }: { payment: PendingPayment; total: number | string; currency: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard?.writeText(payment.qr_code ?? '').catch(() => undefined);
    setCopied(true);
  };
  return (
    <div className='pending-payment' data-testid='pending-payment' data-method={payment.payment_method_id ?? ''}>
      <p>
        <span className='badge' data-testid='pending-label'>{t('awaitingPayment')}</span> {tNodes('payBefore', {
          amount: money(total, currency),
          method: <strong data-testid='pending-method'>{methodName(payment.payment_method_id)}</strong>,
          deadline: <strong data-testid='pending-deadline' data-date={payment.deadline}>{deadline(payment.deadline)}</strong>,
        })}
      </p>
      {payment.qr_code_base64 && (
        <figure className='pix'>
          <img src={`data:image/png;base64,${payment.qr_code_base64}`} alt={t('pixQr')} width={220} height={220} data-testid='pix-qr' />
          <figcaption>{t('pixScan')}</figcaption>
        </figure>
      )}
      {payment.qr_code && (
        <p className='pix-code'>
          <code data-testid='pix-code'>{payment.qr_code}</code>{' '}
          <button type='button' className='button small' onClick={() => void copy()}>{copied ? t('copied') : t('copyCode')}</button>
        </p>
      )}
      {payment.barcode && !payment.qr_code && (
        <p>
          {t('barcode')} <code data-testid='ticket-barcode'>{payment.barcode}</code>
        </p>
      )}
      {(payment.external_resource_url ?? payment.ticket_url) && (
        <p>
          <a
            className='button primary'
            href={payment.external_resource_url ?? payment.ticket_url}
            target='_blank'
            rel='noreferrer'
            data-testid='ticket-link'
          >
            {payment.qr_code ? t('seeInMp') : t('seeTicket')}
          </a>
        </p>
      )}
      <p className='muted small'>{t('pendingSelfUpdates')}</p>
    </div>
  );
}
