/** reconcile: pg_cron's every-minute sweep (through pg_net), with the service role key. */
import type { Deps, Handler } from '../_shared/deps.ts';
import { json, withErrors } from '../_shared/http.ts';
import { reconcile } from '../_shared/reconcile.ts';
import { requireServiceRole } from '../_shared/request.ts';
import { matchRoute } from '../_shared/routes.ts';
import { RECONCILE_ROUTES } from './routes.ts';

export function reconcileHandler(deps: Deps): Handler {
  const now = deps.now ?? (() => new Date());
  return withErrors(deps.log, async (req) => {
    matchRoute('reconcile', RECONCILE_ROUTES, req);
    await requireServiceRole(req, deps);
    const report = await reconcile(deps, { ...deps.config.reconcile, now });
    return json(200, report);
  });
}
