/** The cart, rendered on the server: quantities, removal and emptying are Server Actions; then the checkout form. */
import { pageCart } from '../../lib/session';
import { availability, money } from '../../lib/format';
import { clearCart, removeFromCart, setQuantity } from '../actions';
import { CheckoutForm } from '../checkout-form';
import { Notice, type SearchParams } from '../notice';
import { Shell } from '../shell';

export default async function CartPage({ searchParams }: { searchParams: SearchParams }) {
  const cart = await pageCart();
  const lines = cart?.lines ?? [];
  return (
    <Shell>
      <h1>Carrito</h1>
      <Notice searchParams={searchParams} ok='Carrito actualizado.' />
      {lines.length === 0 ? <p data-testid='cart-empty'>Tu carrito está vacío.</p> : (
        <>
          <ul className='lines'>
            {lines.map((l) => (
              <li key={l.variant_id} data-testid={`cart-line-${l.sku}`} data-quantity={l.quantity}>
                <div>
                  <strong>{l.product_title}</strong> <span className='muted'>{l.variant_title}</span>
                  <div className='muted'>
                    {money(l.unit_price, cart?.currency)} c/u · {availability(l.available)}
                  </div>
                </div>
                <form action={setQuantity} className='qty'>
                  <input type='hidden' name='variantId' value={l.variant_id} />
                  <input type='hidden' name='sku' value={l.sku} />
                  <input type='hidden' name='back' value='/cart' />
                  <input name='quantity' type='number' min={0} defaultValue={l.quantity} aria-label='Cantidad' data-testid={`cart-qty-${l.sku}`} />
                  <button type='submit' data-testid={`cart-update-${l.sku}`}>Actualizar</button>
                </form>
                <form action={removeFromCart}>
                  <input type='hidden' name='variantId' value={l.variant_id} />
                  <input type='hidden' name='sku' value={l.sku} />
                  <input type='hidden' name='back' value='/cart' />
                  <button type='submit' className='link' data-testid={`cart-remove-${l.sku}`}>Quitar</button>
                </form>
                <span className='price'>{money(l.line_total, cart?.currency)}</span>
              </li>
            ))}
          </ul>
          <p className='total'>
            Subtotal: <strong data-testid='cart-subtotal'>{money(cart?.subtotal ?? 0, cart?.currency)}</strong>
          </p>
          <form action={clearCart}>
            <input type='hidden' name='back' value='/cart' />
            <button type='submit' className='link' data-testid='cart-clear'>Vaciar carrito</button>
          </form>
          <CheckoutForm />
        </>
      )}
    </Shell>
  );
}
