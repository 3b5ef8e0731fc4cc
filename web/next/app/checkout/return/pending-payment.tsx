/**
 * A payment waiting for the buyer (a cash ticket, ATM, a bank transfer or
 * Pix), rendered on the server from what payment-status answered
 * (`pending_payment`): the method, by when to pay it (in the store's
 * locale), the ticket's link and barcode, or the Pix QR and its
 * copy-and-paste code. No script: the code is in a read-only field the buyer
 * selects, and "Ya pagué" reloads the page, which asks payment-status again.
 */
import type { PendingPayment } from '@mp-checkout/storefront';
import { deadline, money } from '../../../lib/format';

const METHOD: Record<string, string> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: 'boleto bancario',
  pix: 'Pix',
  oxxo: 'OXXO',
  clabe: 'transferencia SPEI',
  efecty: 'Efecty',
  pse: 'PSE',
  abitab: 'Abitab',
  redpagos: 'RedPagos',
};

export function PendingPaymentView({ payment, total, currency, reload }: {
  payment: PendingPayment;
  total: number | string;
  currency: string;
  reload: string;
}) {
  const method = METHOD[payment.payment_method_id ?? ''] ?? payment.payment_method_id ?? 'efectivo';
  const link = payment.external_resource_url ?? payment.ticket_url;
  return (
    <div className='pending-payment' data-testid='pending-payment' data-method={payment.payment_method_id ?? ''}>
      <p>
        <span className='badge' data-testid='pending-label'>{payment.label ?? 'esperando pago'}</span> Pagá{' '}
        <strong data-testid='pending-total'>{money(total, currency)}</strong> con <strong data-testid='pending-method'>{method}</strong> antes del{' '}
        <strong data-testid='pending-deadline' data-date={payment.deadline}>{deadline(payment.deadline)}</strong>. Te guardamos los productos hasta entonces.
      </p>
      {payment.qr_code_base64 && (
        <figure className='pix'>
          <img src={`data:image/png;base64,${payment.qr_code_base64}`} alt='Código QR de Pix' width={220} height={220} data-testid='pix-qr' />
          <figcaption>Escaneá el código con la app de tu banco, o copiá el código Pix:</figcaption>
        </figure>
      )}
      {payment.qr_code && (
        <p className='pix-code'>
          <label>
            Código Pix (copiá y pegá)
            <input readOnly value={payment.qr_code} data-testid='pix-code' aria-label='Código Pix' />
          </label>
        </p>
      )}
      {payment.barcode && !payment.qr_code && (
        <p>
          Código de barras: <code data-testid='ticket-barcode'>{payment.barcode}</code>
        </p>
      )}
      {link && (
        <p>
          <a className='button primary' href={link} target='_blank' rel='noreferrer' data-testid='ticket-link'>
            {payment.qr_code ? 'Ver el pago en MercadoPago' : 'Ver el comprobante para pagar'}
          </a>
        </p>
      )}
      <p className='muted'>
        Cuando se acredite el pago, tu compra se confirma sola y te llega por email. <a href={reload} data-testid='pending-reload'>Ya pagué: actualizar</a>
      </p>
    </div>
  );
}
