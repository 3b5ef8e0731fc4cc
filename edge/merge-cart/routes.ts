/** The merge-cart function's route (edge/README.md#merge-cart): an account takes in the anonymous cart it signed in from. */
import { z } from 'zod';
import type { RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

const MergeBody = z.strictObject({
  anonymous_token: storableString(8192).min(20),
});

export const MERGE_CART_ROUTES = {
  merge: {
    methods: ['POST'],
    path: '',
    callers: ['account'],
    body: MergeBody,
    example: { body: { anonymous_token: "<the anonymous user's access token>" } },
  },
} as const satisfies RouteTable;
