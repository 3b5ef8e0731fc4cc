/** Library errors to what the shopper reads. */
import {
  CheckoutError,
  HoldLimitError,
  InsufficientStockError,
  NetworkError,
  PaymentProviderError,
  ReservationExpiredError,
  SessionRequiredError,
  type ShortLine,
  StorefrontError,
  ValidationError,
} from '../../src/index.ts';
import { units } from './format.ts';

export type AlertKind = 'out-of-stock' | 'expired' | 'network' | 'validation' | 'error' | 'info' | 'success';

export interface AlertMessage {
  kind: AlertKind;
  title: string;
  lines?: string[];
}

function shortLineText(s: ShortLine, titles: Map<string, string>): string {
  const name = s.title ?? (s.variant_id ? titles.get(s.variant_id) : undefined) ?? s.sku ?? 'un producto';
  if (s.available <= 0) return `${name}: no queda stock (pediste ${units(s.requested)}).`;
  return `${name}: ${s.available === 1 ? 'queda 1 unidad' : `quedan ${s.available} unidades`} (pediste ${units(s.requested)}).`;
}

const CHECKOUT_CODES: Record<string, string> = {
  empty_cart: 'Tu carrito está vacío.',
  mixed_currency: 'El carrito tiene productos en monedas distintas.',
  variant_unavailable: 'Uno de los productos ya no está a la venta.',
  coupon_unknown: 'El cupón no existe.',
  coupon_not_applicable: 'El cupón no se puede usar con esta compra.',
  coupon_used_up: 'El cupón ya se agotó.',
  forbidden: 'Esta compra pertenece a otra sesión.',
  not_found: 'No encontramos esa compra.',
};

const hhmm = (iso: string) => new Date(iso).toLocaleTimeString('es-AR', { hour: '2-digit', minute: '2-digit' });

/** The fair-stock limits (CKH01-03), in Spanish. */
function holdLimitMessage(err: HoldLimitError, titles: Map<string, string>): AlertMessage {
  if (err.code === 'hold_limit_product') {
    const max = err.max === undefined ? 'pocas' : String(err.max);
    return {
      kind: 'validation',
      title: `Podés llevar hasta ${max} unidades de cada producto`,
      lines: err.lines.map((l) => {
        const name = (l.variant_id ? titles.get(l.variant_id) : undefined) ?? l.sku ?? 'Un producto';
        return `${name}: pediste ${l.requested ?? 'más'}, el máximo es ${max}.`;
      }),
    };
  }
  if (err.code === 'hold_limit_checkout') {
    return {
      kind: 'validation',
      title: `Podés comprar hasta ${err.max ?? 'pocas'} unidades por compra`,
      lines: [`Tu carrito tiene ${err.requested ?? 'más'}. Quitá algunas unidades y volvé a intentar.`],
    };
  }
  return {
    kind: 'error',
    title: 'Demasiadas reservas sin pagar',
    lines: [
      err.retryAfter
        ? `Dejaste vencer varias reservas sin pagar. Vas a poder reservar de nuevo a las ${hhmm(err.retryAfter)}.`
        : 'Dejaste vencer varias reservas sin pagar. Esperá un rato antes de volver a reservar.',
    ],
  };
}

/** `titles`: variant id → "Producto (variante)", to name lines the server only knows by id. */
export function describeError(err: unknown, titles: Map<string, string> = new Map()): AlertMessage {
  if (err instanceof InsufficientStockError) {
    return {
      kind: 'out-of-stock',
      title: 'No hay stock suficiente',
      lines: err.short.length > 0 ? err.short.map((s) => shortLineText(s, titles)) : ['Otro comprador se llevó las últimas unidades.'],
    };
  }
  if (err instanceof ReservationExpiredError) {
    return {
      kind: 'expired',
      title: 'Tu reserva venció',
      lines: ['Pasó el tiempo para pagar y liberamos el stock. Revisá tu carrito y volvé a iniciar la compra.'],
    };
  }
  if (err instanceof NetworkError) {
    return {
      kind: 'network',
      title: 'No pudimos conectarnos con la tienda',
      lines: ['Revisá tu conexión a internet y volvé a intentar. No se hizo ningún cambio.'],
    };
  }
  if (err instanceof PaymentProviderError) {
    return {
      kind: 'error',
      title: 'MercadoPago no está disponible',
      lines: ['No reservamos nada. Probá de nuevo en unos minutos.'],
    };
  }
  if (err instanceof ValidationError) {
    return { kind: 'validation', title: 'Revisá los datos', lines: err.issues.map((i) => i.message) };
  }
  if (err instanceof SessionRequiredError && err.code === 'over_request_rate_limit') {
    return {
      kind: 'error',
      title: 'Demasiados ingresos desde tu conexión',
      lines: ['Se abrieron muchas sesiones nuevas desde esta red en la última hora. Esperá unos minutos y recargá la página.'],
    };
  }
  if (err instanceof SessionRequiredError && err.code === 'captcha_failed') {
    return {
      kind: 'error',
      title: 'No pudimos verificar que sos una persona',
      lines: ['Recargá la página y completá la verificación para empezar a comprar.'],
    };
  }
  if (err instanceof SessionRequiredError) {
    return { kind: 'error', title: 'Tu sesión terminó', lines: ['Recargá la página para seguir comprando.'] };
  }
  if (err instanceof HoldLimitError) return holdLimitMessage(err, titles);
  // A recovery email's restore link (restoreCart).
  if (err instanceof StorefrontError && ['link_expired', 'invalid_link'].includes(err.code)) {
    const why = { link_expired: 'El enlace del correo venció.', invalid_link: 'El enlace del correo no es válido.' };
    return { kind: 'error', title: 'No pudimos recuperar tu carrito', lines: [why[err.code as keyof typeof why]] };
  }
  if (err instanceof CheckoutError) {
    return { kind: 'error', title: CHECKOUT_CODES[err.code] ?? 'No pudimos completar la compra', lines: [] };
  }
  if (err instanceof StorefrontError) {
    return { kind: 'error', title: 'Algo salió mal', lines: [err.message] };
  }
  return { kind: 'error', title: 'Algo salió mal', lines: [err instanceof Error ? err.message : String(err)] };
}
