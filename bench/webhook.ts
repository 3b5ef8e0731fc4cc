/**
 * Webhook end to end: signed notifications from the MercadoPago sandbox to
 * the real webhook function under Deno, which fetches each payment from the
 * sandbox and applies it in the database. Baseline: the same number of
 * payments applied straight through the routine by 16 database clients.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startFunction } from '../dev/functions/serve.ts';
import { startSandbox } from '../dev/mp-sandbox/index.ts';
import { createSessions, createShoppersWithCarts, createVariants } from './fixtures.ts';
import { asService, closeClients, openServiceClients, percentile, runClients, summarize } from './lib.ts';
import type { Row } from './run.ts';

function peakRssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export async function webhookWorkload(url: string, admin: pg.Client, opts: { quick: boolean; log: (m: string) => void }): Promise<Row[]> {
  const n = opts.quick ? 300 : 1500;
  const variants = await createVariants(admin, 20, { stock: 1_000_000, prefix: 'hook' });
  const sandbox = await startSandbox({ retrySchedule: [500, 1000, 2000, 4000], webhookTimeoutMs: 22_000 });
  const fn = await startFunction('mercadopago-webhook', {
    SUPABASE_URL: 'http://127.0.0.1:9',
    SUPABASE_DB_URL: url,
    SUPABASE_SERVICE_ROLE_KEY: 'bench-service-key',
    SUPABASE_JWT_SECRET: 'bench-jwt-secret-with-at-least-32-characters',
    MP_ACCESS_TOKEN: sandbox.accessToken,
    MP_WEBHOOK_SECRET: sandbox.webhookSecret,
    MP_API_BASE_URL: sandbox.url,
  });
  try {
    const sessions = await createSessions(admin, await createShoppersWithCarts(admin, n, variants, 2));
    const prefs = await Promise.all(
      sessions.map(async (s) => {
        const res = await fetch(`${sandbox.url}/checkout/preferences`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sandbox.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            items: [{ id: s.token, title: 'bench', quantity: 1, unit_price: Number(s.total), currency_id: 'ARS' }],
            external_reference: s.token,
            notification_url: `${fn.url}/mercadopago-webhook`,
          }),
        });
        return ((await res.json()) as { id: string }).id;
      }),
    );
    sandbox.holdNotifications();
    for (const p of prefs) sandbox.pay(p, { cardholderName: 'APRO' });
    const t0 = performance.now();
    await sandbox.releaseNotifications('fifo', { parallel: true });
    await sandbox.settle(300_000);
    const seconds = (performance.now() - t0) / 1000;
    const deliveries = sandbox.deliveries();
    const ok = deliveries.filter((d) => d.ok);
    const { rows } = await admin.query(
      `select count(*)::int as n from public.orders o join public.order_sessions s on s.id = o.order_session_id where s.token = any($1)`,
      [sessions.map((s) => s.token)],
    );
    if (rows[0].n !== n) throw new Error(`webhook: expected ${n} orders, got ${rows[0].n}`);
    const latencies = ok.map((d) => d.durationMs);
    const webhook = summarize(latencies, deliveries.length - ok.length, seconds);
    // Throughput counts notifications, whatever their number of attempts.
    webhook.throughput = n / seconds;

    // Baseline: the routine alone.
    const direct = await createSessions(admin, await createShoppersWithCarts(admin, n, variants, 2));
    const conns = await openServiceClients(url, 16);
    const per = Math.ceil(n / 16);
    const base = await runClients(conns, per, async (ci, i, c) => {
      const s = direct[ci * per + i];
      if (!s) return;
      await asService(c, 'select checkout.apply_payment($1) as r', [
        { id: 8_000_000_000 + ci * per + i, status: 'approved', transaction_amount: s.total, currency_id: 'ARS', external_reference: s.token },
      ]);
    });
    await closeClients(conns);
    opts.log('webhook done');
    return [
      {
        workload: 'webhook end to end',
        variant: `${n} notifications: emulator → Deno → MercadoPago API → database`,
        stats: webhook,
        figures: {
          attempts: deliveries.length,
          'p99 of attempts ms': percentile([...latencies].sort((a, b) => a - b), 99),
          'webhook peak RSS MiB': peakRssMiB(fn.process.pid),
        },
        ratios: { 'vs routine alone': webhook.throughput / base.throughput },
      },
      { workload: 'webhook end to end', variant: 'baseline: apply_payment direct, 16 clients', stats: base },
    ];
  } finally {
    await fn.stop();
    await sandbox.close();
  }
}
