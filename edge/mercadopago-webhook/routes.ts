/** The mercadopago-webhook function's route (edge/README.md#mercadopago-webhook): MercadoPago's signed notifications. */
import { z } from 'zod';
import type { RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

/** What the handler reads of the query (signed: `data.id`, or `id` in the older format) and of the body; the rest is ignored. */
const NotificationQuery = z.looseObject({
  'data.id': storableString(64).optional(),
  id: storableString(64).optional(),
  type: storableString(64).optional(),
  topic: storableString(64).optional(),
});
const NotificationBody = z.looseObject({
  type: storableString(64).optional(),
  topic: storableString(64).optional(),
  data: z.looseObject({ id: z.union([storableString(64), z.number()]).optional() }).optional(),
});

export const WEBHOOK_ROUTES = {
  notification: {
    methods: ['POST'],
    path: '',
    callers: ['mercadopago'],
    query: NotificationQuery,
    body: NotificationBody,
    headers: ['x-signature', 'x-request-id'],
    example: {
      query: { 'data.id': '123', type: 'payment' },
      body: { action: 'payment.updated', api_version: 'v1', data: { id: '123' }, type: 'payment', live_mode: false },
    },
  },
} as const satisfies RouteTable;
