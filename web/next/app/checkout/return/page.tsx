/**
 * MercadoPago's back_urls page, rendered on the server: the server asks
 * payment-status (with the shopper's token from the cookie) about the payment
 * in the query, which applies it exactly as the webhook does, and shows what
 * it means: the paid order, or why there is none yet.
 */
import Link from 'next/link';
import type { ReturnResult } from '@mp-checkout/storefront';
import { money } from '../../../lib/format';
import { errorCode, messageFor } from '../../../lib/messages';
import { forShopper } from '../../../lib/session';
import type { SearchParams } from '../../notice';
import { Shell } from '../../shell';
import { PendingPaymentView } from './pending-payment';

const TITLES: Record<ReturnResult['status'], string> = {
  paid: '¡Listo! Tu compra está confirmada',
  pending: 'Tu pago está en proceso',
  rejected: 'El pago fue rechazado',
  expired: 'La reserva venció',
  refund_owed: 'Te vamos a devolver el dinero',
  cancelled: 'Esta compra fue reemplazada por otra',
  open: 'Todavía no recibimos el pago',
};

const DETAILS: Record<ReturnResult['status'], string> = {
  paid: 'Te enviamos la confirmación por email.',
  pending: 'Cuando MercadoPago lo acredite, la compra se confirma sola.',
  rejected: 'Tu carrito sigue reservado por unos minutos: volvé al carrito y pagá con otro medio.',
  expired: 'El stock volvió a estar disponible. Volvé al carrito para intentar de nuevo.',
  refund_owed: 'El pago llegó cuando ya no quedaba stock (o por otro monto): MercadoPago te lo reintegra.',
  cancelled: 'Empezaste otra compra después de esta.',
  open: 'Si ya pagaste, esperá unos segundos y recargá la página.',
};

export default async function ReturnPage({ searchParams }: { searchParams: SearchParams }) {
  const q = await searchParams;
  const query = new URLSearchParams(Object.entries(q).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])));
  let result: ReturnResult | undefined;
  let code = 'not_found'; // no shopper in this browser: not theirs to see
  try {
    result = (await forShopper(undefined, (s) => s.confirmReturn(query))) ?? undefined;
  } catch (err) {
    code = errorCode(err);
  }
  if (!result) {
    return (
      <Shell>
        <section data-testid='return' data-status='error'>
          <h1>No pudimos confirmar el pago</h1>
          <p className='alert' role='alert' data-code={code}>{messageFor(code)}</p>
          <Link href='/cart'>Volver al carrito</Link>
        </section>
      </Shell>
    );
  }
  const { status, order, pendingPayment, orderSession } = result;
  // A ticket or Pix waiting for the buyer: how to pay it and by when.
  const waiting = status === 'pending' && pendingPayment?.waiting ? pendingPayment : null;
  // The header's cart count is read here, after the payment emptied the purchased lines.
  return (
    <Shell>
      <section data-testid='return' data-status={status}>
        <h1 data-testid={`return-${status}`}>{TITLES[status]}</h1>
        {waiting
          ? (
            <PendingPaymentView
              payment={waiting}
              total={orderSession.total}
              currency={orderSession.currency}
              reload={`/checkout/return?${query.toString()}`}
            />
          )
          : <p>{DETAILS[status]}</p>}
        {order && (
          <div className='order' data-testid='order'>
            <p>
              Número de compra: <strong data-testid='order-number'>{order.order_number}</strong>
            </p>
            <ul>
              {order.lines.map((l) => (
                <li key={l.sku} data-testid={`order-line-${l.sku}`} data-quantity={l.quantity}>
                  {l.quantity} × {l.title} — {money(l.line_total, order.currency)}
                </li>
              ))}
            </ul>
            <p className='total'>
              Total pagado: <strong data-testid='order-total'>{money(order.total, order.currency)}</strong>
            </p>
          </div>
        )}
        <p>
          <Link href='/orders'>Ver mis compras</Link> · <Link href='/'>Seguir comprando</Link>
        </p>
      </section>
    </Shell>
  );
}
