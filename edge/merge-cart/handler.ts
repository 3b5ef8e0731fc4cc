/**
 * merge-cart: a shopper with an anonymous cart logged in to an existing
 * account (which replaces the anonymous user in supabase-js). The storefront
 * kept a fresh access token of the anonymous user; it sends it in the body,
 * with the account's token in Authorization. Both are verified here, then
 * checkout.merge_carts moves the anonymous cart, checkout in progress, order
 * sessions and orders into the account and reports every line it capped or
 * dropped. Nobody can merge a cart that is not theirs: without a valid
 * anonymous token of another user, nothing moves. The anonymous token must
 * also belong to a live Auth session (its `session_id` claim): after a
 * sign-out the token stays valid until it expires, but merges nothing
 * (checkout.merge_carts checks auth.sessions; 401 `session_ended`).
 */
import type { AdminDeps } from '../_shared/deps.ts';
import { HttpError, json, parseJson, readBody, withErrors } from '../_shared/http.ts';
import { isUuid, requireShopper } from '../_shared/jwt.ts';
import { validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { MERGE_CART_ROUTES as ROUTES } from './routes.ts';

export function mergeCartHandler(deps: AdminDeps): (req: Request) => Promise<Response> {
  return withErrors(deps.log, async (req) => {
    matchRoute('merge-cart', ROUTES, req);
    const { sessionId: accountId, claims } = await requireShopper(req, deps.verifyJwt);
    if (claims.is_anonymous !== false) {
      throw new HttpError(403, 'account_required', 'sign in to an account (email and password) before merging a cart into it');
    }
    const body = validate(ROUTES.merge.body, parseJson((await readBody(req)) || '{}'));
    let anonymous;
    try {
      anonymous = await deps.verifyJwt(body.anonymous_token);
    } catch (err) {
      const reason = err instanceof HttpError ? err.message : 'invalid token';
      deps.log('merge_refused', { account_id: accountId, reason });
      throw new HttpError(401, 'invalid_anonymous_token', `the anonymous session's token is not valid: ${reason}`);
    }
    if (anonymous.role !== 'authenticated' || !isUuid(anonymous.sub) || anonymous.is_anonymous !== true) {
      deps.log('merge_refused', { account_id: accountId, reason: 'not an anonymous user' });
      throw new HttpError(403, 'not_anonymous', 'anonymous_token must be the access token of an anonymous user');
    }
    const anonymousId = anonymous.sub.toLowerCase();
    if (anonymousId === accountId) throw new HttpError(403, 'same_user', 'the anonymous token belongs to the account itself');
    if (!isUuid(anonymous.session_id)) {
      deps.log('merge_refused', { account_id: accountId, reason: 'no session_id claim' });
      throw new HttpError(401, 'invalid_anonymous_token', "the anonymous session's token names no Auth session (session_id)");
    }
    const report = await deps.routines.mergeCarts(anonymousId, accountId, anonymous.session_id.toLowerCase());
    deps.log('cart_merged', {
      anonymous_id: anonymousId,
      account_id: accountId,
      strategy: report.strategy,
      changes: report.changes.length,
      already_merged: report.already_merged,
    });
    return json(200, report);
  });
}
