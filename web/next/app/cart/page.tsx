/** The cart, rendered on the server: quantities, removal and emptying are Server Actions; then the checkout form. */
import { pageCart } from '../../lib/session';
import { availability, money, t } from '../../lib/format';
import { messageFor } from '../../lib/messages';
import { clearCart, removeFromCart, setQuantity } from '../actions';
import { CheckoutForm } from '../checkout-form';
import { Notice, type SearchParams } from '../notice';
import { Shell } from '../shell';

export default async function CartPage({ searchParams }: { searchParams: SearchParams }) {
  const cart = await pageCart();
  const lines = cart?.lines ?? [];
  return (
    <Shell>
      <h1>{t('cart')}</h1>
      <Notice searchParams={searchParams} ok={t('cartUpdated')} />
      {lines.length === 0 ? <p data-testid='cart-empty'>{messageFor('empty_cart')}</p> : (
        <>
          <ul className='lines'>
            {lines.map((l) => (
              <li key={l.variant_id} data-testid={`cart-line-${l.sku}`} data-quantity={l.quantity}>
                <div>
                  <strong>{l.product_title}</strong> <span className='muted'>{l.variant_title}</span>
                  <div className='muted'>
                    {t('each', { price: money(l.unit_price, cart?.currency) })} · {availability(l.available)}
                  </div>
                </div>
                <form action={setQuantity} className='qty'>
                  <input type='hidden' name='variantId' value={l.variant_id} />
                  <input type='hidden' name='sku' value={l.sku} />
                  <input type='hidden' name='back' value='/cart' />
                  <input name='quantity' type='number' min={0} defaultValue={l.quantity} aria-label={t('quantity')} data-testid={`cart-qty-${l.sku}`} />
                  <button type='submit' data-testid={`cart-update-${l.sku}`}>{t('update')}</button>
                </form>
                <form action={removeFromCart}>
                  <input type='hidden' name='variantId' value={l.variant_id} />
                  <input type='hidden' name='sku' value={l.sku} />
                  <input type='hidden' name='back' value='/cart' />
                  <button type='submit' className='link' data-testid={`cart-remove-${l.sku}`}>{t('remove')}</button>
                </form>
                <span className='price'>{money(l.line_total, cart?.currency)}</span>
              </li>
            ))}
          </ul>
          <p className='total'>
            {t('subtotal')} <strong data-testid='cart-subtotal'>{money(cart?.subtotal ?? 0, cart?.currency)}</strong>
          </p>
          <form action={clearCart}>
            <input type='hidden' name='back' value='/cart' />
            <button type='submit' className='link' data-testid='cart-clear'>{t('clearCart')}</button>
          </form>
          <CheckoutForm />
        </>
      )}
    </Shell>
  );
}
