/**
 * The demo storefront's texts on the buying path (header, checkout form, the
 * order, the paid return) in es-AR, es-MX and pt-BR; the store's locale
 * (from /env.js) picks the nearest catalog. Every key is in every catalog
 * (tests/contract/i18n.test.ts). The other pages' texts are in
 * i18n-pages.ts and the errors' in i18n-messages.ts, joined here into one
 * catalog per locale.
 */
import { type Catalogs, translator } from '../../../edge/_shared/i18n/format.ts';
import { createElement, Fragment, type ReactNode } from 'react';
import { messagesAR, messagesBR, messagesMX } from './i18n-messages.ts';
import { pagesAR, pagesBR, pagesMX } from './i18n-pages.ts';

const esAR = {
  brand: 'Tienda demo',
  signOut: 'Salir',
  signUp: 'Crear cuenta',
  signIn: 'Ingresar',
  myOrders: 'Mis pedidos',
  cart: 'Carrito',
  footer: 'Demo · pagos con MercadoPago (sandbox local) · datos en Supabase',
  close: 'Cerrar',
  retry: 'Reintentar',
  yourDetails: 'Tus datos',
  email: 'Email',
  name: 'Nombre',
  surname: 'Apellido',
  shipping: 'Envío',
  streetName: 'Calle',
  streetNumber: 'Altura',
  floor: 'Piso',
  apartment: 'Depto.',
  zipCode: 'Código postal',
  city: 'Ciudad',
  state: 'Provincia',
  document: 'Documento',
  documentNumber: 'Número',
  optional: '(opcional)',
  coupon: 'Cupón de descuento',
  apply: 'Aplicar',
  applying: 'Aplicando…',
  discount: 'Descuento',
  totalToPay: 'Total a pagar',
  total: 'Total',
  marketingOptIn: 'Quiero recibir por email recordatorios de mi carrito.',
  marketingOptInNote: 'Te vamos a mandar un correo para que lo confirmes; podés darte de baja cuando quieras.',
  holdNote: 'Reservamos tu stock mientras pagás con MercadoPago (15 minutos por defecto).',
  pay: 'Pagar con MercadoPago',
  reserving: 'Reservando…',
  checkForm: 'Revisá los datos marcados en el formulario.',
  toMercadoPago: 'Te llevamos a MercadoPago para pagar…',
  order: 'Pedido {number}',
  status_paid: 'Pagado',
  status_in_mediation: 'En mediación',
  status_refunded: 'Reembolsado',
  status_charged_back: 'Contracargo',
  thanks: '¡Gracias por tu compra!',
  paidDetail: 'Tu pago fue aprobado. Te enviamos el detalle a {email}.',
  yourEmail: 'tu email',
  keepShopping: 'Seguir comprando',
  seeOrders: 'Ver mis pedidos',
  ...pagesAR,
  ...messagesAR,
};

type Key = keyof typeof esAR;

const esMX: Record<Key, string> = {
  ...esAR,
  signIn: 'Iniciar sesión',
  streetNumber: 'Número exterior',
  floor: 'Piso',
  apartment: 'Número interior',
  state: 'Estado',
  marketingOptInNote: 'Te enviaremos un correo para que lo confirmes; puedes darte de baja cuando quieras.',
  holdNote: 'Apartamos tu stock mientras pagas con MercadoPago (15 minutos por defecto).',
  checkForm: 'Revisa los datos marcados en el formulario.',
  status_in_mediation: 'En disputa',
  ...pagesMX,
  ...messagesMX,
};

const ptBR: Record<Key, string> = {
  brand: 'Loja demo',
  signOut: 'Sair',
  signUp: 'Criar conta',
  signIn: 'Entrar',
  myOrders: 'Meus pedidos',
  cart: 'Carrinho',
  footer: 'Demo · pagamentos com MercadoPago (sandbox local) · dados no Supabase',
  close: 'Fechar',
  retry: 'Tentar de novo',
  yourDetails: 'Seus dados',
  email: 'E-mail',
  name: 'Nome',
  surname: 'Sobrenome',
  shipping: 'Entrega',
  streetName: 'Rua',
  streetNumber: 'Número',
  floor: 'Andar',
  apartment: 'Apto.',
  zipCode: 'CEP',
  city: 'Cidade',
  state: 'Estado',
  document: 'Documento',
  documentNumber: 'Número',
  optional: '(opcional)',
  coupon: 'Cupom de desconto',
  apply: 'Aplicar',
  applying: 'Aplicando…',
  discount: 'Desconto',
  totalToPay: 'Total a pagar',
  total: 'Total',
  marketingOptIn: 'Quero receber por e-mail lembretes do meu carrinho.',
  marketingOptInNote: 'Vamos enviar um e-mail para você confirmar; você pode cancelar quando quiser.',
  holdNote: 'Reservamos seu estoque enquanto você paga com o MercadoPago (15 minutos por padrão).',
  pay: 'Pagar com MercadoPago',
  reserving: 'Reservando…',
  checkForm: 'Confira os dados marcados no formulário.',
  toMercadoPago: 'Levando você ao MercadoPago para pagar…',
  order: 'Pedido {number}',
  status_paid: 'Pago',
  status_in_mediation: 'Em mediação',
  status_refunded: 'Reembolsado',
  status_charged_back: 'Estornado',
  thanks: 'Obrigado pela sua compra!',
  paidDetail: 'Seu pagamento foi aprovado. Enviamos os detalhes para {email}.',
  yourEmail: 'seu e-mail',
  keepShopping: 'Continuar comprando',
  seeOrders: 'Ver meus pedidos',
  ...pagesBR,
  ...messagesBR,
};

export type DemoKey = Key;
export const DEMO_CATALOGS: Catalogs<Key> = { 'es-AR': esAR, 'es-MX': esMX, 'pt-BR': ptBR };

let translate = translator(DEMO_CATALOGS, 'es-AR');
let locale = 'es-AR';

/** Picks the catalog of the store's locale (main.tsx, once at start). */
export function setDemoLocale(l: string): void {
  translate = translator(DEMO_CATALOGS, l);
  locale = l;
}

/** The store's locale (the library's own messages, CHECKOUT_ERROR_TEXTS and VALIDATION_MESSAGES, are looked up by it). */
export const storeLocale = (): string => locale;

/** The text of `key` in the store's catalog. */
export const t = (key: Key, params?: Record<string, string | number>): string => translate(key, params);

/** `key`'s text when the catalogs have it (a value the server sends, such as a rejection's status_detail), else undefined. */
export const tIfKnown = (key: string): string | undefined => (key in esAR ? t(key as Key) : undefined);

/** `key`'s text with some placeholders filled by elements (a <strong> with a data-testid), as React children. */
export function tNodes(key: Key, nodes: Record<string, ReactNode>): ReactNode {
  const parts = t(key).split(/\{(\w+)\}/);
  return createElement(Fragment, null, ...parts.map((p, i) => (i % 2 === 1 && p in nodes ? nodes[p] : p)));
}
