/** The Next.js storefront in es-MX (tú): es-AR's texts where they have no vos, its own where they do. */
import { esAR } from './es-AR';

export const esMX: Record<keyof typeof esAR, string> = {
  ...esAR,
  streetNumber: 'Número exterior',
  tryAgainSoon: 'Inténtalo de nuevo en un momento.',
  noOrders: 'Todavía no has hecho compras.',
  status_in_mediation: 'En disputa',
  return_refund_owed: 'Te devolveremos el dinero',
  detail_rejected: 'Tu carrito sigue apartado por unos minutos: vuelve al carrito y paga con otro medio.',
  detail_expired: 'El stock volvió a estar disponible. Vuelve al carrito para intentarlo de nuevo.',
  detail_open: 'Si ya pagaste, espera unos segundos y recarga la página.',
  payBy: 'Paga {total} con {method} antes del {deadline}. Te guardamos los productos hasta entonces.',
  pixScan: 'Escanea el código con la app de tu banco, o copia el código Pix:',
  pixCopy: 'Código Pix (copia y pega)',
  err_validation_failed: 'Revisa los datos marcados.',
  err_reservation_cooldown: 'Dejaste vencer varias reservas sin pagar: espera un rato antes de volver a reservar.',
  err_payment_provider_unavailable: 'MercadoPago no respondió; no se reservó nada. Inténtalo de nuevo en un momento.',
  err_session_required: 'No pudimos iniciar tu sesión. Inténtalo de nuevo.',
  err_over_request_rate_limit: 'Demasiados intentos desde tu conexión. Inténtalo de nuevo en un rato.',
  err_network_error: 'No pudimos conectarnos con la tienda. Inténtalo de nuevo.',
  err_service_unavailable: 'La tienda no está disponible en este momento. Inténtalo de nuevo.',
  err_error: 'Algo salió mal. Inténtalo de nuevo.',
};
