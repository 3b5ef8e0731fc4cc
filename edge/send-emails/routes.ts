/** The send-emails function's routes (edge/README.md#send-emails): each checks its own caller. */
import { z } from 'zod';
import type { RouteTable } from '../_shared/routes.ts';
import { storableString } from '../_shared/text.ts';

/** A signed link's token (links.ts): base64url payload, a dot, base64url signature. */
const linkToken = () => storableString(4096).min(1);

export const SEND_EMAILS_ROUTES = {
  send: { methods: ['POST'], path: '', callers: ['service'] },
  restore: {
    methods: ['POST'],
    path: '/restore',
    callers: ['shopper'],
    body: z.strictObject({ token: linkToken() }),
    example: { body: { token: '<the token of a restore link>' } },
  },
  unsubscribe: {
    methods: ['GET', 'POST'],
    path: '/unsubscribe',
    callers: ['public'],
    query: z.object({ token: linkToken() }),
    headers: ['accept'],
    example: { query: { token: '<the token of an unsubscribe link>' }, headers: { accept: 'text/html' } },
  },
  optIn: {
    methods: ['GET', 'POST'],
    path: '/opt-in',
    callers: ['public'],
    query: z.object({ token: linkToken() }),
    headers: ['accept'],
    example: { query: { token: '<the token of an opt-in link>' }, headers: { accept: 'text/html' } },
  },
} as const satisfies RouteTable;
