/** The payment-status function's route (edge/README.md#payment-status): the buyer's return, with the shopper's token. */
import { z } from 'zod';
import { EXTERNAL_REFERENCE } from '../_shared/contract.ts';
import { paymentIdText } from '../_shared/input.ts';
import type { RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

/**
 * What the return reads, from the query MercadoPago appends to `back_urls`
 * (whose other parameters it ignores) or a JSON body; values arrive as
 * strings, and `"null"` or `""` count as missing.
 */
const ReturnQuery = z.object({
  payment_id: paymentIdText().optional(),
  external_reference: storableString(64).regex(EXTERNAL_REFERENCE, 'invalid external_reference').optional(),
});

export const PAYMENT_STATUS_ROUTES = {
  paymentStatus: {
    methods: ['GET', 'POST'],
    path: '',
    callers: ['shopper'],
    query: ReturnQuery,
    body: ReturnQuery,
    example: { query: { payment_id: '123', external_reference: 'os_example_token' } },
  },
} as const satisfies RouteTable;
