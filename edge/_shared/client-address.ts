/**
 * Whose address a request counts under: the per-address limits (Supabase
 * Auth's rate limits, create-preference's cap on the units one address's
 * checkouts hold) count a caller by its IP address.
 *
 * The trust rule, one definition for the functions and the local Auth
 * (dev/stack/auth.ts), as Supabase documents "Forward end-user IP addresses"
 * (Auth > Rate limits > IP address forwarding):
 *   - a request whose `apikey` header is one of the project's SECRET keys
 *     (`sb_secret_…`, which only a server holds; never the anon, publishable
 *     or legacy service_role key) may name the end user's address in
 *     `Sb-Forwarded-For`: its leftmost entry, if it is one IP address (GoTrue's
 *     sbff middleware); a value that is not one is ignored;
 *   - anything else counts under the address the gateway in front saw (the
 *     functions: the first entry of CLIENT_IP_HEADER, x-forwarded-for by
 *     default; the local Auth: the connection's address).
 * A browser never holds a secret key, so it cannot choose its address.
 *
 * Shared with the storefront library (web/src/ssr.ts), which sends the header.
 */
import { constantTimeEqual } from './signature.ts';

/** Supabase's header for the end user's IP address (lower-case: header names are case-insensitive). */
export const SB_FORWARDED_FOR = 'sb-forwarded-for';

/** What a request's headers offer: a fetch `Headers`, or a wrapper over node:http's. */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * `value` as one IP address in its canonical text, or undefined when it is
 * not one: IPv4 in dotted decimal (no leading zeros, as Go's net.ParseIP),
 * IPv6 compressed and lower-case (RFC 5952, by the WHATWG URL parser every
 * runtime has), an IPv4-mapped IPv6 address as its IPv4 address. No ports,
 * brackets, zones or CIDR suffixes. Equal addresses give equal text, so each
 * counts once.
 */
export function ipAddress(value: string): string | undefined {
  if (IPV4.test(value)) return value;
  if (!value.includes(':') || !/^[0-9A-Fa-f:.]{2,45}$/.test(value)) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${value}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** The first entry of a comma-separated header value, as an IP address. */
export function firstAddress(value: string | null | undefined): string | undefined {
  return ipAddress((value ?? '').split(',')[0]!.trim());
}

/** Whether the request's `apikey` header is one of `secretKeys` (compared in constant time). */
export function hasSecretKey(headers: HeaderSource, secretKeys: readonly string[]): boolean {
  const key = headers.get('apikey') ?? '';
  let found = false;
  for (const secret of secretKeys) if (secret !== '' && constantTimeEqual(key, secret)) found = true;
  return key !== '' && found;
}

/**
 * The end user's address a server forwarded (`Sb-Forwarded-For`), when the
 * request carries a secret key; undefined otherwise, or when the value is
 * not an IP address (then the caller's own address counts).
 */
export function forwardedAddress(headers: HeaderSource, secretKeys: readonly string[]): string | undefined {
  const value = headers.get(SB_FORWARDED_FOR);
  if (!value || !hasSecretKey(headers, secretKeys)) return undefined;
  return firstAddress(value);
}

/**
 * The caller's address for a function: the forwarded one (above), else the
 * first entry of `clientIpHeader`, which the gateway in front of the
 * functions sets (the local API from the connection, never from what the
 * client sent). Undefined when neither is an IP address: the database then
 * applies no per-address cap to the request.
 */
export function callerAddress(req: Request, config: { clientIpHeader: string; secretKeys: readonly string[] }): string | undefined {
  return forwardedAddress(req.headers, config.secretKeys) ?? firstAddress(req.headers.get(config.clientIpHeader));
}
