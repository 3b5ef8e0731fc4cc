/**
 * What send-emails needs beyond every function's configuration, and the
 * email provider: Resend through its official client. The handler is
 * edge/send-emails/handler.ts.
 */
import { Resend } from 'resend';
import { z } from 'zod';
import { loadBaseConfig } from './config.ts';

/** What send-emails needs beyond what every function does (config.ts). */
const EmailEnv = z.object({
  RESEND_API_KEY: z.string().min(1),
  RESEND_BASE_URL: z.url().optional(),
  EMAIL_FROM: z.string().min(3).default('Tienda <no-responder@example.com>'),
  EMAIL_REPLY_TO: z.string().optional(),
  EMAIL_LINK_SECRET: z.string().min(32, 'must be at least 32 characters'),
  EMAIL_RESTORE_TTL_HOURS: z.coerce.number().min(1).max(24 * 30).default(72),
  EMAIL_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  EMAIL_MAX_TRIES: z.coerce.number().int().min(1).max(10).default(3),
  EMAIL_RETRY_BASE_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  EMAIL_RETRY_MAX_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  SITE_URL: z.url().default('http://127.0.0.1:5173'),
});

export function loadEmailConfig(env: Record<string, string | undefined>) {
  const base = loadBaseConfig(env);
  const parsed = EmailEnv.safeParse(env);
  if (!parsed.success) {
    throw new Error(`invalid configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  return {
    ...base,
    resendApiKey: e.RESEND_API_KEY,
    resendBaseUrl: e.RESEND_BASE_URL?.replace(/\/$/, ''),
    from: e.EMAIL_FROM,
    replyTo: e.EMAIL_REPLY_TO,
    linkSecret: e.EMAIL_LINK_SECRET,
    restoreTtlSeconds: Math.round(e.EMAIL_RESTORE_TTL_HOURS * 3600),
    batchSize: e.EMAIL_BATCH_SIZE,
    maxTries: e.EMAIL_MAX_TRIES,
    retryBaseMs: e.EMAIL_RETRY_BASE_MS,
    retryMaxDelayMs: e.EMAIL_RETRY_MAX_DELAY_MS,
    siteUrl: e.SITE_URL.replace(/\/$/, ''),
  };
}
export type EmailConfig = ReturnType<typeof loadEmailConfig>;

// ---------------------------------------------------------------------------
// The provider

export interface OutgoingEmail {
  from: string;
  to: string[];
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  replyTo?: string;
  tags: { name: string; value: string }[];
}

export type SendResult =
  | { ok: true; id: string }
  | { ok: false; status: number | null; name: string; message: string; retryAfterMs?: number };

export interface Mailer {
  send(email: OutgoingEmail, idempotencyKey: string): Promise<SendResult>;
}

/** Resend through its official client; baseUrl points it at the local emulator (or RESEND_BASE_URL, which the client reads itself). */
export function resendMailer(apiKey: string, baseUrl?: string): Mailer {
  const resend = new Resend(apiKey, baseUrl ? { baseUrl } : undefined);
  return {
    async send(email, idempotencyKey) {
      const { data, error, headers } = await resend.emails.send(email, { idempotencyKey });
      if (data && !error) return { ok: true, id: data.id };
      const e = (error ?? {}) as { statusCode?: number | null; name?: string; message?: string };
      const retryAfter = Number(headers?.['retry-after']);
      return {
        ok: false,
        status: typeof e.statusCode === 'number' ? e.statusCode : null,
        name: e.name ?? 'unknown_error',
        message: e.message ?? 'the provider gave no message',
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      };
    },
  };
}

/** Worth trying again: rate limited, the provider failing, unreachable, or the same key still in flight. */
export function isRetryable(r: Extract<SendResult, { ok: false }>): boolean {
  return r.status === null || r.status === 429 || r.status >= 500 || r.name === 'concurrent_idempotent_requests';
}
