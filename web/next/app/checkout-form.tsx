'use client';
/**
 * The checkout form. It posts to the `checkout` Server Action: without
 * JavaScript the browser posts it and gets the page back with the action's
 * answer (React's useActionState renders it on the server); with JavaScript
 * the same, without a reload. The values stay in the form after a refusal.
 */
import { useActionState } from 'react';
import { checkout } from './actions';
import { type CheckoutField, EMPTY_CHECKOUT } from './checkout-form-state';

const FIELDS: { name: CheckoutField; label: string; path: string; type?: string; autoComplete?: string; optional?: boolean }[] = [
  { name: 'email', label: 'Email', path: 'payer.email', type: 'email', autoComplete: 'email' },
  { name: 'name', label: 'Nombre', path: 'payer.name', autoComplete: 'given-name' },
  { name: 'surname', label: 'Apellido', path: 'payer.surname', autoComplete: 'family-name', optional: true },
  { name: 'streetName', label: 'Calle', path: 'shippingAddress.streetName', autoComplete: 'address-line1' },
  { name: 'streetNumber', label: 'Altura', path: 'shippingAddress.streetNumber' },
  { name: 'zipCode', label: 'Código postal', path: 'shippingAddress.zipCode', autoComplete: 'postal-code' },
  { name: 'city', label: 'Ciudad', path: 'shippingAddress.city', autoComplete: 'address-level2' },
  { name: 'coupon', label: 'Cupón', path: 'coupon', optional: true },
];

export function CheckoutForm() {
  const [state, action, pending] = useActionState(checkout, EMPTY_CHECKOUT);
  return (
    <form action={action} className='checkout' data-testid='checkout-form' noValidate>
      <h2>Datos para el envío</h2>
      {state.message && (
        <p className='alert' role='alert' data-testid='checkout-error' data-code={state.code}>
          {state.message}
        </p>
      )}
      {FIELDS.map((f) => {
        const error = state.fields[f.path];
        return (
          <label key={f.name} className='field'>
            <span>
              {f.label}
              {f.optional ? ' (opcional)' : ''}
            </span>
            <input
              name={f.name}
              type={f.type ?? 'text'}
              autoComplete={f.autoComplete}
              defaultValue={state.values[f.name] ?? ''}
              aria-invalid={error ? true : undefined}
              data-testid={`checkout-${f.name}`}
            />
            {error && <small className='error' data-testid={`error-${f.name}`}>{error}</small>}
          </label>
        );
      })}
      <button type='submit' className='primary' disabled={pending} data-testid='checkout-submit'>
        {pending ? 'Reservando…' : 'Pagar con MercadoPago'}
      </button>
    </form>
  );
}
