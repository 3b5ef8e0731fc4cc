/** Library errors to what the shopper reads. */
import {
  AuthenticationError,
  CHECKOUT_ERROR_TEXTS_ES,
  CheckoutError,
  HoldLimitError,
  InsufficientStockError,
  type MergeChange,
  type MergeReport,
  NetworkError,
  PaymentProviderError,
  ReservationExpiredError,
  SessionRequiredError,
  type ShortLine,
  StorefrontError,
  ValidationError,
} from '../../src/index.ts';
import { time, units } from './format.ts';

type AlertKind = 'out-of-stock' | 'expired' | 'network' | 'validation' | 'error' | 'info' | 'success';

export interface AlertMessage {
  kind: AlertKind;
  title: string;
  lines?: string[];
  /** A data-testid for the alert's body (tests find specific notices by it). */
  testid?: string;
}

function shortLineText(s: ShortLine, titles: Map<string, string>): string {
  const name = s.title ?? (s.variant_id ? titles.get(s.variant_id) : undefined) ?? s.sku ?? 'un producto';
  if (s.available <= 0) return `${name}: no queda stock (pediste ${units(s.requested)}).`;
  return `${name}: ${s.available === 1 ? 'queda 1 unidad' : `quedan ${s.available} unidades`} (pediste ${units(s.requested)}).`;
}

const hhmm = time;

/** The fair-stock limits (CKH01-03, CKH05), in Spanish. */
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
  if (err.code === 'hold_limit_address') {
    const frees = err.retryAfter ? ` Se libera stock a las ${hhmm(err.retryAfter)}.` : '';
    return {
      kind: 'error',
      title: 'Hay muchas compras sin pagar desde tu conexión',
      lines: [
        `Las compras en curso desde tu conexión ya reservan ${err.held ?? 'varias'} unidades (el máximo es ${err.max ?? 'bajo'}) y esta pide ${
          err.requested ?? 'más'
        }.${frees} Pagá o dejá vencer alguna y volvé a intentar.`,
      ],
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
  if (err instanceof AuthenticationError) {
    return { kind: 'validation', title: AUTH_CODES[err.code] ?? 'No pudimos ingresar', lines: AUTH_CODES[err.code] ? [] : [err.message], testid: 'auth-error' };
  }
  // A recovery email's restore link (restoreCart).
  if (err instanceof StorefrontError && ['link_expired', 'invalid_link'].includes(err.code)) {
    const why = { link_expired: 'El enlace del correo venció.', invalid_link: 'El enlace del correo no es válido.' };
    return { kind: 'error', title: 'No pudimos recuperar tu carrito', lines: [why[err.code as keyof typeof why]] };
  }
  if (err instanceof CheckoutError) {
    return { kind: 'error', title: CHECKOUT_ERROR_TEXTS_ES[err.code] ?? 'No pudimos completar la compra', lines: [] };
  }
  if (err instanceof StorefrontError) {
    return { kind: 'error', title: 'Algo salió mal', lines: [err.message] };
  }
  return { kind: 'error', title: 'Algo salió mal', lines: [err instanceof Error ? err.message : String(err)] };
}

const AUTH_CODES: Record<string, string> = {
  invalid_credentials: 'Email o contraseña incorrectos.',
  user_already_exists: 'Ya existe una cuenta con ese email: ingresá con tu contraseña.',
  email_exists: 'Ya existe una cuenta con ese email: ingresá con tu contraseña.',
  weak_password: 'La contraseña debe tener al menos 6 caracteres.',
  email_address_invalid: 'El email no es válido.',
  same_password: 'La contraseña nueva tiene que ser distinta de la anterior.',
  already_signed_in: 'Ya ingresaste con una cuenta.',
};

/** A coupon the preview refused, for the field under the coupon input. */
export function couponErrorText(err: unknown): string {
  if (err instanceof ValidationError) return err.issues[0]?.message ?? 'Código de cupón inválido';
  if (err instanceof CheckoutError) {
    const texts: Record<string, string> = {
      coupon_unknown: 'Ese cupón no existe.',
      coupon_not_applicable: 'Ese cupón no se puede usar con este carrito (vigencia, monto mínimo o moneda).',
      coupon_used_up: 'Ese cupón ya se agotó.',
      empty_cart: 'Tu carrito está vacío.',
      mixed_currency: 'El carrito tiene productos en monedas distintas.',
    };
    return texts[err.code] ?? 'No pudimos aplicar el cupón.';
  }
  return describeError(err).title;
}

function mergeChangeText(c: MergeChange): string {
  switch (c.reason) {
    case 'insufficient_stock':
      return `${c.title}: sumamos ${c.quantity} de ${units(c.requested)}, no hay más stock.`;
    case 'max_line_quantity':
      return `${c.title}: sumamos ${c.quantity} de ${units(c.requested)}, llegaste al máximo por producto.`;
    case 'not_for_sale':
      return `${c.title}: ya no está a la venta, no lo sumamos.`;
    case 'currency_mismatch':
      return `${c.title}: está en otra moneda que tu carrito, no lo sumamos.`;
    case 'kept_account_cart':
      return `${c.title}: quedó el carrito de tu cuenta, no lo sumamos.`;
    case 'replaced':
      return `${c.title}: lo quitamos, quedó el carrito de este dispositivo.`;
  }
}

/** The notice after signing in: the anonymous cart was merged into the account's. */
export function mergeNotice(report: MergeReport): AlertMessage {
  if (report.changes.length === 0) {
    return {
      kind: 'success',
      title: report.lines_moved > 0 ? 'Ingresaste. Sumamos los productos de este dispositivo a tu carrito.' : 'Ingresaste.',
      testid: 'merge-notice',
    };
  }
  return {
    kind: 'info',
    title: 'Ingresaste. Unimos tu carrito con el de tu cuenta, con estos cambios:',
    lines: report.changes.map(mergeChangeText),
    testid: 'merge-notice',
  };
}
