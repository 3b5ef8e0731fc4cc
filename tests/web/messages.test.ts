/**
 * The library's own texts by locale (web/src/messages.ts): the validation
 * messages checkout() and the account calls throw in the store's language
 * (createStorefront's `locale`), the checkout error texts by locale, and the
 * exports that were es-AR before (checkoutInputSchema, CHECKOUT_ERROR_TEXTS_ES)
 * unchanged. No server: validation fails before any request.
 */
import { createClient } from '@supabase/supabase-js';
import { describe, expect, test } from 'vitest';
import {
  CHECKOUT_ERROR_TEXTS_ES,
  checkoutErrorTexts,
  checkoutInputSchema,
  checkoutInputSchemaFor,
  createStorefront,
  credentialsSchemaFor,
  type Database,
  ValidationError,
} from '../../web/src/index.ts';
import { serverRealtimeOptions } from '../../web/src/ssr.ts';

const badForm = {
  payer: { email: 'not-an-email', name: ' ', identification: { type: 'CPF' as const, number: '529.982.247-24' } },
  shippingAddress: { streetName: 'Rua Augusta', streetNumber: '', zipCode: '0!', city: 'São Paulo' },
  coupon: 'no!',
};

async function issuesOf(locale: string | undefined): Promise<Record<string, string>> {
  // A client nobody reaches: the form is refused before any request.
  const supabase = createClient<Database>('http://127.0.0.1:9', 'anon', { auth: { persistSession: false }, realtime: serverRealtimeOptions() });
  const store = createStorefront({ supabase, ...(locale ? { locale } : {}) });
  const err = await store.checkout(badForm).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  return Object.fromEntries((err as ValidationError).issues.map((i) => [i.path, i.message]));
}

describe("the library's validation messages in the store's language", () => {
  test('pt-BR: every field of a bad checkout form in Portuguese', async () => {
    expect(await issuesOf('pt-BR')).toEqual({
      'payer.email': 'E-mail inválido',
      'payer.name': 'Informe seu nome',
      'payer.identification.number': 'Documento inválido',
      'shippingAddress.streetNumber': 'Informe o número',
      'shippingAddress.zipCode': 'CEP inválido',
      coupon: 'Código de cupom inválido',
    });
  });

  test('es-MX (and es-CL, which reads it): tú, a Mexican address', async () => {
    const mx = await issuesOf('es-MX');
    expect(mx['payer.name']).toBe('Ingresa tu nombre');
    expect(mx['shippingAddress.streetNumber']).toBe('Ingresa el número exterior');
    expect(await issuesOf('es-CL')).toEqual(mx);
  });

  test('no locale: es-AR, as before, and the same as the es-AR schema export', async () => {
    const ar = await issuesOf(undefined);
    expect(ar['payer.name']).toBe('Ingresá tu nombre');
    expect(ar['shippingAddress.zipCode']).toBe('Código postal inválido');
    const direct = checkoutInputSchema.safeParse(badForm);
    expect(Object.fromEntries(direct.error!.issues.map((i) => [i.path.join('.'), i.message]))).toEqual(ar);
    expect(checkoutInputSchemaFor('es-AR')).toBe(checkoutInputSchemaFor('es-UY'));
  });

  test('the account calls too: a short password in pt-BR', () => {
    const r = credentialsSchemaFor('pt-BR').safeParse({ email: 'ana@example.com', password: '123' });
    expect(r.error?.issues.map((i) => i.message)).toEqual(['A senha deve ter pelo menos 6 caracteres']);
    const long = credentialsSchemaFor('pt-BR').safeParse({ email: 'ana@example.com', password: 'x'.repeat(73) });
    expect(long.error?.issues.map((i) => i.message)).toEqual(['Máximo de 72 caracteres']);
  });
});

describe('the checkout error texts by locale', () => {
  test('pt-BR and es-MX have their own; CHECKOUT_ERROR_TEXTS_ES is still es-AR', () => {
    expect(checkoutErrorTexts('pt-BR')['empty_cart']).toBe('Seu carrinho está vazio.');
    expect(checkoutErrorTexts('es-MX')['invalid_input']).toBe('Revisa el código del cupón.');
    expect(checkoutErrorTexts('es-AR')).toBe(CHECKOUT_ERROR_TEXTS_ES);
    expect(CHECKOUT_ERROR_TEXTS_ES['invalid_input']).toBe('Revisá el código del cupón.');
  });
});
