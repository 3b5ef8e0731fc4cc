/**
 * create-preference: reserve the shopper's cart as an order session, create
 * its MercadoPago preference, answer where to pay. No preference, no sale:
 * when MercadoPago fails, the reservation is released at once.
 */
import { publicSession } from '../_shared/checkout.ts';
import { callerAddress } from '../_shared/client-address.ts';
import type { Deps, Handler } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import type { StoreCountry } from '../_shared/country.ts';
import { identificationIssue } from '../_shared/identification.ts';
import { requireShopper } from '../_shared/jwt.ts';
import { offersOffline, preferenceFor } from '../_shared/preference.ts';
import { invalidField, validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { CREATE_PREFERENCE_ROUTES as ROUTES } from './routes.ts';

/** The body, with `return_url` checked against the return pages this project allows. */
function checkoutBody(config: Deps['config']) {
  const allowed = new Set([config.returnUrl, ...config.returnUrls]);
  return ROUTES.checkout.body.refine((b) => b.return_url === undefined || allowed.has(b.return_url), {
    path: ['return_url'],
    message: 'not one of the return URLs this project allows (CHECKOUT_RETURN_URL, CHECKOUT_RETURN_URLS)',
  });
}

export function createPreferenceHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  const schema = checkoutBody(deps.config);
  return withErrors(deps.log, async (req) => {
    matchRoute('create-preference', ROUTES, req);
    const { sessionId } = await requireShopper(req, deps.verifyJwt);
    const body = validate(schema, parseJson(await readBody(req)));
    const { coupon, marketing_opt_in, return_url: returnUrl, ...rest } = body;
    let country: StoreCountry | undefined;
    if (rest.payer.identification !== undefined) {
      // A type of the store's country (the body's schema checked the number).
      country = await deps.routines.storeCountry();
      const issue = identificationIssue(country.site_id, rest.payer.identification);
      if (issue !== undefined) throw invalidField(`payer.identification.${issue.field}`, issue.message);
    }
    // The shopper's address (forwarded by a server holding a secret key, else
    // the gateway's): the database caps what one address's checkouts hold (CKH05).
    const address = callerAddress(req, deps.config) ?? null;
    const session = await deps.routines.beginCheckout(sessionId, rest.payer, rest.shipping_address, coupon ?? null, address, marketing_opt_in ?? false);
    deps.log('checkout_begun', { order_session_id: session.id, total: session.total, currency: session.currency, items: session.item_count });
    // Offline methods (cash tickets, ATM, Pix) hold the stock for days: a
    // cart past the hoarding limits gets cards only (docs/offline-payments.md).
    const offline = offersOffline(deps.config) ? await deps.routines.offlineMethodsAllowed(session.id) : { allowed: false, reason: null };
    // A discounted order is one item whose title the buyer reads: in the store's language.
    const locale = Number(session.discount) > 0 ? (country ?? await deps.routines.storeCountry()).locale : undefined;
    let preference;
    try {
      preference = await deps.mp.createPreference(preferenceFor(session, deps.config, now(), returnUrl, offline.allowed, locale), session.id);
    } catch (err) {
      // No preference, no sale: free the stock at once. If even that fails,
      // the reservation still lapses on its own (lazy expiry).
      await deps.routines.releaseSession(session.id, 'preference could not be created').catch((releaseErr: unknown) =>
        deps.log('release_failed', { order_session_id: session.id, message: String(releaseErr) })
      );
      deps.log('preference_failed', { order_session_id: session.id, message: err instanceof Error ? err.message : String(err) });
      throw new HttpError(502, 'payment_provider_unavailable', 'MercadoPago could not create the payment; nothing was reserved, try again');
    }
    const attached = await deps.routines.attachPreference(session.id, preference.id);
    deps.log('preference_created', { order_session_id: session.id, preference_id: preference.id });
    return json(201, {
      order_session: publicSession(attached),
      preference_id: preference.id,
      init_point: preference.init_point,
      sandbox_init_point: preference.sandbox_init_point,
    });
  });
}
