/** The reconcile function's route (edge/README.md#reconcile): pg_cron's sweep, with the service role key. */
import type { RouteTable } from '../_shared/routes.ts';

export const RECONCILE_ROUTES = {
  run: { methods: ['POST'], path: '', callers: ['service'] },
} as const satisfies RouteTable;
