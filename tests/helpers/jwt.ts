/** Signs JWTs the way Supabase Auth does, for tests (HS256 with a secret, ES256 with a key pair). */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

const b64url = (input: Buffer | string) => Buffer.from(input).toString('base64url');

export function signHs256(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = {}): string {
  const h = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', ...header }));
  const p = b64url(JSON.stringify(claims));
  return `${h}.${p}.${createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url')}`;
}

export function es256KeyPair(kid: string): { privateKey: KeyObject; jwks: { keys: JsonWebKey[] } } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { privateKey, jwks: { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' } as JsonWebKey] } };
}

export function signEs256(claims: Record<string, unknown>, privateKey: KeyObject, kid: string): string {
  const h = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
  const p = b64url(JSON.stringify(claims));
  const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${h}.${p}.${b64url(sig)}`;
}

/**
 * The SUPABASE_URL the Edge Functions under test are given (nothing listens
 * there: tests that need the project's JWKS endpoint serve one of their own),
 * and so the `iss` of the tokens they accept.
 */
export const TEST_SUPABASE_URL = 'http://127.0.0.1:9';
export const TEST_ISSUER = `${TEST_SUPABASE_URL}/auth/v1`;

/** Claims of an anonymous shopper's access token, valid for an hour, as Supabase Auth issues them. */
export function shopperClaims(sub: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: TEST_ISSUER, sub, role: 'authenticated', aud: 'authenticated', is_anonymous: true, iat: now, exp: now + 3600, ...overrides };
}
