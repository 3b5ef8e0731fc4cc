/** Calls an Edge Function over HTTP as a client would, and reads its answer (JSON, or the raw text when it is not). */
export interface CallInit {
  method?: string;
  token?: string | null;
  body?: unknown;
  /** Sent as it is instead of `body` (malformed JSON, oversized bodies). */
  raw?: string;
  headers?: Record<string, string>;
}

export async function callFunction<B = Record<string, unknown>>(url: string, init: CallInit = {}): Promise<{ status: number; body: B; headers: Headers }> {
  const res = await fetch(url, {
    method: init.method ?? 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: res.status, body: body as B, headers: res.headers };
}

/** One `Set-Cookie` header line: its name and value, and its attributes by lower-case name (`true` for a flag such as HttpOnly). */
export interface ParsedSetCookie {
  name: string;
  value: string;
  attrs: Record<string, string | true>;
}

export function parseSetCookie(line: string): ParsedSetCookie {
  const [pair = '', ...attrs] = line.split(/;\s*/);
  const eq = pair.indexOf('=');
  const out: ParsedSetCookie = { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: {} };
  for (const a of attrs) {
    const i = a.indexOf('=');
    if (i < 0) out.attrs[a.toLowerCase()] = true;
    else out.attrs[a.slice(0, i).toLowerCase()] = a.slice(i + 1);
  }
  return out;
}
