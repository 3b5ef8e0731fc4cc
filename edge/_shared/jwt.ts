/**
 * Verifies Supabase access tokens inside the function, with `jose`:
 *
 * - asymmetric signing keys (ES256, RS256) from the project's JSON Web Key
 *   Set: `SUPABASE_JWKS` when Supabase provides it, and the project's
 *   `/auth/v1/.well-known/jwks.json`, fetched when a token names a key (`kid`)
 *   the local set does not hold, so a rotated key is accepted without a
 *   restart (jose refetches at most once per cooldown);
 * - HS256 with the legacy JWT secret (`JWT_SECRET`), only when it is set.
 *
 * The algorithm comes from an allow-list (anything else, `none` included, is
 * a 401), and `exp`, `nbf`, `iss` (`<SUPABASE_URL>/auth/v1`) and `aud` are
 * checked. Every verification failure is a 401; only an unreachable key set
 * is a 503 (the caller may retry).
 */
import { createLocalJWKSet, createRemoteJWKSet, errors, type JSONWebKeySet, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { HttpError } from './http.ts';

export interface Claims extends JWTPayload {
  role?: string;
  is_anonymous?: boolean;
  /** The Auth session the token belongs to (auth.sessions.id). */
  session_id?: string;
  email?: string;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

interface JwtVerifierOptions {
  /** The expected `iss`: `<SUPABASE_URL>/auth/v1`. */
  issuer: string;
  /** HS256 projects: the legacy JWT secret. */
  secret?: string;
  /** The key set Supabase provides (SUPABASE_JWKS), tried first. */
  jwks?: JSONWebKeySet;
  /** Where to fetch the current key set; fetched on a `kid` the local set lacks. */
  jwksUrl?: URL;
  /** The clock, for tests. */
  now?: () => Date;
  /** Allowed clock skew in seconds. */
  leeway?: number;
}

interface VerifyExpectations {
  /** Default `authenticated`; `null` skips the check. */
  audience?: string | null;
  /** Default the configured issuer; `null` skips the check (legacy service_role keys say `supabase`). */
  issuer?: string | null;
}

export type JwtVerifier = (token: string, expected?: VerifyExpectations) => Promise<Claims>;

const unauthorized = (message: string) => new HttpError(401, 'unauthenticated', message);

/** Why jose refused a token, in words the client may see (never the token). */
function reason(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof errors.JWKSTimeout || err instanceof TypeError) {
    return new HttpError(503, 'auth_keys_unavailable', 'the signing keys could not be fetched, try again');
  }
  if (err instanceof errors.JWTExpired) return unauthorized('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) return unauthorized(`token claim "${err.claim}" is invalid`);
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return unauthorized('unsupported token algorithm');
  if (err instanceof errors.JWKSNoMatchingKey) return unauthorized('no signing key matches the token');
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthorized('invalid token signature');
  return unauthorized('malformed token');
}

export function createJwtVerifier(opts: JwtVerifierOptions): JwtVerifier {
  const secret = opts.secret ? new TextEncoder().encode(opts.secret) : undefined;
  const local = opts.jwks ? createLocalJWKSet(opts.jwks) : undefined;
  const remote = opts.jwksUrl ? createRemoteJWKSet(opts.jwksUrl, { timeoutDuration: 5_000, cooldownDuration: 30_000 }) : undefined;
  const algorithms = [...(secret ? ['HS256'] : []), ...(local || remote ? ['ES256', 'RS256'] : [])];

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256') {
      if (!secret) throw unauthorized('HS256 tokens are not accepted by this project');
      return secret;
    }
    if (local) {
      try {
        return await local(header, token);
      } catch (err) {
        // A key rotated in after start-up: ask the project's current set.
        if (!(err instanceof errors.JWKSNoMatchingKey) || !remote) throw err;
      }
    }
    if (remote) return await remote(header, token);
    throw unauthorized('no signing key matches the token');
  };

  return async (token, expected = {}) => {
    if (algorithms.length === 0) throw unauthorized('no token verification is configured');
    const audience = expected.audience === undefined ? 'authenticated' : expected.audience;
    const issuer = expected.issuer === undefined ? opts.issuer : expected.issuer;
    try {
      const { payload } = await jwtVerify<Claims>(token, getKey, {
        algorithms,
        ...(audience ? { audience } : {}),
        ...(issuer ? { issuer } : {}),
        requiredClaims: ['exp'],
        clockTolerance: opts.leeway ?? 30,
        ...(opts.now ? { currentDate: opts.now() } : {}),
      });
      return payload;
    } catch (err) {
      throw reason(err);
    }
  };
}

export function bearerToken(req: Request): string {
  const header = req.headers.get('authorization') ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw unauthorized('missing bearer token');
  return m[1]!;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A claim that names an Auth user (`sub`) or an Auth session (`session_id`): a UUID. */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** The shopper behind a request: a verified user token with a subject. */
export async function requireShopper(req: Request, verify: JwtVerifier): Promise<{ sessionId: string; claims: Claims }> {
  const claims = await verify(bearerToken(req));
  if (claims.role !== 'authenticated' || !isUuid(claims.sub)) {
    throw unauthorized('a signed-in (anonymous or permanent) user is required');
  }
  return { sessionId: claims.sub.toLowerCase(), claims };
}

/** Parses SUPABASE_JWKS; a malformed value is a configuration error at start-up. */
export function parseJwks(json: string): JSONWebKeySet {
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new Error('SUPABASE_JWKS must be a JSON Web Key Set: {"keys": [...]}');
  }
  return value as JSONWebKeySet;
}
