/** What the shopper reads for each error code the library reports (Spanish, es-AR). */
import { CHECKOUT_ERROR_TEXTS_ES, StorefrontError, ValidationError } from '@mp-checkout/storefront';

const MESSAGES: Record<string, string> = {
  ...CHECKOUT_ERROR_TEXTS_ES,
  insufficient_stock: 'No hay stock suficiente para esa cantidad.',
  invalid_quantity: 'La cantidad no es válida.',
  validation_failed: 'Revisá los datos marcados.',
  hold_limit_product: 'Superaste la cantidad máxima por producto.',
  hold_limit_checkout: 'Superaste la cantidad máxima por compra.',
  reservation_cooldown: 'Dejaste vencer varias reservas sin pagar: esperá un rato antes de volver a reservar.',
  payment_provider_unavailable: 'MercadoPago no respondió; no se reservó nada. Probá de nuevo en un momento.',
  session_required: 'No pudimos iniciar tu sesión. Probá de nuevo.',
  over_request_rate_limit: 'Demasiados intentos desde tu conexión. Probá de nuevo en un rato.',
  network_error: 'No pudimos conectarnos con la tienda. Probá de nuevo.',
  service_unavailable: 'La tienda no está disponible en este momento. Probá de nuevo.',
};

/** The error's code when it is one of ours, else `error`. */
export function errorCode(err: unknown): string {
  return err instanceof StorefrontError ? err.code : 'error';
}

export function messageFor(code: string | undefined): string {
  return (code && MESSAGES[code]) ?? 'Algo salió mal. Probá de nuevo.';
}

/** A ValidationError's messages by field path (`payer.email`, `shippingAddress.zipCode`...). */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ValidationError)) return {};
  const out: Record<string, string> = {};
  for (const i of err.issues) out[i.path] ??= i.message;
  return out;
}
