/**
 * Sends the walker's probes to the local API (a few at a time) with each
 * probe's role, signing MercadoPago notifications as the sandbox would, and
 * judges each answer: never 5xx, every 4xx a JSON error (or the
 * unsubscribe page's HTML), and unstorable text never answered 2xx.
 */
import { hmacSha256Hex, signatureManifest } from '../../../edge/_shared/signature.ts';
import type { Probe } from './probes.ts';
import type { RoleName } from './targets.ts';

export interface WalkContext {
  apiUrl: string;
  anonKey: string;
  /** The bearer token of each role (none for `none`). */
  tokens: Partial<Record<RoleName, string>>;
  webhookSecret: string;
}

export interface Outcome {
  probe: Probe;
  status: number;
  contentType: string;
  body: string;
  /** Why this answer breaks the rule, if it does. */
  failure?: string;
}

async function send(ctx: WalkContext, p: Probe): Promise<Outcome> {
  const headers: Record<string, string> = { ...p.headers };
  const token = ctx.tokens[p.role];
  if (!('authorization' in headers) && token) headers.authorization = `Bearer ${token}`;
  if (p.target.service !== 'functions' && !('apikey' in headers)) headers.apikey = ctx.anonKey;
  const url = `${ctx.apiUrl}${p.pathAndQuery}`;
  if (p.target.route.callers.includes('mercadopago') && !('x-signature' in headers)) {
    // Signed as MercadoPago signs, over what the function will read.
    const q = new URL(url).searchParams;
    const requestId = headers['x-request-id'] ?? 'walker-request';
    headers['x-request-id'] = requestId;
    const ts = String(Math.floor(Date.now() / 1000));
    const v1 = await hmacSha256Hex(ctx.webhookSecret, signatureManifest(q.get('data.id') ?? q.get('id'), requestId, ts));
    headers['x-signature'] = `ts=${ts},v1=${v1}`;
  }
  let res: Response;
  try {
    res = await fetch(url, { method: p.method, headers, ...(p.body === undefined ? {} : { body: p.body as BodyInit }) });
  } catch (err) {
    return { probe: p, status: 0, contentType: '', body: '', failure: `no answer: ${(err as Error).message}` };
  }
  const body = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  return { probe: p, status: res.status, contentType, body, failure: judge(p, res.status, contentType, body) };
}

function judge(p: Probe, status: number, contentType: string, body: string): string | undefined {
  if (status >= 500) return `answered ${status}`;
  if (status >= 400 && !contentType.includes('text/html')) {
    try {
      JSON.parse(body);
    } catch {
      return `answered ${status} without a JSON body`;
    }
  }
  if (p.unstorable && status < 300) return `accepted unstorable text with ${status}`;
  return undefined;
}

/** Sends every probe, `concurrency` at a time, in order. */
export async function walk(ctx: WalkContext, probes: Probe[], concurrency = 8): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(probes.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < probes.length) {
        const i = next++;
        outcomes[i] = await send(ctx, probes[i]!);
      }
    }),
  );
  return outcomes;
}

/** One line per failure, for the test's message. */
export const describeFailure = (o: Outcome) =>
  `${o.probe.target.label} as ${o.probe.role}, ${o.probe.what}: ${o.failure} ${o.body.slice(0, 160).replace(/\s+/g, ' ')}`;
