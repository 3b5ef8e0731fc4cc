/**
 * A local emulator of the Resend API (the parts we use) that keeps every
 * email instead of delivering it, with a page listing them. Point the official
 * `resend` client at it with `new Resend(key, { baseUrl: sink.url })` or
 * RESEND_BASE_URL. See README.md.
 *
 *   POST /emails          Resend's send: Bearer API key, the documented body
 *                         checks and errors, Idempotency-Key semantics (same
 *                         key and body within 24 h: the first answer again and
 *                         no second email; another body: 409
 *                         invalid_idempotent_request; still in progress: 409
 *                         concurrent_idempotent_requests)
 *   GET  /emails/{id}     retrieve an email
 *   GET  /                the page listing what was sent; /view/{id} renders one
 *   GET  /__sink/emails   every email as JSON (tests)
 *   POST /__sink/faults   {"status": 429|500|400|..., "count": 1}: the next
 *                         `count` sends answer that error (fault injection)
 *   POST /__sink/reset    forget everything
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SentEmail {
  id: string;
  object: 'email';
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  reply_to: string[];
  subject: string;
  html: string | null;
  text: string | null;
  headers: Record<string, string>;
  tags: { name: string; value: string }[];
  idempotency_key: string | null;
  created_at: string;
  last_event: 'delivered';
}

export interface Fault {
  status: number;
  count: number;
}

export interface MailSinkOptions {
  port?: number;
  host?: string;
  /** The only API key accepted (default `re_local_sink`). */
  apiKey?: string;
  /** Public base URL used in the page's links (default the listening URL). */
  publicUrl?: string;
  log?: (line: object) => void;
}

export interface MailSink {
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  emails(): SentEmail[];
  /** How many POST /emails requests arrived (accepted or not). */
  attempts(): number;
  inject(fault: Fault): void;
  reset(): void;
  close(): Promise<void>;
}

const FAULT_BODIES: Record<number, { name: string; message: string }> = {
  400: {
    name: 'validation_error',
    message: 'Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.',
  },
  401: { name: 'missing_api_key', message: 'Missing API key in the authorization header.' },
  403: { name: 'invalid_api_key', message: 'API key is invalid' },
  409: { name: 'concurrent_idempotent_requests', message: 'Same idempotency key used while original request is still in progress.' },
  422: { name: 'invalid_from_address', message: 'Invalid `from` field.' },
  429: { name: 'rate_limit_exceeded', message: 'Too many requests. You can only make 2 requests per second.' },
  500: { name: 'application_error', message: 'An unexpected error occurred.' },
  502: { name: 'application_error', message: 'Bad gateway.' },
  503: { name: 'application_error', message: 'Service unavailable.' },
};

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const isAddress = (s: string) => EMAIL.test(s) || /^[^<>]*<[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+>$/.test(s.trim());
const list = (v: unknown): string[] | null =>
  v === undefined || v === null ? [] : typeof v === 'string' ? [v] : Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export async function startMailSink(opts: MailSinkOptions = {}): Promise<MailSink> {
  const apiKey = opts.apiKey ?? 're_local_sink';
  const log = opts.log ?? (() => {});
  let emails: SentEmail[] = [];
  let faults: Fault[] = [];
  let attempts = 0;
  // Idempotency-Key -> the body's hash and the answer (or in progress).
  let keys = new Map<string, { hash: string; at: number; answer?: { status: number; body: unknown } }>();

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, name: string, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { statusCode: status, name, message }, headers);

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      let size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 40 * 1024 * 1024) req.destroy(new Error('too large'));
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  function validate(body: unknown): { email?: Omit<SentEmail, 'id' | 'created_at' | 'idempotency_key'>; error?: [number, string, string] } {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { error: [422, 'validation_error', 'The request body must be a JSON object.'] };
    }
    const b = body as Record<string, unknown>;
    if (typeof b.from !== 'string' || !b.from) return { error: [422, 'missing_required_field', 'Missing `from` field.'] };
    if (!isAddress(b.from)) {
      return {
        error: [
          422,
          'invalid_from_address',
          'Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.',
        ],
      };
    }
    const to = list(b.to);
    if (!to || to.length === 0) return { error: [422, 'missing_required_field', 'Missing `to` field.'] };
    if (to.length > 50) return { error: [422, 'validation_error', 'Too many recipients: at most 50.'] };
    const cc = list(b.cc), bcc = list(b.bcc), replyTo = list(b.reply_to);
    if (!cc || !bcc || !replyTo) return { error: [422, 'validation_error', '`cc`, `bcc` and `reply_to` must be strings or arrays of strings.'] };
    for (const a of [...to, ...cc, ...bcc, ...replyTo]) {
      if (!isAddress(a)) {
        return {
          error: [
            422,
            'validation_error',
            `Invalid \`to\` field. The email address needs to follow the \`email@example.com\` or \`Name <email@example.com>\` format.`,
          ],
        };
      }
    }
    if (typeof b.subject !== 'string' || !b.subject) return { error: [422, 'missing_required_field', 'Missing `subject` field.'] };
    if (b.html !== undefined && typeof b.html !== 'string') return { error: [422, 'validation_error', '`html` must be a string.'] };
    if (b.text !== undefined && typeof b.text !== 'string') return { error: [422, 'validation_error', '`text` must be a string.'] };
    if (!b.html && !b.text) return { error: [422, 'missing_required_field', 'Missing `html` or `text` field.'] };
    const headers = b.headers ?? {};
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || !Object.values(headers).every((v) => typeof v === 'string')) {
      return { error: [422, 'validation_error', '`headers` must be an object of strings.'] };
    }
    const tags = b.tags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t?.name === 'string' && /^[A-Za-z0-9_-]{1,256}$/.test(t.name) && typeof t?.value === 'string')) {
      return { error: [422, 'validation_error', 'Tags must be [{name, value}] of ASCII letters, numbers, underscores or dashes.'] };
    }
    return {
      email: {
        object: 'email',
        from: b.from,
        to,
        cc,
        bcc,
        reply_to: replyTo,
        subject: b.subject,
        html: (b.html as string | undefined) ?? null,
        text: (b.text as string | undefined) ?? null,
        headers: headers as Record<string, string>,
        tags: tags as { name: string; value: string }[],
        last_event: 'delivered',
      },
    };
  }

  async function postEmail(req: IncomingMessage, res: ServerResponse) {
    attempts++;
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || auth.length <= 7) {
      return error(
        res,
        401,
        'missing_api_key',
        'Missing API key in the authorization header. Include the following header in your request: Authorization: Bearer YOUR_API_KEY',
      );
    }
    if (auth.slice(7) !== apiKey) return error(res, 403, 'invalid_api_key', 'API key is invalid');
    const raw = await readBody(req);
    const fault = faults[0];
    if (fault) {
      if (--fault.count <= 0) faults.shift();
      const f = FAULT_BODIES[fault.status] ?? { name: 'application_error', message: `Injected ${fault.status}.` };
      log({ event: 'fault', status: fault.status });
      return error(
        res,
        fault.status,
        f.name,
        f.message,
        fault.status === 429 ? { 'retry-after': '1', 'ratelimit-limit': '2', 'ratelimit-remaining': '0', 'ratelimit-reset': '1' } : {},
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return error(res, 422, 'validation_error', 'The request body is not valid JSON.');
    }
    const key = req.headers['idempotency-key'];
    const idemKey = typeof key === 'string' ? key : null;
    if (idemKey !== null && (idemKey.length < 1 || idemKey.length > 256)) {
      return error(res, 400, 'invalid_idempotency_key', 'The key must be between 1-256 chars.');
    }
    const hash = createHash('sha256').update(raw).digest('hex');
    if (idemKey !== null) {
      const seen = keys.get(idemKey);
      if (seen && Date.now() - seen.at < IDEMPOTENCY_TTL_MS) {
        if (seen.hash !== hash) {
          return error(
            res,
            409,
            'invalid_idempotent_request',
            'Same idempotency key used with a different request payload. Change your idempotency key or payload.',
          );
        }
        if (!seen.answer) {
          return error(
            res,
            409,
            'concurrent_idempotent_requests',
            'Same idempotency key used while original request is still in progress. Try the request again later.',
          );
        }
        log({ event: 'idempotent_replay', key: idemKey });
        return send(res, seen.answer.status, seen.answer.body);
      }
      keys.set(idemKey, { hash, at: Date.now() });
    }
    const checked = validate(body);
    if (checked.error) {
      const [status, name, message] = checked.error;
      if (idemKey !== null) keys.get(idemKey)!.answer = { status, body: { statusCode: status, name, message } };
      return error(res, status, name, message);
    }
    const email: SentEmail = { ...checked.email!, id: randomUUID(), created_at: new Date().toISOString(), idempotency_key: idemKey };
    emails.push(email);
    if (idemKey !== null) keys.get(idemKey)!.answer = { status: 200, body: { id: email.id } };
    log({ event: 'sent', id: email.id, to: email.to, subject: email.subject });
    send(res, 200, { id: email.id });
  }

  function page(res: ServerResponse) {
    const rows = [...emails].reverse().map((e) =>
      `<tr><td>${esc(e.created_at.replace('T', ' ').slice(0, 19))}</td><td>${esc(e.to.join(', '))}</td><td><a href="/view/${e.id}">${
        esc(e.subject)
      }</a></td><td>${esc(e.idempotency_key ?? '')}</td></tr>`
    ).join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="es"><head><meta charset="utf-8"><title>Mail sink</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}</style></head>
<body><h1>Mail sink</h1><p>${emails.length} email(s) received through the Resend API emulator. Newest first; this page does not refresh itself.</p>
<table><thead><tr><th>Sent</th><th>To</th><th>Subject</th><th>Idempotency key</th></tr></thead><tbody>${
      rows || '<tr><td colspan="4">Nothing sent yet.</td></tr>'
    }</tbody></table></body></html>`);
  }

  function view(res: ServerResponse, id: string) {
    const e = emails.find((x) => x.id === id);
    if (!e) return error(res, 404, 'not_found', 'Email not found');
    const links = [...(e.html ?? '').matchAll(/href="([^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="es"><head><meta charset="utf-8"><title>${esc(e.subject)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem}iframe{width:100%;height:640px;border:1px solid #ccc}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style></head>
<body><p><a href="/">&larr; all emails</a></p><h1>${esc(e.subject)}</h1>
<p>From ${esc(e.from)} to ${esc(e.to.join(', '))} at ${esc(e.created_at)}</p>
<h2>Headers</h2><pre>${esc(Object.entries(e.headers).map(([k, v]) => `${k}: ${v}`).join('\n'))}</pre>
<h2>Links</h2><ul class="links">${links.map((l) => `<li><a href="${esc(l)}">${esc(l)}</a></li>`).join('')}</ul>
<h2>HTML</h2><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${esc(e.html ?? '')}"></iframe>
<h2>Text</h2><pre>${esc(e.text ?? '')}</pre></body></html>`);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sink');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    log({ event: 'request', method: req.method, path });
    void (async () => {
      try {
        if (req.method === 'POST' && path === '/emails') return await postEmail(req, res);
        if (req.method === 'GET' && path.startsWith('/emails/')) {
          const e = emails.find((x) => x.id === path.slice(8));
          return e ? send(res, 200, e) : error(res, 404, 'not_found', 'Email not found');
        }
        if (req.method === 'GET' && path === '/') return page(res);
        if (req.method === 'GET' && path.startsWith('/view/')) return view(res, path.slice(6));
        if (req.method === 'GET' && path === '/__sink/emails') return send(res, 200, { data: emails, attempts });
        if (req.method === 'POST' && path === '/__sink/faults') {
          const f = JSON.parse((await readBody(req)) || '{}') as Partial<Fault>;
          if (!Number.isInteger(f.status) || f.status! < 400 || f.status! > 599) return error(res, 400, 'validation_error', 'status must be 400..599');
          faults.push({ status: f.status!, count: Math.max(1, Number(f.count ?? 1)) });
          return send(res, 200, { faults });
        }
        if (req.method === 'POST' && path === '/__sink/reset') {
          emails = [];
          faults = [];
          keys = new Map();
          attempts = 0;
          return send(res, 200, { ok: true });
        }
        error(res, 404, 'not_found', 'Route not found (this emulator implements POST /emails and GET /emails/{id}).');
      } catch (err) {
        error(res, 500, 'application_error', (err as Error).message);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = opts.publicUrl ?? `http://${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    port,
    apiKey,
    emails: () => [...emails],
    attempts: () => attempts,
    inject: (f) => void faults.push({ ...f }),
    reset: () => {
      emails = [];
      faults = [];
      keys = new Map();
      attempts = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
