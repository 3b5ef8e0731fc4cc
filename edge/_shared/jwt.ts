/**
 * Verifies Supabase access tokens inside the function: HS256 with the
 * project's JWT secret, or ES256/RS256 with a JSON Web Key Set (Supabase's
 * asymmetric signing keys). Unsigned (`alg: none`), expired, not-yet-valid and
 * wrong-audience tokens are refused. Web Crypto only.
 */
import { HttpError } from './http.ts';

export interface Claims {
  sub?: string;
  role?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  is_anonymous?: boolean;
  [key: string]: unknown;
}

export interface JwtVerifierOptions {
  secret?: string;
  /** A JWKS document: `{ keys: [...] }`. */
  jwks?: { keys: JsonWebKey[] } | (() => Promise<{ keys: JsonWebKey[] }>);
  now?: () => number;
  /** Allowed clock skew in seconds. */
  leeway?: number;
}

type Jwk = JsonWebKey & { kid?: string; alg?: string };

const unauthorized = (message: string) => new HttpError(401, 'unauthenticated', message);

function b64urlDecode(part: string): Uint8Array<ArrayBuffer> {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(part.length + ((4 - (part.length % 4)) % 4), '=');
  const bin = atob(b64);
  const bytes = new Uint8Array(new ArrayBuffer(bin.length));
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function decodeJson(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(new TextDecoder().decode(b64urlDecode(part)));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
  return value as Record<string, unknown>;
}

const ALGORITHMS = {
  HS256: { import: { name: 'HMAC', hash: 'SHA-256' }, verify: { name: 'HMAC' } },
  ES256: { import: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' } },
  RS256: { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' } },
} as const;
type Alg = keyof typeof ALGORITHMS;

export function createJwtVerifier(opts: JwtVerifierOptions) {
  const now = opts.now ?? (() => Date.now() / 1000);
  const leeway = opts.leeway ?? 30;
  const keyCache = new Map<string, CryptoKey>();

  async function keyFor(alg: Alg, kid: string | undefined): Promise<CryptoKey> {
    const cacheKey = `${alg}:${kid ?? ''}`;
    const cached = keyCache.get(cacheKey);
    if (cached) return cached;
    let key: CryptoKey;
    if (alg === 'HS256') {
      if (!opts.secret) throw unauthorized('HS256 tokens are not accepted by this project');
      key = await crypto.subtle.importKey('raw', new TextEncoder().encode(opts.secret), ALGORITHMS.HS256.import, false, ['verify']);
    } else {
      const set = typeof opts.jwks === 'function' ? await opts.jwks() : opts.jwks;
      const jwk = (set?.keys as Jwk[] | undefined)?.find((k) => (kid ? k.kid === kid : true) && (!k.alg || k.alg === alg));
      if (!jwk) throw unauthorized('no signing key matches the token');
      const { kid: _kid, alg: _alg, key_ops: _ops, ...material } = jwk;
      key = await crypto.subtle.importKey('jwk', material, ALGORITHMS[alg].import, false, ['verify']);
    }
    keyCache.set(cacheKey, key);
    return key;
  }

  return async function verify(token: string, expected: { audience?: string } = { audience: 'authenticated' }): Promise<Claims> {
    const parts = token.split('.');
    if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw unauthorized('malformed token');
    const [h, p, s] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let claims: Claims;
    try {
      header = decodeJson(h);
      claims = decodeJson(p) as Claims;
    } catch {
      throw unauthorized('malformed token');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !(alg in ALGORITHMS)) throw unauthorized(`unsupported token algorithm ${String(alg)}`);
    if (!s) throw unauthorized('unsigned token');
    const key = await keyFor(alg as Alg, typeof header.kid === 'string' ? header.kid : undefined);
    const signature = b64urlDecode(s);
    const data = new TextEncoder().encode(`${h}.${p}`);
    let valid = false;
    try {
      valid = await crypto.subtle.verify(ALGORITHMS[alg as Alg].verify, key, signature, data);
    } catch {
      valid = false;
    }
    if (!valid) throw unauthorized('invalid token signature');
    const t = now();
    if (typeof claims.exp !== 'number') throw unauthorized('token has no expiry');
    if (claims.exp + leeway < t) throw unauthorized('token expired');
    if (typeof claims.nbf === 'number' && claims.nbf - leeway > t) throw unauthorized('token not valid yet');
    if (expected.audience) {
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.includes(expected.audience)) throw unauthorized('token has the wrong audience');
    }
    return claims;
  };
}

export type JwtVerifier = ReturnType<typeof createJwtVerifier>;

export function bearerToken(req: Request): string {
  const header = req.headers.get('authorization') ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw unauthorized('missing bearer token');
  return m[1]!;
}

/** The shopper behind a request: a verified user token with a subject. */
export async function requireShopper(req: Request, verify: JwtVerifier): Promise<{ sessionId: string; claims: Claims }> {
  const claims = await verify(bearerToken(req));
  if (claims.role !== 'authenticated' || typeof claims.sub !== 'string' || !/^[0-9a-f-]{36}$/i.test(claims.sub)) {
    throw unauthorized('a signed-in (anonymous or permanent) user is required');
  }
  return { sessionId: claims.sub.toLowerCase(), claims };
}

/** JWKS from SUPABASE_JWKS, or fetched (and cached) from the project's Auth. */
export function jwksSource(jwksJson: string | undefined, supabaseUrl: string): () => Promise<{ keys: JsonWebKey[] }> {
  let cached: Promise<{ keys: JsonWebKey[] }> | undefined;
  return () => {
    if (jwksJson) return Promise.resolve(JSON.parse(jwksJson) as { keys: JsonWebKey[] });
    cached ??= fetch(`${supabaseUrl}/auth/v1/.well-known/jwks.json`).then(async (res) => {
      if (!res.ok) {
        cached = undefined;
        throw unauthorized('signing keys unavailable');
      }
      return (await res.json()) as { keys: JsonWebKey[] };
    });
    return cached;
  };
}
