/**
 * The admin function's routes (edge/README.md#admin): the store owner's
 * dashboard API, for store staff only. The handler dispatches through this
 * table and validates with its schemas.
 */
import { z } from 'zod';
import { base64urlJson, dateRangeQuery, encodeBase64urlJson, paymentIdText, timestamp, wholeNumber, wholeNumberText } from '../_shared/input.ts';
import type { RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

export const DEFAULT_TIME_ZONE = 'America/Argentina/Buenos_Aires';

/** Days in the dashboard's default range. */
export const DASHBOARD_DAYS = 30;

const DashboardQuery = dateRangeQuery(DASHBOARD_DAYS, {
  tz: storableString(64).regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, 'a time zone name such as America/Argentina/Buenos_Aires').default(
    DEFAULT_TIME_ZONE,
  ),
});

/** What an orders page's `next_cursor` carries (base64url JSON): the keyset of the page's last row. */
const CursorSchema = z.strictObject({ created_at: timestamp(), id: z.uuid() });

const OrdersQuery = z.strictObject({
  q: storableString(254).trim().optional(),
  cursor: base64urlJson(CursorSchema, 200).optional(),
  limit: wholeNumberText(1, 200).default(50),
});

const AdjustBody = z.strictObject({
  variant_id: z.uuid('variant_id must be a variant id'),
  delta: wholeNumber(-1_000_000, 1_000_000).refine((n) => n !== 0, 'delta must not be zero'),
  reason: storableString(500).trim().min(3, 'a reason is required (3 characters or more)'),
});

/** A refund of part of an order: an amount, or units of its lines (the SQL checks them against the order). */
const RefundBody = z.union([
  z.strictObject({ amount: z.number().positive().max(1e10) }),
  z.strictObject({ lines: z.array(z.strictObject({ line_no: wholeNumber(1, 10_000), quantity: wholeNumber(1, 1_000_000) })).min(1).max(100) }),
]);

const staff = ['staff'] as const;

export const ADMIN_ROUTES = {
  me: { methods: ['GET'], path: '/me', callers: staff },
  dashboard: {
    methods: ['GET'],
    path: '/dashboard',
    callers: staff,
    query: DashboardQuery,
    example: { query: { from: '2026-11-01', to: '2026-11-30', tz: 'UTC' } },
  },
  orders: {
    methods: ['GET'],
    path: '/orders',
    callers: staff,
    query: OrdersQuery,
    example: {
      query: {
        q: 'ana@',
        limit: '20',
        cursor: encodeBase64urlJson({ created_at: '2026-12-01T10:00:00.123456+00:00', id: '00000000-0000-4000-8000-000000000000' }),
      },
    },
  },
  order: {
    methods: ['GET'],
    path: '/orders/:ref',
    callers: staff,
    params: { ref: storableString(64) },
    example: { params: { ref: 'ORD-001001' } },
  },
  refundOrder: {
    methods: ['POST'],
    path: '/orders/:ref/refunds',
    callers: staff,
    params: { ref: storableString(64) },
    body: RefundBody,
    example: { params: { ref: 'ORD-001001' }, body: { amount: 1500 } },
  },
  attention: { methods: ['GET'], path: '/attention', callers: staff },
  audit: { methods: ['GET'], path: '/audit', callers: staff },
  refundRetry: {
    methods: ['POST'],
    path: '/refunds/:payment_id/retry',
    callers: staff,
    params: { payment_id: paymentIdText() },
    example: { params: { payment_id: '123' } },
  },
  stock: { methods: ['GET'], path: '/stock', callers: staff },
  adjustStock: {
    methods: ['POST'],
    path: '/stock/adjust',
    callers: staff,
    body: AdjustBody,
    example: { body: { variant_id: '00000000-0000-4000-8000-000000000201', delta: 1, reason: 'restock' } },
  },
  disputes: { methods: ['GET'], path: '/disputes', callers: staff },
  /** multipart/form-data, fields files[] (.jpg, .png, .pdf; 10 MB overall): edge/admin/evidence.ts. */
  evidence: {
    methods: ['POST'],
    path: '/disputes/:id/evidence',
    callers: staff,
    params: { id: z.uuid('the dispute id (a UUID from GET /disputes)') },
    example: { params: { id: '00000000-0000-4000-8000-000000000301' } },
  },
  housekeeping: { methods: ['GET'], path: '/housekeeping', callers: staff },
  offlinePayments: { methods: ['GET'], path: '/offline-payments', callers: staff },
  cleanup: { methods: ['POST'], path: '/housekeeping/cleanup', callers: staff },
} as const satisfies RouteTable;
