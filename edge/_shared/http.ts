/** HTTP plumbing shared by every function: CORS, JSON responses, typed errors. */

export const corsHeaders: Record<string, string> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, x-client-info, apikey, content-type',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Max-Age': '86400',
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, 'Content-Type': 'application/json; charset=utf-8', ...headers },
  });
}

/** An error the client should see: status, a stable machine code, a human message, optional details. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

function errorResponse(err: HttpError): Response {
  return json(err.status, { error: err.code, message: err.message, ...err.details });
}

/** Answers CORS preflight; null when the request is not one. */
export function preflight(req: Request): Response | null {
  return req.method === 'OPTIONS' ? new Response(null, { status: 204, headers: corsHeaders }) : null;
}

export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = (limit: number) =>
  new HttpError(413, 'payload_too_large', limit === MAX_BODY_BYTES ? 'request body over 64 KiB' : `request body over ${limit} bytes`);

/**
 * The raw body as UTF-8 text, refusing anything over 64 KiB whatever its
 * framing: a declared Content-Length over the limit is refused before
 * reading, and the body is streamed and counted, so a chunked (or lying)
 * body is cancelled at the first byte past the limit: never more than the
 * limit is held in memory.
 */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<string> {
  return new TextDecoder().decode(await readBodyBytes(req, limit));
}

/** The raw body's bytes, bounded as readBody's (the dashboard's evidence upload has a larger limit). */
export async function readBodyBytes(req: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > limit) {
    await req.body?.cancel().catch(() => undefined);
    throw tooLarge(limit);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
  }
}

export type Logger = (event: string, fields?: Record<string, unknown>) => void;

/** One JSON line per significant event. Callers never pass secrets or card data. */
export function jsonLogger(fn: string, write: (line: string) => void = console.log): Logger {
  return (event, fields = {}) => write(JSON.stringify({ time: new Date().toISOString(), fn, event, ...fields }));
}

type Handler = (req: Request) => Promise<Response>;

/** Wraps a handler: CORS preflight, HttpError to JSON, anything else to a 500 that leaks nothing. */
export function withErrors(log: Logger, handler: Handler): Handler {
  return async (req) => {
    const pre = preflight(req);
    if (pre) return pre;
    try {
      return await handler(req);
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.status >= 500) log('error', { status: err.status, code: err.code, message: err.message });
        return errorResponse(err);
      }
      log('unexpected_error', { message: err instanceof Error ? err.message : String(err) });
      return errorResponse(new HttpError(500, 'internal', 'unexpected error'));
    }
  };
}
