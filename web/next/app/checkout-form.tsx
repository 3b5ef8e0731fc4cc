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
import { useTexts } from './locale';
import type { NextKey } from '../lib/i18n';

const FIELDS: { name: CheckoutField; label: NextKey; path: string; type?: string; autoComplete?: string; optional?: boolean }[] = [
  { name: 'email', label: 'email', path: 'payer.email', type: 'email', autoComplete: 'email' },
  { name: 'name', label: 'name', path: 'payer.name', autoComplete: 'given-name' },
  { name: 'surname', label: 'surname', path: 'payer.surname', autoComplete: 'family-name', optional: true },
  { name: 'streetName', label: 'streetName', path: 'shippingAddress.streetName', autoComplete: 'address-line1' },
  { name: 'streetNumber', label: 'streetNumber', path: 'shippingAddress.streetNumber' },
  { name: 'zipCode', label: 'zipCode', path: 'shippingAddress.zipCode', autoComplete: 'postal-code' },
  { name: 'city', label: 'city', path: 'shippingAddress.city', autoComplete: 'address-level2' },
  { name: 'coupon', label: 'coupon', path: 'coupon', optional: true },
];

export function CheckoutForm() {
  const [state, action, pending] = useActionState(checkout, EMPTY_CHECKOUT);
  const t = useTexts();
  return (
    <form action={action} className='checkout' data-testid='checkout-form' noValidate>
      <h2>{t('shippingDetails')}</h2>
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
              {t(f.label)}
              {f.optional ? ` ${t('optional')}` : ''}
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
        {pending ? t('reserving') : t('pay')}
      </button>
    </form>
  );
}
