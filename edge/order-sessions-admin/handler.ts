/** order-sessions-admin: the store owner's stats, audit and cleanup, with the service role key. */
import { analyticsResponse, analyticsRoute } from '../_shared/analytics.ts';
import type { AdminDeps, Handler } from '../_shared/deps.ts';
import { HttpError, json, withErrors } from '../_shared/http.ts';
import { requireMethod, requireServiceRole } from '../_shared/request.ts';

export function adminHandler(deps: AdminDeps): Handler {
  return withErrors(deps.log, async (req) => {
    await requireServiceRole(req, deps);
    const path = new URL(req.url).pathname.replace(/\/+$/, '');
    if (path.endsWith('/stats')) {
      requireMethod(req, 'GET');
      const [stats, topHolders] = await Promise.all([deps.routines.stats(), deps.routines.topHolders(10)]);
      return json(200, { ...stats, top_holders: topHolders });
    }
    if (path.endsWith('/audit')) {
      requireMethod(req, 'GET');
      const violations = await deps.routines.audit();
      deps.log('audit', { violations: violations.length });
      return json(200, { ok: violations.length === 0, violations });
    }
    if (path.endsWith('/cleanup')) {
      requireMethod(req, 'POST');
      const counts = await deps.routines.cleanup();
      deps.log('cleanup', counts);
      return json(200, counts);
    }
    const route = analyticsRoute(path);
    if (route) {
      requireMethod(req, 'GET');
      return analyticsResponse(deps.routines.analytics, route, new URL(req.url));
    }
    throw new HttpError(404, 'not_found', 'use GET /stats, /audit, /funnel, /abandoned-products, /checkout-outcomes or POST /cleanup');
  });
}
