/**
 * Signed links in emails: `<payload>.<signature>`, both base64url, where the
 * signature is HMAC-SHA256(EMAIL_LINK_SECRET, "<purpose>." + payload). The
 * purpose is part of what is signed, so an unsubscribe token is never a
 * restore token. Each carries its expiry; verification is constant time.
 */
import { constantTimeEqual } from './signature.ts';

export type LinkPurpose = 'restore' | 'unsubscribe' | 'opt_in';

export interface RestoreClaims {
  /** The reminded cart: its shopper and its created_at (exactly as the database wrote it). */
  session_id: string;
  cart_created_at: string;
  exp: number;
}

/** An unsubscribe link, or the link that confirms the marketing opt-in: both name an address. */
export interface UnsubscribeClaims {
  email: string;
  exp: number;
}

export class LinkError extends Error {
  constructor(readonly reason: 'malformed' | 'forged' | 'expired') {
    super(`link ${reason}`);
    this.name = 'LinkError';
  }
}

const enc = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64url(s: string): Uint8Array {
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}

async function hmac(secret: string, data: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return b64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, enc.encode(data))));
}

export async function signLink(secret: string, purpose: LinkPurpose, claims: RestoreClaims | UnsubscribeClaims): Promise<string> {
  const payload = b64url(enc.encode(JSON.stringify(claims)));
  return `${payload}.${await hmac(secret, `${purpose}.${payload}`)}`;
}

export async function verifyLink(secret: string, purpose: 'restore', token: string, nowSeconds: number): Promise<RestoreClaims>;
export async function verifyLink(secret: string, purpose: 'unsubscribe' | 'opt_in', token: string, nowSeconds: number): Promise<UnsubscribeClaims>;
export async function verifyLink(secret: string, purpose: LinkPurpose, token: string, nowSeconds: number): Promise<RestoreClaims | UnsubscribeClaims> {
  const m = /^([A-Za-z0-9_-]{1,2048})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) throw new LinkError('malformed');
  const [, payload, signature] = m as unknown as [string, string, string];
  if (!constantTimeEqual(signature, await hmac(secret, `${purpose}.${payload}`))) throw new LinkError('forged');
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(new TextDecoder().decode(fromB64url(payload))) as Record<string, unknown>;
  } catch {
    throw new LinkError('malformed');
  }
  if (typeof claims.exp !== 'number' || claims.exp < nowSeconds) throw new LinkError('expired');
  if (purpose === 'restore') {
    if (typeof claims.session_id !== 'string' || typeof claims.cart_created_at !== 'string') throw new LinkError('malformed');
    return claims as unknown as RestoreClaims;
  }
  if (typeof claims.email !== 'string') throw new LinkError('malformed');
  return claims as unknown as UnsubscribeClaims;
}
