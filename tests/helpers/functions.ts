/** What an Edge Function under test is given: Supabase's variables for the test database, and our secrets for the sandbox and the mail sink. */
import type pg from 'pg';
import type { RunningFunction } from '../../dev/functions/serve.ts';
import type { MailSink } from '../../dev/mail-sink/index.ts';
import type { Sandbox } from '../../dev/mp-sandbox/index.ts';
import { databaseUrl, functionsDatabaseUrl } from './db.ts';
import { TEST_SUPABASE_URL } from './jwt.ts';

/** Supabase's variables for the test database and the sandbox's secrets. */
function sandboxEnv(opts: { sandbox: Sandbox; jwtSecret: string; serviceKey: string }): Record<string, string> {
  return {
    SUPABASE_URL: TEST_SUPABASE_URL,
    // Direct, or PgBouncer in transaction mode when the suite runs via the pooler.
    CHECKOUT_DB_URL: functionsDatabaseUrl(),
    SUPABASE_DB_URL: databaseUrl(),
    SUPABASE_SERVICE_ROLE_KEY: opts.serviceKey,
    JWT_SECRET: opts.jwtSecret,
    MP_ACCESS_TOKEN: opts.sandbox.accessToken,
    MP_WEBHOOK_SECRET: opts.sandbox.webhookSecret,
    MP_API_BASE_URL: opts.sandbox.url,
  };
}

export function functionEnv(
  opts: { sandbox: Sandbox; sink: MailSink; jwtSecret: string; serviceKey: string; linkSecret: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...sandboxEnv(opts),
    RESEND_API_KEY: opts.sink.apiKey,
    RESEND_BASE_URL: opts.sink.url,
    EMAIL_LINK_SECRET: opts.linkSecret,
    ...extra,
  };
}

/** The payment suites' functions (create-preference, the webhook, reconcile, admin) against the sandbox, without the mail sink. */
export function paymentFunctionEnv(
  opts: { sandbox: Sandbox; jwtSecret: string; serviceKey: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return { ...sandboxEnv(opts), MP_TIMEOUT_MS: '5000', SITE_URL: 'http://127.0.0.1:5173', ...extra };
}

/** What a suite of Edge Functions started in its beforeAll (any part of which may be missing if it failed), stopped. */
export async function stopAll(
  started: { fn?: Record<string, RunningFunction>; sandbox?: Sandbox; sink?: MailSink; pool?: pg.Pool },
): Promise<void> {
  await Promise.all(Object.values(started.fn ?? {}).map((f) => f.stop()));
  await started.sandbox?.close();
  await started.sink?.close();
  await started.pool?.end();
}
