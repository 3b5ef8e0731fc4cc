/**
 * What a shopper reads for the checkout's error codes, in Spanish (es-AR),
 * as the library's own validation messages are: one text per code, for
 * storefronts that show a CheckoutError as it is (the demo, web/next).
 */
export const CHECKOUT_ERROR_TEXTS_ES: Readonly<Record<string, string>> = {
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
