import { type FormEvent, type MouseEvent, useEffect, useState } from 'react';
import { type CartLine, type CheckoutInput, type CouponPreview, type IdentificationType, InsufficientStockError, ValidationError } from '../../../src/index.ts';
import type { StoreApi } from '../store-api.ts';
import { attributeText, identificationTypes, money } from '../format.ts';
import { t } from '../i18n.ts';
import { loadCheckoutForm, saveCheckoutForm } from '../checkout-form.ts';
import { couponErrorText } from '../messages.ts';
import { savePendingCheckout } from '../pending-checkout.ts';
import { navigate } from '../router.ts';

export function CartPage({ api }: { api: StoreApi }) {
  const { cart } = api;
  const toCatalog = (e: MouseEvent) => {
    e.preventDefault();
    navigate('/');
  };
  if (!cart) return <p className='muted' data-testid='cart-loading'>{t('loadingCart')}</p>;
  if (cart.lines.length === 0) {
    return (
      <section data-testid='cart-empty'>
        <h1 className='page-title'>{t('yourCart')}</h1>
        <p>{t('cartEmpty')}</p>
        <a className='button primary' href='/' onClick={toCatalog}>
          {t('seeProducts')}
        </a>
      </section>
    );
  }
  return (
    <section className='cart-layout'>
      <div>
        <h1 className='page-title'>{t('yourCart')}</h1>
        <ul className='cart-lines' data-testid='cart-lines'>
          {cart.lines.map((l) => <CartLineRow key={l.variant_id} line={l} currency={cart.currency} api={api} />)}
        </ul>
        <div className='cart-summary'>
          <span>
            {cart.item_count === 1 ? t('subtotalOne') : t('subtotalN', { n: cart.item_count })}
          </span>
          <strong data-testid='cart-subtotal' data-amount={cart.subtotal}>
            {money(cart.subtotal, cart.currency)}
          </strong>
        </div>
        <button
          type='button'
          className='link danger'
          disabled={api.busy}
          onClick={() => void api.cartOp((sf) => sf.cart.clear(), t('cleared'))}
          data-testid='cart-clear'
        >
          {t('clearCart')}
        </button>
      </div>
      <CheckoutForm api={api} />
    </section>
  );
}

function CartLineRow({ line, currency, api }: { line: CartLine; currency: string | null; api: StoreApi }) {
  const [draft, setDraft] = useState(String(line.quantity));
  useEffect(() => setDraft(String(line.quantity)), [line.quantity]);
  const setQty = (q: number) => {
    if (q === line.quantity) return;
    void api.cartOp((sf) => sf.cart.setQuantity(line.variant_id, q)).then((ok) => {
      if (!ok) setDraft(String(line.quantity));
    });
  };
  const commit = () => {
    const q = Math.floor(Number(draft));
    if (!Number.isFinite(q) || q < 0) setDraft(String(line.quantity));
    else setQty(q);
  };
  const short = !line.active
    ? t('notForSale')
    : line.quantity > line.available
    ? (line.available <= 0 ? t('lineOutOfStock') : t('lineShort', { n: line.available }))
    : null;
  return (
    <li className='cart-line' data-testid={`cart-line-${line.sku}`} data-quantity={line.quantity}>
      <div className='cart-line-info'>
        <strong>{line.product_title}</strong>
        <span className='muted small'>
          {line.variant_title} · {attributeText(line.attributes)}
        </span>
        <span className='small'>{t('each', { price: money(line.unit_price, currency) })}</span>
        {short && (
          <span className='warning small' data-testid={`cart-line-warning-${line.sku}`}>
            {short}
          </span>
        )}
      </div>
      <div className='cart-line-actions'>
        <div className='stepper'>
          <button type='button' aria-label={t('removeOne')} disabled={api.busy} onClick={() => setQty(line.quantity - 1)} data-testid={`cart-dec-${line.sku}`}>
            −
          </button>
          <input
            aria-label={t('quantityOf', { product: line.product_title })}
            type='number'
            inputMode='numeric'
            min={0}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onBlur={commit}
            onKeyDown={(e) => {
              if (e.key === 'Enter') commit();
            }}
            data-testid={`cart-qty-${line.sku}`}
          />
          <button type='button' aria-label={t('addOne')} disabled={api.busy} onClick={() => setQty(line.quantity + 1)} data-testid={`cart-inc-${line.sku}`}>
            +
          </button>
        </div>
        <strong className='line-total' data-testid={`cart-line-total-${line.sku}`}>
          {money(line.line_total, currency)}
        </strong>
        <button
          type='button'
          className='link danger'
          disabled={api.busy}
          onClick={() => void api.cartOp((sf) => sf.cart.remove(line.variant_id), t('removed', { product: line.product_title }))}
          data-testid={`cart-remove-${line.sku}`}
        >
          {t('remove')}
        </button>
      </div>
    </li>
  );
}

interface FormState {
  email: string;
  name: string;
  surname: string;
  streetName: string;
  streetNumber: string;
  floor: string;
  apartment: string;
  zipCode: string;
  city: string;
  state: string;
  /** The payer's identification (optional; its type one of the store's country). */
  idType: string;
  idNumber: string;
  coupon: string;
  /** "Send me reminders of my cart": unticked unless the shopper ticks it. */
  marketingOptIn: boolean;
}

/** The form's text fields (everything but the marketing box). */
type TextField = Exclude<keyof FormState, 'marketingOptIn'>;

const EMPTY: FormState = {
  email: '',
  name: '',
  surname: '',
  streetName: '',
  streetNumber: '',
  floor: '',
  apartment: '',
  zipCode: '',
  city: '',
  state: '',
  idType: '',
  idNumber: '',
  coupon: '',
  marketingOptIn: false,
};

/** Which form field a library issue path belongs to. */
const FIELD_OF: Record<string, Exclude<keyof FormState, 'marketingOptIn'>> = {
  'payer.email': 'email',
  'payer.name': 'name',
  'payer.surname': 'surname',
  'shippingAddress.streetName': 'streetName',
  'shippingAddress.streetNumber': 'streetNumber',
  'shippingAddress.floor': 'floor',
  'shippingAddress.apartment': 'apartment',
  'shippingAddress.zipCode': 'zipCode',
  'shippingAddress.city': 'city',
  'shippingAddress.state': 'state',
  'payer.identification.number': 'idNumber',
  'payer.identification.type': 'idNumber',
  'payer.identification': 'idNumber',
  coupon: 'coupon',
};

function CheckoutForm({ api }: { api: StoreApi }) {
  const [form, setForm] = useState<FormState>(() => {
    return { ...EMPTY, ...loadCheckoutForm<FormState>() };
  });
  const [errors, setErrors] = useState<Partial<Record<TextField, string>>>({});
  const [submitting, setSubmitting] = useState(false);
  const [preview, setPreview] = useState<CouponPreview | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const cart = api.cart;

  // The coupon's discount and the total, before paying: the rule checkout
  // applies, asked again whenever the cart changes.
  const applyCoupon = async (code: string) => {
    if (!code.trim()) {
      setPreview(null);
      return;
    }
    setPreviewing(true);
    try {
      setPreview(await api.sf.cart.previewCoupon(code));
      setErrors((er) => ({ ...er, coupon: undefined }));
    } catch (err) {
      setPreview(null);
      setErrors((er) => ({ ...er, coupon: couponErrorText(err) }));
    } finally {
      setPreviewing(false);
    }
  };
  const subtotal = cart?.subtotal;
  useEffect(() => {
    if (preview) void applyCoupon(preview.coupon);
    // Only a change of the cart asks again.
  }, [subtotal]);
  const blocked = cart?.lines.some((l) => !l.active || l.quantity > l.available) ?? false;

  const set = (k: TextField) => (e: { target: { value: string } }) => {
    setForm((f) => ({ ...f, [k]: e.target.value }));
    setErrors((er) => ({ ...er, [k]: undefined }));
    if (k === 'coupon') setPreview(null);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    saveCheckoutForm({ ...form, coupon: '', marketingOptIn: false });
    const input: CheckoutInput = {
      payer: {
        email: form.email,
        name: form.name,
        ...(form.surname.trim() ? { surname: form.surname } : {}),
        ...(form.idNumber.trim() ? { identification: { type: (form.idType || identificationTypes()[0]!) as IdentificationType, number: form.idNumber } } : {}),
      },
      shippingAddress: {
        streetName: form.streetName,
        streetNumber: form.streetNumber,
        zipCode: form.zipCode,
        city: form.city,
        ...(form.state.trim() ? { state: form.state } : {}),
        ...(form.floor.trim() ? { floor: form.floor } : {}),
        ...(form.apartment.trim() ? { apartment: form.apartment } : {}),
      },
      ...(form.coupon.trim() ? { coupon: form.coupon } : {}),
      ...(form.marketingOptIn ? { marketingOptIn: true } : {}),
    };
    setSubmitting(true);
    api.showAlert(null);
    try {
      const result = await api.sf.checkout(input);
      api.setPending(savePendingCheckout(result));
      api.showAlert({ kind: 'info', title: t('toMercadoPago') });
      window.location.assign(result.redirectUrl);
    } catch (err) {
      setSubmitting(false);
      if (err instanceof ValidationError && err.issues.some((i) => FIELD_OF[i.path])) {
        const next: Partial<Record<TextField, string>> = {};
        for (const i of err.issues) {
          const field = FIELD_OF[i.path];
          // The library's messages, in the store's language (makeStorefront passes its locale).
          if (field && !next[field]) next[field] = i.message;
        }
        setErrors(next);
        api.showAlert({ kind: 'validation', title: t('checkForm') });
        return;
      }
      api.fail(err);
      if (err instanceof InsufficientStockError) void api.refresh();
    }
  };

  const field = (
    k: TextField,
    label: string,
    props: { type?: string; autoComplete?: string; inputMode?: 'numeric' | 'email'; optional?: boolean } = {},
  ) => (
    <label className={`field ${errors[k] ? 'invalid' : ''}`}>
      <span>
        {label}
        {props.optional && <span className='muted'>{t('optional')}</span>}
      </span>
      <input
        type={props.type ?? 'text'}
        name={k}
        value={form[k]}
        onChange={set(k)}
        autoComplete={props.autoComplete}
        inputMode={props.inputMode}
        aria-invalid={!!errors[k]}
        aria-describedby={errors[k] ? `error-${k}` : undefined}
        data-testid={`checkout-${k}`}
      />
      {errors[k] && (
        <span className='field-error' id={`error-${k}`} data-testid={`error-${k}`}>
          {errors[k]}
        </span>
      )}
    </label>
  );

  return (
    <form className='checkout' onSubmit={(e) => void submit(e)} noValidate data-testid='checkout-form'>
      <h2>{t('yourDetails')}</h2>
      {field('email', t('email'), { type: 'email', autoComplete: 'email', inputMode: 'email' })}
      <div className='row'>
        {field('name', t('name'), { autoComplete: 'given-name' })}
        {field('surname', t('surname'), { autoComplete: 'family-name', optional: true })}
      </div>
      <h2>{t('shipping')}</h2>
      <div className='row'>
        {field('streetName', t('streetName'), { autoComplete: 'address-line1' })}
        {field('streetNumber', t('streetNumber'), { inputMode: 'numeric' })}
      </div>
      <div className='row'>
        {field('floor', t('floor'), { optional: true })}
        {field('apartment', t('apartment'), { optional: true })}
      </div>
      <div className='row'>
        {field('zipCode', t('zipCode'), { autoComplete: 'postal-code' })}
        {field('city', t('city'), { autoComplete: 'address-level2' })}
      </div>
      {field('state', t('state'), { autoComplete: 'address-level1', optional: true })}
      <div className='row'>
        <label className='field'>
          <span>{t('document')}</span>
          <select
            name='idType'
            value={form.idType || identificationTypes()[0]}
            onChange={(e) => setForm((f) => ({ ...f, idType: e.target.value }))}
            data-testid='checkout-idType'
          >
            {identificationTypes().map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </label>
        {field('idNumber', t('documentNumber'), { optional: true })}
      </div>
      <div className='coupon-row'>
        {field('coupon', t('coupon'), { optional: true })}
        <button
          type='button'
          className='button small'
          disabled={previewing || !form.coupon.trim()}
          onClick={() => void applyCoupon(form.coupon)}
          data-testid='coupon-apply'
        >
          {previewing ? t('applying') : t('apply')}
        </button>
      </div>
      {preview && (
        <div className='cart-summary discount' data-testid='coupon-discount' data-amount={preview.discount}>
          <span>
            {t('discount')} ({preview.coupon})
          </span>
          <strong>−{money(preview.discount, preview.currency)}</strong>
        </div>
      )}
      <div className='cart-summary total'>
        <span>{t('totalToPay')}</span>
        <strong data-testid='checkout-total' data-amount={preview ? preview.total : cart?.subtotal}>
          {preview ? money(preview.total, preview.currency) : cart ? money(cart.subtotal, cart.currency) : '—'}
        </strong>
      </div>
      <label className='consent' data-testid='checkout-marketing'>
        <input
          type='checkbox'
          name='marketingOptIn'
          checked={form.marketingOptIn}
          onChange={(e) => setForm((f) => ({ ...f, marketingOptIn: e.target.checked }))}
          data-testid='checkout-marketingOptIn'
        />
        <span>
          {t('marketingOptIn')} <span className='muted'>{t('marketingOptInNote')}</span>
        </span>
      </label>
      <p className='small muted'>{t('holdNote')}</p>
      <button type='submit' className='button primary wide' disabled={submitting || blocked || api.busy} data-testid='checkout-submit'>
        {submitting ? t('reserving') : t('pay')}
      </button>
    </form>
  );
}
