/**
 * A payment waiting for the buyer (a cash ticket, ATM, a bank transfer or
 * Pix): how to pay it and by when. The return page shows it while the
 * payment is pending, and updates itself when the payment lands.
 */
import { useState } from 'react';
import type { PendingPayment } from '../../../src/index.ts';
import { money } from '../format.ts';

const METHOD: Record<string, string> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: 'boleto bancario',
  pix: 'Pix',
  oxxo: 'OXXO',
  efecty: 'Efecty',
  abitab: 'Abitab',
  redpagos: 'RedPagos',
};

export function deadlineText(iso: string): string {
  return new Intl.DateTimeFormat('es-AR', { dateStyle: 'full', timeStyle: 'short', hourCycle: 'h23' }).format(new Date(iso));
}

export function PendingPaymentView({ payment, total, currency }: { payment: PendingPayment; total: number | string; currency: string }) {
  const [copied, setCopied] = useState(false);
  const method = METHOD[payment.payment_method_id ?? ''] ?? payment.payment_method_id ?? 'efectivo';
  const copy = async () => {
    await navigator.clipboard?.writeText(payment.qr_code ?? '').catch(() => undefined);
    setCopied(true);
  };
  return (
    <div className='pending-payment' data-testid='pending-payment' data-method={payment.payment_method_id ?? ''}>
      <p>
        <span className='badge' data-testid='pending-label'>{payment.label ?? 'esperando pago'}</span> Pagá {money(total, currency)} con{' '}
        <strong data-testid='pending-method'>{method}</strong> antes del{' '}
        <strong data-testid='pending-deadline' data-date={payment.deadline}>{deadlineText(payment.deadline)}</strong>. Te guardamos los productos hasta
        entonces.
      </p>
      {payment.qr_code_base64 && (
        <figure className='pix'>
          <img src={`data:image/png;base64,${payment.qr_code_base64}`} alt='Código QR de Pix' width={220} height={220} data-testid='pix-qr' />
          <figcaption>Escaneá el código con la app de tu banco, o copiá el código Pix:</figcaption>
        </figure>
      )}
      {payment.qr_code && (
        <p className='pix-code'>
          <code data-testid='pix-code'>{payment.qr_code}</code>{' '}
          <button type='button' className='button small' onClick={() => void copy()}>{copied ? 'Copiado' : 'Copiar código'}</button>
        </p>
      )}
      {payment.barcode && !payment.qr_code && (
        <p>
          Código de barras: <code data-testid='ticket-barcode'>{payment.barcode}</code>
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
            {payment.qr_code ? 'Ver el pago en MercadoPago' : 'Ver el comprobante para pagar'}
          </a>
        </p>
      )}
      <p className='muted small'>Esta página se actualiza sola: cuando se acredite el pago vas a ver tu pedido. También te lo enviamos por email.</p>
    </div>
  );
}
