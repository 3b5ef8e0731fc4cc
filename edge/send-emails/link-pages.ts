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
import { EMAIL_CATALOGS, type EmailKey } from '../_shared/i18n/emails.ts';
import { translator } from '../_shared/i18n/format.ts';
import { LinkError, verifyLink } from '../_shared/links.ts';

export function linkError(err: unknown): never {
  if (err instanceof LinkError) {
    if (err.reason === 'expired') throw new HttpError(410, 'link_expired', 'this link has expired');
    throw new HttpError(400, 'invalid_link', 'this link is not valid');
  }
  throw err;
}

/** A small page in the store's language; with `button`, a form that posts back to the same address (token included). */
function page(status: number, locale: string, title: string, message: string, button?: string): Response {
  const esc = (v: string) => v.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const form = button ? `<form method="post"><button type="submit" style="font-size:1rem;padding:.6rem 1.2rem">${esc(button)}</button></form>` : '';
  return new Response(
    `<!doctype html><html lang="${esc(locale)}"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>${
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
  /** The GET page: what pressing the button will do (keys of the emails' catalogs, i18n/emails.ts). */
  ask: { title: EmailKey; message: EmailKey; button: EmailKey };
  /** The page after the POST (titled linkDone). */
  done: EmailKey;
  /** The page for a bad or expired link (titled linkInvalidTitle). */
  invalid: EmailKey;
  /** The one-click POST's JSON answer. */
  doneJson: Record<string, unknown>;
}

export const UNSUBSCRIBE: LinkAction = {
  purpose: 'unsubscribe',
  route: 'unsubscribe',
  routine: 'email.unsubscribe',
  logEvent: 'unsubscribed',
  ask: { title: 'linkUnsubscribeTitle', message: 'linkUnsubscribeAsk', button: 'linkUnsubscribeButton' },
  done: 'linkUnsubscribed',
  invalid: 'linkUnsubscribeInvalid',
  doneJson: { unsubscribed: true },
};

export const OPT_IN: LinkAction = {
  purpose: 'opt_in',
  route: 'optIn',
  routine: 'email.confirm_marketing_opt_in',
  logEvent: 'marketing_opt_in_confirmed',
  // The button says what the opt-in email's button said.
  ask: { title: 'linkOptInTitle', message: 'linkOptInAsk', button: 'optInButton' },
  done: 'linkOptedIn',
  invalid: 'linkOptInInvalid',
  doneJson: { subscribed: true },
};

export const LINK_ACTIONS = [UNSUBSCRIBE, OPT_IN];

/**
 * GET asks, POST acts (`act` runs `a.routine`) on the address the signed
 * `token` names (the route allows GET and POST only). Pages are in the
 * store's locale (`locale()`: private.settings.locale, read only for a page).
 */
export async function linkAction(
  req: Request,
  token: string,
  secret: string,
  nowSeconds: number,
  a: LinkAction,
  act: (email: string) => Promise<void>,
  locale: () => Promise<string>,
): Promise<Response> {
  const asPage = req.method === 'GET' || (req.headers.get('accept') ?? '').includes('text/html');
  const show = async (status: number, title: EmailKey, message: EmailKey, button?: EmailKey) => {
    const l = await locale();
    const t = translator(EMAIL_CATALOGS, l);
    return page(status, l, t(title), t(message), button && t(button));
  };
  let email: string;
  try {
    email = (await verifyLink(secret, a.purpose, token, nowSeconds)).email;
  } catch (err) {
    if (!asPage) linkError(err);
    if (err instanceof LinkError) return show(err.reason === 'expired' ? 410 : 400, 'linkInvalidTitle', a.invalid);
    throw err;
  }
  if (req.method === 'GET') return show(200, a.ask.title, a.ask.message, a.ask.button);
  await act(email);
  return asPage ? show(200, 'linkDone', a.done) : json(200, a.doneJson);
}
