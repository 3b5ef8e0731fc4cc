/**
 * The local Auth's routes (auth.ts), declared once: handleAuth dispatches
 * through this table (anything else answers 404 `not_implemented`), and
 * tests/stack/route-walk.test.ts walks every route with hostile values for
 * every field. The bodies are described field by field, as GoTrue reads them
 * (auth.ts checks each field itself, with GoTrue's codes and messages).
 */
import { z } from 'zod';
import type { RouteTable } from '../../edge/_shared/routes.ts';

const text = z.string().optional();
/** What the sign-up, sign-in and update bodies share (a phone answers `not_implemented`). */
const credentials = { email: text, password: text, phone: text };
const gotrueMetaSecurity = z.looseObject({ captcha_token: text }).optional();
const metadata = z.record(z.string(), z.unknown()).optional();

const SignupBody = z.looseObject({ ...credentials, data: metadata, gotrue_meta_security: gotrueMetaSecurity });
const TokenBody = z.looseObject({ ...credentials, refresh_token: text, gotrue_meta_security: gotrueMetaSecurity });
const UpdateUserBody = z.looseObject({ ...credentials, nonce: text, data: metadata });

const apiVersion = ['x-supabase-api-version'] as const;
/** The address a secret key's holder forwards, which the rate limits read (the walker probes apikey anyway). */
const forwarding = ['sb-forwarded-for'] as const;

export const AUTH_ROUTES = {
  health: { methods: ['GET'], path: '/health', callers: ['public'] },
  settings: { methods: ['GET'], path: '/settings', callers: ['public'] },
  jwks: { methods: ['GET'], path: '/.well-known/jwks.json', callers: ['public'] },
  signup: {
    methods: ['POST'],
    path: '/signup',
    callers: ['public'],
    body: SignupBody,
    headers: [...apiVersion, 'user-agent', ...forwarding],
    example: { body: { data: { source: 'walker' } } },
  },
  token: {
    methods: ['POST'],
    path: '/token',
    callers: ['public'],
    query: z.object({ grant_type: z.enum(['password', 'refresh_token']) }),
    body: TokenBody,
    headers: [...apiVersion, 'user-agent', ...forwarding],
    example: [
      { query: { grant_type: 'password' }, body: { email: 'ana@example.com', password: 'contraseña-segura' } },
      { query: { grant_type: 'refresh_token' }, body: { refresh_token: 'abcdefghijkl' } },
    ],
  },
  user: { methods: ['GET'], path: '/user', callers: ['shopper'], headers: apiVersion },
  updateUser: {
    methods: ['PUT'],
    path: '/user',
    callers: ['shopper'],
    body: UpdateUserBody,
    headers: apiVersion,
    example: { body: { data: { name: 'Ana' } } },
  },
  logout: {
    methods: ['POST'],
    path: '/logout',
    callers: ['shopper'],
    query: z.object({ scope: z.enum(['global', 'local', 'others']).optional() }),
    headers: apiVersion,
    example: { query: { scope: 'local' } },
  },
} as const satisfies RouteTable;
