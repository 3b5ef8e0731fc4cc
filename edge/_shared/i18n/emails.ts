/**
 * The emails' texts in es-AR (vos), es-MX (tú) and pt-BR. Keys are the same
 * in each (tests/contract/i18n.test.ts); placeholders are `{name}`.
 */
import type { Catalogs } from './format.ts';

const esAR = {
  total: 'Total',
  discount: 'Descuento',
  reminderSubject: '¿Te olvidaste algo? Tu carrito en {store} te espera',
  reminderIntro: 'Guardamos tu carrito. Estos son los productos, con sus precios de hoy:',
  reminderButton: 'Volver a mi carrito',
  reminderNote: 'Los precios y el stock pueden cambiar hasta que completes la compra. El enlace vence en unos días.',
  reminderWhy: 'Recibiste este correo porque dejaste productos en tu carrito.',
  unsubscribe: 'No quiero recibir más recordatorios',
  confirmationSubject: 'Recibimos tu pedido {order}',
  confirmationThanks: '¡Gracias por tu compra{name}! Tu pago fue aprobado y tu pedido {order} está confirmado.',
  shipTo: 'Envío a:',
  floor: 'piso {floor}',
  apartment: 'depto. {apartment}',
  confirmationFooter: 'Número de pedido {order}. Guardá este correo como comprobante.',
  optInSubject: 'Confirmá que querés recibir recordatorios de {store}',
  optInIntro: 'En tu compra en {store} marcaste que querés recibir por email recordatorios de tu carrito.',
  optInButtonLead: 'Confirmalo con este botón:',
  optInLinkLead: 'Confirmalo en este enlace:',
  optInButton: 'Sí, quiero recibirlos',
  optInNote: 'Si no fuiste vos, ignorá este correo: no te vamos a enviar nada.',
  optInFooter: 'Podés darte de baja cuando quieras desde cualquier recordatorio.',
};

type Key = keyof typeof esAR;

// Mexico says tú where Argentina says vos; the rest reads alike.
const esMX: Record<Key, string> = {
  ...esAR,
  reminderSubject: '¿Olvidaste algo? Tu carrito en {store} te espera',
  reminderNote: 'Los precios y la disponibilidad pueden cambiar hasta que completes la compra. El enlace vence en unos días.',
  apartment: 'int. {apartment}',
  confirmationFooter: 'Número de pedido {order}. Guarda este correo como comprobante.',
  optInSubject: 'Confirma que quieres recibir recordatorios de {store}',
  optInIntro: 'En tu compra en {store} marcaste que quieres recibir por correo recordatorios de tu carrito.',
  optInButtonLead: 'Confírmalo con este botón:',
  optInLinkLead: 'Confírmalo en este enlace:',
  optInNote: 'Si no fuiste tú, ignora este correo: no te enviaremos nada.',
  optInFooter: 'Puedes darte de baja cuando quieras desde cualquier recordatorio.',
};

const ptBR: Record<Key, string> = {
  total: 'Total',
  discount: 'Desconto',
  reminderSubject: 'Esqueceu alguma coisa? Seu carrinho na {store} está esperando',
  reminderIntro: 'Guardamos seu carrinho. Estes são os produtos, com os preços de hoje:',
  reminderButton: 'Voltar ao meu carrinho',
  reminderNote: 'Os preços e o estoque podem mudar até você concluir a compra. O link expira em alguns dias.',
  reminderWhy: 'Você recebeu este e-mail porque deixou produtos no seu carrinho.',
  unsubscribe: 'Não quero receber mais lembretes',
  confirmationSubject: 'Recebemos seu pedido {order}',
  confirmationThanks: 'Obrigado pela sua compra{name}! Seu pagamento foi aprovado e seu pedido {order} está confirmado.',
  shipTo: 'Entrega em:',
  floor: '{floor}º andar',
  apartment: 'apto. {apartment}',
  confirmationFooter: 'Pedido número {order}. Guarde este e-mail como comprovante.',
  optInSubject: 'Confirme que você quer receber lembretes da {store}',
  optInIntro: 'Na sua compra na {store} você marcou que quer receber por e-mail lembretes do seu carrinho.',
  optInButtonLead: 'Confirme com este botão:',
  optInLinkLead: 'Confirme neste link:',
  optInButton: 'Sim, quero receber',
  optInNote: 'Se não foi você, ignore este e-mail: não enviaremos nada.',
  optInFooter: 'Você pode cancelar quando quiser a partir de qualquer lembrete.',
};

export type EmailKey = Key;
export const EMAIL_CATALOGS: Catalogs<Key> = { 'es-AR': esAR, 'es-MX': esMX, 'pt-BR': ptBR };
