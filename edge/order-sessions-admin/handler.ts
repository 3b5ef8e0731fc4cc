/** order-sessions-admin: the store owner's stats, audit, cleanup and analytics, with the service role key (routes.ts). */
import type { AdminDeps, Handler } from '../_shared/deps.ts';
import { json, withErrors } from '../_shared/http.ts';
import { requireServiceRole, validate } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { ORDER_SESSIONS_ADMIN_ROUTES as ROUTES } from './routes.ts';

export function adminHandler(deps: AdminDeps): Handler {
  const analytics = deps.routines.analytics;
  return withErrors(deps.log, async (req) => {
    const { name, url } = matchRoute('order-sessions-admin', ROUTES, req);
    await requireServiceRole(req, deps);
    const query = Object.fromEntries(url.searchParams);
    switch (name) {
      case 'stats': {
        const [stats, topHolders] = await Promise.all([deps.routines.stats(), deps.routines.topHolders(10)]);
        return json(200, { ...stats, top_holders: topHolders });
      }
      case 'audit': {
        const violations = await deps.routines.audit();
        deps.log('audit', { violations: violations.length });
        return json(200, { ok: violations.length === 0, violations });
      }
      case 'cleanup': {
        const counts = await deps.routines.cleanup();
        deps.log('cleanup', counts);
        return json(200, counts);
      }
      case 'funnel':
        return json(200, await analytics.funnel(validate(ROUTES.funnel.query, query)));
      case 'abandonedProducts':
        return json(200, await analytics.abandonedProducts(validate(ROUTES.abandonedProducts.query, query)));
      case 'checkoutOutcomes':
        return json(200, await analytics.checkoutOutcomes(validate(ROUTES.checkoutOutcomes.query, query)));
    }
  });
}
