/**
 * What a shopper reads from the library, in the three catalogs the texts are
 * written in (es-AR, es-MX, pt-BR; `catalogFor` picks the nearest for the
 * other Spanish-speaking countries):
 *  - CHECKOUT_ERROR_TEXTS: one text per checkout error code, for storefronts
 *    that show a CheckoutError as it is (the demo, web/next);
 *  - VALIDATION_MESSAGES: the messages of checkout() and the account calls'
 *    ValidationError issues (createStorefront's `locale` picks them).
 * Every key is in every catalog (tests/contract/i18n.test.ts).
 */
import { catalogFor, type CatalogLocale } from '../../edge/_shared/country.ts';

const checkoutAR = {
  empty_cart: 'Tu carrito está vacío.',
  mixed_currency: 'El carrito tiene productos en monedas distintas.',
  variant_unavailable: 'Uno de los productos ya no está a la venta.',
  coupon_unknown: 'El cupón no existe.',
  coupon_not_applicable: 'El cupón no se puede usar con esta compra.',
  coupon_used_up: 'El cupón ya se agotó.',
  forbidden: 'Esta compra pertenece a otra sesión.',
  invalid_input: 'Revisá el código del cupón.',
  merge_forbidden: 'No pudimos pasar tu carrito a la cuenta.',
  already_merged: 'Ese carrito ya se pasó a otra cuenta.',
  not_found: 'No encontramos esa compra.',
  too_many_lookups: 'Hubo demasiadas consultas del estado del pago. Esperá un rato y volvé a intentar: si el pago se aprobó, la compra se confirma igual.',
};

/** A checkout error code the texts name. */
export type CheckoutErrorTextCode = keyof typeof checkoutAR;

/** The checkout's error codes as a shopper reads them, by catalog locale. */
export const CHECKOUT_ERROR_TEXTS: Readonly<Record<CatalogLocale, Readonly<Record<CheckoutErrorTextCode, string>>>> = {
  'es-AR': checkoutAR,
  'es-MX': {
    ...checkoutAR,
    invalid_input: 'Revisa el código del cupón.',
    too_many_lookups: 'Hubo demasiadas consultas del estado del pago. Espera un rato e inténtalo de nuevo: si el pago se aprobó, la compra se confirma igual.',
  },
  'pt-BR': {
    empty_cart: 'Seu carrinho está vazio.',
    mixed_currency: 'O carrinho tem produtos em moedas diferentes.',
    variant_unavailable: 'Um dos produtos não está mais à venda.',
    coupon_unknown: 'O cupom não existe.',
    coupon_not_applicable: 'O cupom não pode ser usado nesta compra.',
    coupon_used_up: 'O cupom já se esgotou.',
    forbidden: 'Esta compra pertence a outra sessão.',
    invalid_input: 'Confira o código do cupom.',
    merge_forbidden: 'Não conseguimos passar seu carrinho para a conta.',
    already_merged: 'Esse carrinho já foi passado para outra conta.',
    not_found: 'Não encontramos essa compra.',
    too_many_lookups:
      'Houve consultas demais do status do pagamento. Espere um pouco e tente de novo: se o pagamento foi aprovado, a compra é confirmada do mesmo jeito.',
  },
};

/** The es-AR texts (as before there were three): kept for existing callers; prefer checkoutErrorTexts(locale). */
export const CHECKOUT_ERROR_TEXTS_ES: Readonly<Record<string, string>> = CHECKOUT_ERROR_TEXTS['es-AR'];

/** The checkout error texts for a locale (any of the seven countries' locales: the nearest catalog). */
export const checkoutErrorTexts = (locale: string): Readonly<Record<string, string>> => CHECKOUT_ERROR_TEXTS[catalogFor(locale)];

const validationAR = {
  enterEmail: 'Ingresá tu email',
  enterName: 'Ingresá tu nombre',
  enterStreetName: 'Ingresá la calle',
  enterStreetNumber: 'Ingresá la altura',
  enterZipCode: 'Ingresá el código postal',
  enterCity: 'Ingresá la ciudad',
  enterPassword: 'Ingresá una contraseña',
  /** `{max}`: the most characters the field takes. */
  tooLong: 'Máximo {max} caracteres',
  emailInvalid: 'Email inválido',
  phoneInvalid: 'Teléfono inválido',
  identificationTypeInvalid: 'Tipo de documento inválido',
  identificationInvalid: 'Documento inválido',
  zipCodeInvalid: 'Código postal inválido',
  couponInvalid: 'Código de cupón inválido',
  passwordTooShort: 'La contraseña debe tener al menos 6 caracteres',
};

/** The keys of the validation messages. */
export type ValidationMessageKey = keyof typeof validationAR;
export type ValidationMessages = Readonly<Record<ValidationMessageKey, string>>;

/** The messages of a ValidationError's issues, by catalog locale. */
export const VALIDATION_MESSAGES: Readonly<Record<CatalogLocale, ValidationMessages>> = {
  'es-AR': validationAR,
  'es-MX': {
    ...validationAR,
    enterEmail: 'Ingresa tu email',
    enterName: 'Ingresa tu nombre',
    enterStreetName: 'Ingresa la calle',
    enterStreetNumber: 'Ingresa el número exterior',
    enterZipCode: 'Ingresa el código postal',
    enterCity: 'Ingresa la ciudad',
    enterPassword: 'Ingresa una contraseña',
  },
  'pt-BR': {
    enterEmail: 'Informe seu e-mail',
    enterName: 'Informe seu nome',
    enterStreetName: 'Informe a rua',
    enterStreetNumber: 'Informe o número',
    enterZipCode: 'Informe o CEP',
    enterCity: 'Informe a cidade',
    enterPassword: 'Informe uma senha',
    tooLong: 'Máximo de {max} caracteres',
    emailInvalid: 'E-mail inválido',
    phoneInvalid: 'Telefone inválido',
    identificationTypeInvalid: 'Tipo de documento inválido',
    identificationInvalid: 'Documento inválido',
    zipCodeInvalid: 'CEP inválido',
    couponInvalid: 'Código de cupom inválido',
    passwordTooShort: 'A senha deve ter pelo menos 6 caracteres',
  },
};

/** The validation messages for a locale (the nearest catalog). */
export const validationMessages = (locale: string): ValidationMessages => VALIDATION_MESSAGES[catalogFor(locale)];
