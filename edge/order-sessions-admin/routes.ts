/** The order-sessions-admin function's routes (edge/README.md#order-sessions-admin): the service role only. */
import { AnalyticsQuery } from '../_shared/analytics.ts';
import type { RouteTable } from '../_shared/routes.ts';

const service = ['service'] as const;
const range = { query: { from: '2026-11-01', to: '2026-11-30' } };

export const ORDER_SESSIONS_ADMIN_ROUTES = {
  stats: { methods: ['GET'], path: '/stats', callers: service },
  audit: { methods: ['GET'], path: '/audit', callers: service },
  cleanup: { methods: ['POST'], path: '/cleanup', callers: service },
  funnel: { methods: ['GET'], path: '/funnel', callers: service, query: AnalyticsQuery, example: range },
  abandonedProducts: {
    methods: ['GET'],
    path: '/abandoned-products',
    callers: service,
    query: AnalyticsQuery,
    example: { query: { ...range.query, limit: '20' } },
  },
  checkoutOutcomes: { methods: ['GET'], path: '/checkout-outcomes', callers: service, query: AnalyticsQuery, example: range },
} as const satisfies RouteTable;
