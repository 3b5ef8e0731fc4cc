/**
 * create-preference: reserve the shopper's cart as an order session, create
 * its MercadoPago preference, answer where to pay. No preference, no sale:
 * when MercadoPago fails, the reservation is released at once.
 */
import { z } from 'zod';
import { publicSession } from '../_shared/checkout.ts';
import { COUPON_CODE, EMAIL_MAX_LENGTH } from '../_shared/contract.ts';
import type { Deps, Handler } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { requireShopper } from '../_shared/jwt.ts';
import { preferenceFor } from '../_shared/preference.ts';
import { requireMethod, validate } from '../_shared/request.ts';
import { storableString } from '../_shared/text.ts';

const text = (max: number) => storableString().trim().min(1).max(max);

/** The request body (edge/README.md). */
export const CheckoutBody = z.strictObject({
  payer: z.strictObject({
    email: storableString().pipe(z.email().max(EMAIL_MAX_LENGTH)),
    name: text(100),
    surname: storableString().trim().max(100).optional(),
    phone: z.strictObject({ area_code: storableString().regex(/^\d{0,6}$/).optional(), number: storableString().regex(/^[\d -]{4,20}$/) }).optional(),
    identification: z.strictObject({ type: text(20), number: storableString().regex(/^[\dA-Za-z.-]{3,20}$/) }).optional(),
  }),
  shipping_address: z.strictObject({
    street_name: text(200),
    street_number: text(20),
    zip_code: storableString().trim().regex(/^[A-Za-z0-9 -]{3,12}$/, 'invalid postal code'),
    city: text(100),
    state: storableString().trim().max(100).optional(),
    floor: storableString().trim().max(10).optional(),
    apartment: storableString().trim().max(10).optional(),
    notes: storableString().trim().max(500).optional(),
  }),
  coupon: storableString().trim().regex(COUPON_CODE, 'invalid coupon code').nullish(),
});

export function createPreferenceHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  return withErrors(deps.log, async (req) => {
    requireMethod(req, 'POST');
    const { sessionId } = await requireShopper(req, deps.verifyJwt);
    const body = validate(CheckoutBody, parseJson(await readBody(req)));
    const { coupon, ...rest } = body;
    const session = await deps.routines.beginCheckout(sessionId, rest.payer, rest.shipping_address, coupon ?? null);
    deps.log('checkout_begun', { order_session_id: session.id, total: session.total, currency: session.currency, items: session.item_count });
    let preference;
    try {
      preference = await deps.mp.createPreference(preferenceFor(session, deps.config, now()), session.id);
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
