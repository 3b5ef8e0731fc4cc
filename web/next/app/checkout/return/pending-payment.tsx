/**
 * A payment waiting for the buyer (a cash ticket, ATM, a bank transfer or
 * Pix), rendered on the server from what payment-status answered
 * (`pending_payment`): the method, by when to pay it (in the store's
 * locale), the ticket's link and barcode, or the Pix QR and its
 * copy-and-paste code. No script: the code is in a read-only field the buyer
 * selects, and "Ya pagué" (alreadyPaid) reloads the page, which asks payment-status again.
 */
import type { PendingPayment } from '@mp-checkout/storefront';
import { deadline, money, t } from '../../../lib/format';
import { type NextKey, withNodes } from '../../../lib/i18n';

/** The methods' names (the brands as written; the generic ones from the catalogs). */
const METHOD: Record<string, string | NextKey> = {
  rapipago: 'Rapipago',
  pagofacil: 'Pago Fácil',
  redlink: 'Red Link',
  bolbradesco: 'method_bolbradesco',
  pix: 'Pix',
  oxxo: 'OXXO',
  clabe: 'method_clabe',
  efecty: 'Efecty',
  pse: 'PSE',
  abitab: 'Abitab',
  redpagos: 'RedPagos',
};
const methodName = (id: string | null | undefined): string => {
  const m = METHOD[id ?? ''];
  return m === undefined ? (id ?? t('method_cash')) : m.startsWith('method_') ? t(m as NextKey) : m;
};

export function PendingPaymentView({ payment, total, currency, reload }: {
  payment: PendingPayment;
  total: number | string;
  currency: string;
  reload: string;
}) {
  const method = methodName(payment.payment_method_id);
  const link = payment.external_resource_url ?? payment.ticket_url;
  return (
    <div className='pending-payment' data-testid='pending-payment' data-method={payment.payment_method_id ?? ''}>
      <p>
        <span className='badge' data-testid='pending-label'>{t('waitingPayment')}</span> {withNodes(t('payBy'), {
          total: <strong data-testid='pending-total'>{money(total, currency)}</strong>,
          method: <strong data-testid='pending-method'>{method}</strong>,
          deadline: <strong data-testid='pending-deadline' data-date={payment.deadline}>{deadline(payment.deadline)}</strong>,
        })}
      </p>
      {payment.qr_code_base64 && (
        <figure className='pix'>
          <img src={`data:image/png;base64,${payment.qr_code_base64}`} alt={t('pixQrAlt')} width={220} height={220} data-testid='pix-qr' />
          <figcaption>{t('pixScan')}</figcaption>
        </figure>
      )}
      {payment.qr_code && (
        <p className='pix-code'>
          <label>
            {t('pixCopy')}
            <input readOnly value={payment.qr_code} data-testid='pix-code' aria-label={t('pixCode')} />
          </label>
        </p>
      )}
      {payment.barcode && !payment.qr_code && (
        <p>
          {t('barcode')} <code data-testid='ticket-barcode'>{payment.barcode}</code>
        </p>
      )}
      {link && (
        <p>
          <a className='button primary' href={link} target='_blank' rel='noreferrer' data-testid='ticket-link'>
            {payment.qr_code ? t('seeInMercadoPago') : t('seeTicket')}
          </a>
        </p>
      )}
      <p className='muted'>
        {t('whenCredited')} <a href={reload} data-testid='pending-reload'>{t('alreadyPaid')}</a>
      </p>
    </div>
  );
}
