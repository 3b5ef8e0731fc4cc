/**
 * The links in the emails that change what the store may send an address:
 * unsubscribe (every reminder) and confirm the marketing box ticked at
 * checkout (the opt-in email). One rule for both: GET (the link in the
 * email's body, and whatever link scanner or preview opens it first) only
 * asks, with a page and a button; POST acts: a mail client's one-click POST
 * (RFC 8058, answered in JSON) or the page's button (a browser asking for
 * HTML, answered with a page). A bad or expired link acts on nothing.
 */
import { corsHeaders, HttpError, json } from '../_shared/http.ts';
import { LinkError, verifyLink } from '../_shared/links.ts';

export function linkError(err: unknown): never {
  if (err instanceof LinkError) {
    if (err.reason === 'expired') throw new HttpError(410, 'link_expired', 'this link has expired');
    throw new HttpError(400, 'invalid_link', 'this link is not valid');
  }
  throw err;
}

/** A small es-AR page; with `button`, a form that posts back to the same address (token included). */
function page(status: number, title: string, message: string, button?: string): Response {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const form = button ? `<form method="post"><button type="submit" style="font-size:1rem;padding:.6rem 1.2rem">${esc(button)}</button></form>` : '';
  return new Response(
    `<!doctype html><html lang="es-AR"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${
      esc(title)
    }</title></head><body style="font-family:Arial,sans-serif;margin:3rem"><h1>${esc(title)}</h1><p>${esc(message)}</p>${form}</body></html>`,
    { status, headers: { ...corsHeaders, 'Content-Type': 'text/html; charset=utf-8' } },
  );
}

export interface LinkAction {
  purpose: 'unsubscribe' | 'opt_in';
  /** Its route in SEND_EMAILS_ROUTES (routes.ts). */
  route: 'unsubscribe' | 'optIn';
  /** The routine that acts on the address (service role), and the log event after it. */
  routine: 'email.unsubscribe' | 'email.confirm_marketing_opt_in';
  logEvent: string;
  /** The GET page: what pressing the button will do. */
  ask: { title: string; message: string; button: string };
  /** The page after the POST. */
  done: { title: string; message: string };
  /** The page for a bad or expired link. */
  invalid: string;
  /** The one-click POST's JSON answer. */
  doneJson: Record<string, unknown>;
}

export const UNSUBSCRIBE: LinkAction = {
  purpose: 'unsubscribe',
  route: 'unsubscribe',
  routine: 'email.unsubscribe',
  logEvent: 'unsubscribed',
  ask: {
    title: '¿Dejar de recibir recordatorios?',
    message: 'No te vamos a enviar más recordatorios de carrito. Los correos de tus compras te van a seguir llegando.',
    button: 'Darme de baja',
  },
  done: { title: 'Listo', message: 'Ya no te vamos a enviar recordatorios de carrito. Los correos de tus compras te van a seguir llegando.' },
  invalid: 'Este enlace para darte de baja no es válido o venció.',
  doneJson: { unsubscribed: true },
};

export const OPT_IN: LinkAction = {
  purpose: 'opt_in',
  route: 'optIn',
  routine: 'email.confirm_marketing_opt_in',
  logEvent: 'marketing_opt_in_confirmed',
  ask: {
    title: '¿Querés recibir recordatorios de tu carrito?',
    message: 'Te vamos a enviar por email recordatorios de los productos que dejes en tu carrito. Podés darte de baja cuando quieras.',
    button: 'Sí, quiero recibirlos',
  },
  done: { title: 'Listo', message: 'Vas a recibir recordatorios de tu carrito. Podés darte de baja desde cualquiera de ellos.' },
  invalid: 'Este enlace de confirmación no es válido o venció.',
  doneJson: { subscribed: true },
};

export const LINK_ACTIONS = [UNSUBSCRIBE, OPT_IN];

/** GET asks, POST acts (`act` runs `a.routine`) on the address the signed `token` names (the route allows GET and POST only). */
export async function linkAction(
  req: Request,
  token: string,
  secret: string,
  nowSeconds: number,
  a: LinkAction,
  act: (email: string) => Promise<void>,
): Promise<Response> {
  const asPage = req.method === 'GET' || (req.headers.get('accept') ?? '').includes('text/html');
  let email: string;
  try {
    email = (await verifyLink(secret, a.purpose, token, nowSeconds)).email;
  } catch (err) {
    if (!asPage) linkError(err);
    if (err instanceof LinkError) return page(err.reason === 'expired' ? 410 : 400, 'Enlace no válido', a.invalid);
    throw err;
  }
  if (req.method === 'GET') return page(200, a.ask.title, a.ask.message, a.ask.button);
  await act(email);
  return asPage ? page(200, a.done.title, a.done.message) : json(200, a.doneJson);
}
