/**
 * MercadoPago webhook signatures. `x-signature: ts=<seconds>,v1=<hex>` where
 * v1 = HMAC-SHA256(secret, "id:<data.id>;request-id:<x-request-id>;ts:<ts>;"),
 * a pair left out when its value is absent, and an alphanumeric data.id
 * lower-cased (MercadoPago's documented manifest). Checked in constant time
 * with a tolerance on ts, before anything else of the request is read.
 */

type SignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'stale';

export function signatureManifest(dataId: string | null, requestId: string | null, ts: string): string {
  const parts: string[] = [];
  if (dataId) parts.push(`id:${/^[a-z0-9]+$/i.test(dataId) ? dataId.toLowerCase() : dataId}`);
  if (requestId) parts.push(`request-id:${requestId}`);
  parts.push(`ts:${ts}`);
  return parts.join(';') + ';';
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  const n = Math.max(ea.length, eb.length);
  for (let i = 0; i < n; i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message)));
}

export async function verifyWebhookSignature(
  req: Request,
  opts: { secret: string; toleranceSeconds: number; nowSeconds: number },
): Promise<{ ok: true; ts: number } | { ok: false; reason: SignatureFailure }> {
  const header = req.headers.get('x-signature');
  if (!header) return { ok: false, reason: 'missing' };
  let ts: string | undefined;
  let v1: string | undefined;
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = part.slice(eq + 1).trim();
    if (key === 'ts') ts = value;
    else if (key === 'v1') v1 = value;
  }
  if (!ts || !v1 || !/^\d{1,13}$/.test(ts) || !/^[0-9a-f]{64}$/i.test(v1)) return { ok: false, reason: 'malformed' };
  const url = new URL(req.url);
  const dataId = url.searchParams.get('data.id') ?? url.searchParams.get('id');
  const expected = await hmacSha256Hex(opts.secret, signatureManifest(dataId, req.headers.get('x-request-id'), ts));
  if (!constantTimeEqual(expected, v1.toLowerCase())) return { ok: false, reason: 'mismatch' };
  // ts is in seconds; accept milliseconds too rather than mis-reading them.
  const tsSeconds = ts.length > 11 ? Math.floor(Number(ts) / 1000) : Number(ts);
  if (Math.abs(opts.nowSeconds - tsSeconds) > opts.toleranceSeconds) return { ok: false, reason: 'stale' };
  return { ok: true, ts: tsSeconds };
}
