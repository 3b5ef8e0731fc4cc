/** Small node:http helpers shared by the local API and the storefront server. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isStorableText } from '../../edge/_shared/text.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export class BodyTooLargeError extends Error {}

/**
 * The whole body, refusing more than `limit` bytes whatever the framing
 * (declared length or chunked). Past the limit it rejects at once and keeps
 * reading only to discard (memory stays flat), so the caller can still
 * answer 413: destroying the request instead would reset the connection
 * before the client reads the answer. `lingerAfterAnswer` bounds how long
 * an oversized upload may go on being discarded once answered.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const refuse = () => {
      refused = true;
      chunks.length = 0;
      reject(new BodyTooLargeError(`request body larger than ${limit} bytes`));
    };
    if (declared > limit) refuse();
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) return refuse();
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!refused) reject(err);
    });
  });
}

/** After answering an oversized request: close its connection if the upload has not ended within `ms`. */
export function lingerAfterAnswer(req: IncomingMessage, res: ServerResponse, ms = 5_000): void {
  res.on('finish', () => {
    if (req.complete) return;
    const timer = setTimeout(() => {
      if (!req.complete) req.socket.destroy();
    }, ms);
    timer.unref();
    req.once('end', () => clearTimeout(timer));
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

/** The bearer token of an `Authorization` header, if any. */
export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * How deeply a JSON body may nest. PostgreSQL's JSON parser recurses once per
 * level and stops at its stack depth (SQLSTATE 54001, which PostgREST answers
 * 500); a store's bodies nest a few levels.
 */
export const MAX_JSON_DEPTH = 256;

/** How deeply a parsed JSON value nests (walked without recursion, however deep it is). */
export function jsonDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Why PostgreSQL could not store a parsed JSON value, or undefined: a NUL or
 * an unpaired surrogate in a key or a string (edge/_shared/text.ts), or
 * nesting deeper than MAX_JSON_DEPTH.
 */
export function jsonProblem(value: unknown): string | undefined {
  if (jsonDepth(value) > MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels`;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string' && !isStorableText(v)) return 'contains a NUL character or an unpaired surrogate, which cannot be stored';
    if (typeof v !== 'object' || v === null) continue;
    for (const [k, child] of Object.entries(v)) {
      if (!isStorableText(k)) return 'contains a NUL character or an unpaired surrogate, which cannot be stored';
      stack.push(child);
    }
  }
  return undefined;
}
