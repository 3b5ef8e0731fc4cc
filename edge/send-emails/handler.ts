/**
 * send-emails: drains the email outbox through Resend, and answers the two
 * signed links the emails carry.
 *
 *   POST /send-emails              service role only (pg_cron + pg_net, or the
 *                                  local stack): claim due rows, render, send,
 *                                  record. 429 / 5xx / network: retried with
 *                                  backoff, then left for a later run; other 4xx:
 *                                  recorded as failed. The idempotency key is the
 *                                  outbox row, so a retry is never a second email.
 *   POST /send-emails/restore      {token} with the shopper's JWT: copies the
 *                                  reminded cart into the caller's cart.
 *   GET|POST /send-emails/unsubscribe?token=...   the opt-out: GET asks (a
 *                                  page with a button), POST unsubscribes
 *                                  (one-click, RFC 8058, or the button).
 *   GET|POST /send-emails/opt-in?token=...   the double opt-in: GET asks,
 *                                  POST confirms the marketing box ticked at
 *                                  checkout (link-pages.ts).
 */
import type { StoreCountry } from '../_shared/country.ts';
import { asUser, type Db } from '../_shared/db.ts';
import { type ConfirmationData, type ReminderData, renderConfirmation, type RenderedEmail, renderOptIn, renderReminder } from '../_shared/email-render.ts';
import { renderFraudAlert } from '../_shared/email-fraud.ts';
import { type PaymentInstructionsData, renderPaymentInstructions } from '../_shared/email-offline.ts';
import { type EmailConfig, isRetryable, type Mailer, type OutgoingEmail, type SendResult } from '../_shared/emails.ts';
import { json, type Logger, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { type JwtVerifier, requireShopper } from '../_shared/jwt.ts';
import { signLink, verifyLink } from '../_shared/links.ts';
import { requireServiceRole, validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { LINK_ACTIONS, linkAction, linkError } from './link-pages.ts';
import { SEND_EMAILS_ROUTES as ROUTES } from './routes.ts';

export interface EmailDeps {
  db: Db;
  mailer: Mailer;
  config: EmailConfig;
  verifyJwt: JwtVerifier;
  log: Logger;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

interface ClaimedRow {
  id: number;
  kind: 'cart_reminder' | 'order_confirmation' | 'marketing_opt_in' | 'fraud_alert' | 'payment_instructions';
  recipient: string;
  session_id: string;
  cart_created_at: string | null;
  created_at: string;
  attempts: number;
  idempotency_key: string;
  data: unknown;
}

type Summary = { claimed: number; sent: number; retry_later: number; failed: number };

/** How long the link that confirms the marketing box works. */
const OPT_IN_TTL_SECONDS = 7 * 24 * 3600;

/** What one outbox row becomes. Links expire relative to the row, so a retry renders the same email (same idempotent payload). */
export async function renderRow(row: ClaimedRow, config: EmailConfig, locale = 'es-AR'): Promise<RenderedEmail> {
  const common = { storeName: config.storeName, locale };
  if (row.kind === 'order_confirmation') return renderConfirmation(row.data as ConfirmationData, common);
  // Every email, the staff's fraud alert included, in the store's locale (i18n/emails.ts).
  if (row.kind === 'fraud_alert') return renderFraudAlert(row.data as ConfirmationData, common);
  if (row.kind === 'payment_instructions') return renderPaymentInstructions(row.data as PaymentInstructionsData, common);
  // Postgres gives microseconds; Date.parse wants at most milliseconds.
  const createdMs = Date.parse(row.created_at.replace(/(\.\d{3})\d+/, '$1'));
  if (Number.isNaN(createdMs)) throw new Error(`unreadable created_at ${row.created_at}`);
  const created = Math.floor(createdMs / 1000);
  if (row.kind === 'marketing_opt_in') {
    const optIn = await signLink(config.linkSecret, 'opt_in', { email: row.recipient, exp: created + OPT_IN_TTL_SECONDS });
    return renderOptIn({ ...common, confirmUrl: `${config.functionsUrl}/send-emails/opt-in?token=${optIn}` });
  }
  const restore = await signLink(config.linkSecret, 'restore', {
    session_id: row.session_id,
    cart_created_at: row.cart_created_at!,
    exp: created + config.restoreTtlSeconds,
  });
  const unsubscribe = await signLink(config.linkSecret, 'unsubscribe', { email: row.recipient, exp: created + 365 * 24 * 3600 });
  return renderReminder(row.data as ReminderData, {
    ...common,
    restoreUrl: `${config.siteUrl}/?restore=${restore}`,
    unsubscribeUrl: `${config.functionsUrl}/send-emails/unsubscribe?token=${unsubscribe}`,
  });
}

async function sendOne(deps: EmailDeps, row: ClaimedRow, summary: Summary, locale: string): Promise<void> {
  const { config, db, log } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let rendered: RenderedEmail;
  try {
    if (!row.data) throw new Error('nothing to render (the order or cart is gone)');
    rendered = await renderRow(row, config, locale);
  } catch (err) {
    await db.query('select email.mark_failed($1, $2, false)', [row.id, { reason: 'render_failed', message: (err as Error).message }]);
    summary.failed++;
    log('email_failed', { outbox_id: row.id, kind: row.kind, reason: 'render_failed' });
    return;
  }
  const email: OutgoingEmail = {
    from: config.from,
    to: [row.recipient],
    subject: rendered.subject,
    html: rendered.html,
    text: rendered.text,
    headers: rendered.headers,
    ...(config.replyTo ? { replyTo: config.replyTo } : {}),
    tags: [{ name: 'kind', value: row.kind }, { name: 'outbox_id', value: String(row.id) }],
  };
  let result: SendResult = { ok: false, status: null, name: 'not_sent', message: 'not sent' };
  for (let attempt = 1; attempt <= config.maxTries; attempt++) {
    result = await deps.mailer.send(email, row.idempotency_key);
    if (result.ok || !isRetryable(result) || attempt === config.maxTries) break;
    const backoff = Math.min(result.retryAfterMs ?? config.retryBaseMs * 2 ** (attempt - 1), config.retryMaxDelayMs);
    log('email_retry', { outbox_id: row.id, status: result.status, name: result.name, attempt, backoff_ms: backoff });
    await sleep(backoff);
  }
  if (result.ok) {
    await db.query('select email.mark_sent($1, $2)', [row.id, result.id]);
    summary.sent++;
    log('email_sent', { outbox_id: row.id, kind: row.kind, provider_id: result.id });
  } else if (result.name === 'invalid_idempotent_request') {
    // The provider already accepted this row's key (our record of it was
    // lost): it was sent; sending again under a new key would be a duplicate.
    await db.query('select email.mark_sent($1, $2)', [row.id, null]);
    summary.sent++;
    log('email_sent', { outbox_id: row.id, kind: row.kind, provider_id: null, note: 'already accepted under this idempotency key' });
  } else {
    const retry = isRetryable(result);
    const error = { status: result.status, name: result.name, message: result.message };
    const r = (await db.query<{ r: { status: string } }>('select email.mark_failed($1, $2, $3) as r', [row.id, error, retry]))[0]!.r;
    if (r.status === 'pending') summary.retry_later++;
    else summary.failed++;
    log(retry ? 'email_retry_later' : 'email_failed', { outbox_id: row.id, kind: row.kind, ...error, outbox_status: r.status });
  }
}

/** The store's locale (private.settings.locale): the emails' and the link pages' language. */
async function storeLocale(db: EmailDeps['db']): Promise<string> {
  return (await db.query<{ r: StoreCountry }>('select checkout.store_country() as r'))[0]!.r.locale;
}

export function sendEmailsHandler(deps: EmailDeps): (req: Request) => Promise<Response> {
  const now = () => Math.floor((deps.now?.() ?? new Date()).getTime() / 1000);
  return withErrors(deps.log, async (req) => {
    const { name, url } = matchRoute('send-emails', ROUTES, req);

    const action = LINK_ACTIONS.find((a) => a.route === name);
    if (action) {
      const token = ROUTES[action.route].query.safeParse(Object.fromEntries(url.searchParams)).data?.token ?? '';
      return linkAction(req, token, deps.config.linkSecret, now(), action, async (email) => {
        await deps.db.query(`select ${action.routine}($1)`, [email]);
        deps.log(action.logEvent, {});
      }, () => storeLocale(deps.db));
    }

    if (name === 'restore') {
      const { sessionId } = await requireShopper(req, deps.verifyJwt);
      const body = validate(ROUTES.restore.body, parseJson(await readBody(req)));
      const claims = await verifyLink(deps.config.linkSecret, 'restore', body.token, now()).catch(linkError);
      const r = (await deps.db.query<{ r: Record<string, unknown> }>(
        ...asUser(sessionId, 'select email.restore_cart($1, $2::timestamptz, $3) as r', [claims.session_id, claims.cart_created_at, sessionId]),
      ))[0]!.r;
      deps.log('cart_restored', { session: sessionId, restored: r.restored });
      return json(200, r);
    }

    await requireServiceRole(req, deps);
    const rows = (await deps.db.query<{ r: ClaimedRow[] }>('select email.claim($1) as r', [deps.config.batchSize]))[0]!.r;
    const summary: Summary = { claimed: rows.length, sent: 0, retry_later: 0, failed: 0 };
    // The store's locale (private.settings.locale), read once per batch.
    const locale = rows.length ? await storeLocale(deps.db) : 'es-AR';
    for (const row of rows) await sendOne(deps, row, summary, locale);
    if (rows.length) deps.log('send_batch', summary);
    return json(200, summary);
  });
}
