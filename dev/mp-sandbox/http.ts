/** Small helpers over node:http: bodies, JSON and HTML answers, routing. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MpError } from './errors.ts';

const MAX_BODY = 1_000_000;

/** Reads the whole body, refusing more than `max` bytes (413, MercadoPago's error shape). */
export async function readBodyBuffer(req: IncomingMessage, max = MAX_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > max) throw new MpError(413, 'request_too_large', 'Request body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBodyBuffer(req)).toString('utf8');
}

/** Parses a JSON body; an empty body is `undefined`. */
export function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new MpError(400, 'bad_request', 'JSON parse error: the request body is not valid JSON', [
      { code: 'json_syntax_error', description: 'invalid JSON' },
    ]);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'content-length': 0 });
  res.end();
}
