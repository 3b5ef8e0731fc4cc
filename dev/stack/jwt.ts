/**
 * HS256 JSON Web Tokens the way a local Supabase project signs them: the
 * well-known local JWT secret, anon and service_role API keys (iss
 * `supabase-demo`, as `supabase start` prints them), and short-lived user
 * access tokens minted by the local Auth stand-in. node:crypto only.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Supabase CLI's local JWT secret (public knowledge: never use it for a deployed project). */
export const LOCAL_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';
/**
 * The secret API key `supabase start` prints (`sb_secret_…`; Supabase's
 * publishable/secret keys are not JWTs): a server's key, public knowledge
 * locally like the others.
 */
export const LOCAL_SECRET_KEY = 'sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz';
/** The expiry `supabase start` puts in its local API keys (2032-11-12). */
const LOCAL_KEY_EXP = 1983812996;

export type JwtClaims = Record<string, unknown> & { role?: string; sub?: string; exp?: number; iat?: number };

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

export function signJwt(claims: JwtClaims, secret: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** The anon or service_role key `supabase start` derives from a JWT secret. */
export function apiKey(role: 'anon' | 'service_role', secret: string): string {
  return signJwt({ iss: 'supabase-demo', role, exp: LOCAL_KEY_EXP }, secret);
}

export type JwtFailure =
  /** Not three base64url parts, or not JSON: PostgREST's PGRST301. */
  | { ok: false; reason: 'malformed'; message: string }
  /** Wrong algorithm or signature: PGRST301. */
  | { ok: false; reason: 'signature'; message: string }
  /** exp in the past (or nbf/iat in the future): PGRST303. */
  | { ok: false; reason: 'claims'; message: string };

export type JwtResult = { ok: true; claims: JwtClaims } | JwtFailure;

/** Verifies an HS256 token's signature and time claims (30 s of clock skew, as PostgREST allows). */
export function verifyJwt(token: string, secret: string, now = Date.now()): JwtResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed', message: `Expected 3 parts in JWT; got ${parts.length}` };
  const [head, body, sig] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: JwtClaims;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as { alg?: unknown };
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as JwtClaims;
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new Error('claims');
  } catch {
    return { ok: false, reason: 'malformed', message: 'JWT cryptographic operation failed' };
  }
  if (header.alg !== 'HS256') return { ok: false, reason: 'signature', message: 'No suitable key or wrong key type' };
  const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'signature', message: 'JWT cryptographic operation failed' };
  }
  const seconds = Math.floor(now / 1000);
  const skew = 30;
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || claims.exp + skew <= seconds)) {
    return { ok: false, reason: 'claims', message: 'JWT expired' };
  }
  if (typeof claims.nbf === 'number' && claims.nbf - skew > seconds) return { ok: false, reason: 'claims', message: 'JWT not yet valid' };
  if (typeof claims.iat === 'number' && claims.iat - skew > seconds) return { ok: false, reason: 'claims', message: 'JWT issued at future' };
  return { ok: true, claims };
}
