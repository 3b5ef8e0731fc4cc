/**
 * Webhook end to end: signed notifications from the MercadoPago sandbox to
 * the real webhook function under Deno, which fetches each payment from the
 * sandbox and applies it in the database. Baseline: the same number of
 * payments applied straight through the routine by 16 database clients.
 *
 * Where the difference goes: the burst is run with the function's database
 * pool at its default (3) and at 16 (the baseline's client count), and the
 * CPU seconds of every process are counted (PostgreSQL, Deno, and this
 * process, which plays MercadoPago: the sandbox signs and sends every
 * notification and answers every GET /v1/payments). A bare burst of those
 * GETs prices the MercadoPago call alone.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startFunction } from '../dev/functions/serve.ts';
import { startSandbox } from '../dev/mp-sandbox/index.ts';
import { cpuDuring, postmasterPid, selfCpuSeconds, treeCpuSeconds } from './cpu.ts';
import { createSessions, createShoppersWithCarts, createVariants } from './fixtures.ts';
import { asService, BENCH_RETRY_SCHEDULE, closeClients, openServiceClients, percentile, type Row, runClients, type Stats, summarize } from './lib.ts';

/** Bursts so far in this process: each baseline's payment ids are its own (`--repeat`). */
let baselines = 0;

function peakRssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Burst {
  stats: Stats;
  attempts: number;
  p99Attempts: number;
  rssMiB: number;
  /** CPU ms per notification: pg, deno, mp (this process: sandbox). */
  cpuMs: Record<string, number>;
}

export async function webhookWorkload(
  url: string,
  admin: pg.Client,
  opts: { quick: boolean; log: (m: string) => void; dataDir: string },
): Promise<Row[]> {
  const n = opts.quick ? 200 : 1500;
  const variants = await createVariants(admin, 20, { stock: 1_000_000, prefix: 'hook' });
  const sandbox = await startSandbox({ retrySchedule: [...BENCH_RETRY_SCHEDULE], webhookTimeoutMs: 22_000 });
  const pgPid = postmasterPid(opts.dataDir);
  const pgCpu = () => treeCpuSeconds(pgPid);
  try {
    const burst = async (poolMax: number): Promise<Burst> => {
      const fn = await startFunction('mercadopago-webhook', {
        SUPABASE_URL: 'http://127.0.0.1:9',
        SUPABASE_DB_URL: url,
        CHECKOUT_DB_POOL_MAX: String(poolMax),
        SUPABASE_SERVICE_ROLE_KEY: 'bench-service-key',
        SUPABASE_JWT_SECRET: 'bench-jwt-secret-with-at-least-32-characters',
        MP_ACCESS_TOKEN: sandbox.accessToken,
        MP_WEBHOOK_SECRET: sandbox.webhookSecret,
        MP_API_BASE_URL: sandbox.url,
        // The bound on notifications waiting (its default unless set, e.g. 100000 for none).
        ...(process.env.MP_WEBHOOK_MAX_WAITING ? { MP_WEBHOOK_MAX_WAITING: process.env.MP_WEBHOOK_MAX_WAITING } : {}),
      });
      /** A preference at the sandbox for an order session, notifying this webhook. */
      const preferenceFor = async (s: { token: string; total: string | number }): Promise<string> => {
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
      };
      try {
        const sessions = await createSessions(admin, await createShoppersWithCarts(admin, n, variants, 2));
        // 50 at a time: 1,500 at once overflow the sandbox's listen backlog on a busy machine (ECONNRESET).
        const prefs: string[] = [];
        for (let i = 0; i < sessions.length; i += 50) prefs.push(...(await Promise.all(sessions.slice(i, i + 50).map(preferenceFor))));
        // Warm-up, not measured: a few notifications so Deno has compiled the path.
        const warm = await createSessions(admin, await createShoppersWithCarts(admin, 20, variants, 2));
        for (const s of warm) {
          sandbox.pay(await preferenceFor(s), { cardholderName: 'APRO' });
        }
        await sandbox.settle(60_000);
        const seen = sandbox.deliveries().length;
        sandbox.holdNotifications();
        for (const p of prefs) sandbox.pay(p, { cardholderName: 'APRO' });
        const denoPid = fn.process.pid;
        const t0 = performance.now();
        const { cpu } = await cpuDuring({ pg: pgCpu, deno: () => treeCpuSeconds(denoPid), mp: selfCpuSeconds }, async () => {
          await sandbox.releaseNotifications('fifo', { parallel: true });
          await sandbox.settle(300_000);
        });
        const seconds = (performance.now() - t0) / 1000;
        const deliveries = sandbox.deliveries().slice(seen);
        const ok = deliveries.filter((d) => d.ok);
        const { rows } = await admin.query(
          `select count(*)::int as n from public.orders o join public.order_sessions s on s.id = o.order_session_id where s.token = any($1)`,
          [sessions.map((s) => s.token)],
        );
        if (rows[0].n !== n) throw new Error(`webhook: expected ${n} orders, got ${rows[0].n}`);
        const latencies = ok.map((d) => d.durationMs);
        const stats = summarize(latencies, deliveries.length - ok.length, seconds);
        // Throughput counts notifications, whatever their number of attempts.
        stats.throughput = n / seconds;
        return {
          stats,
          attempts: deliveries.length,
          p99Attempts: percentile([...latencies].sort((a, b) => a - b), 99),
          rssMiB: peakRssMiB(fn.process.pid),
          cpuMs: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, (v * 1000) / n])),
        };
      } finally {
        await fn.stop();
      }
    };
    const pool3 = await burst(3);
    opts.log('webhook burst, pool 3 done');
    const pool16 = await burst(16);
    opts.log('webhook burst, pool 16 done');

    // The MercadoPago call alone: the same number of GET /v1/payments/:id
    // from 16 concurrent callers, answered by the sandbox.
    const paymentIds = [...new Set(sandbox.deliveries().map((d) => d.paymentId))].slice(-n);
    const getLat: number[] = [];
    const getStart = performance.now();
    const { cpu: getCpu } = await cpuDuring({ mp: selfCpuSeconds }, async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < paymentIds.length) {
            const id = paymentIds[next++];
            const t = performance.now();
            const res = await fetch(`${sandbox.url}/v1/payments/${id}`, { headers: { authorization: `Bearer ${sandbox.accessToken}` } });
            await res.arrayBuffer();
            getLat.push(performance.now() - t);
          }
        }),
      );
    });
    const gets = summarize(getLat, 0, (performance.now() - getStart) / 1000);

    // Baseline: the routine alone.
    const direct = await createSessions(admin, await createShoppersWithCarts(admin, n, variants, 2));
    const conns = await openServiceClients(url, 16);
    const per = Math.ceil(n / 16);
    const firstId = 8_000_000_000 + baselines++ * 1_000_000;
    const { result: base, cpu: baseCpu } = await cpuDuring({ pg: pgCpu, node: selfCpuSeconds }, () =>
      runClients(conns, per, async (ci, i, c) => {
        const s = direct[ci * per + i];
        if (!s) return;
        await asService(c, 'select checkout.apply_payment($1) as r', [
          { id: firstId + ci * per + i, status: 'approved', transaction_amount: s.total, currency_id: 'ARS', external_reference: s.token },
        ]);
      }));
    await closeClients(conns);
    opts.log('webhook done');
    const basePgMs = (baseCpu.pg! * 1000) / n;
    const total = (b: Burst) => b.cpuMs.pg! + b.cpuMs.deno! + b.cpuMs.mp!;
    const burstRow = (b: Burst, pool: number): Row => ({
      workload: 'webhook end to end',
      variant: `${n} payments' notifications (3 each): emulator → Deno (db pool ${pool}) → MercadoPago API → database`,
      stats: b.stats,
      figures: {
        attempts: b.attempts,
        'p99 of attempts ms': b.p99Attempts,
        'webhook peak RSS MiB': b.rssMiB,
        'CPU ms per notification: PostgreSQL': b.cpuMs.pg!,
        Deno: b.cpuMs.deno!,
        'sandbox (MercadoPago)': b.cpuMs.mp!,
      },
      ratios: {
        'vs routine alone': b.stats.throughput / base.throughput,
        'without the sandbox CPU, vs routine alone': (b.stats.throughput * total(b)) / (b.cpuMs.pg! + b.cpuMs.deno!) / base.throughput,
      },
    });
    return [
      burstRow(pool3, 3),
      burstRow(pool16, 16),
      {
        workload: 'webhook end to end',
        variant: `the MercadoPago call alone: ${gets.ops} GET /v1/payments/:id, 16 callers`,
        stats: gets,
        figures: { 'sandbox CPU ms per GET': (getCpu.mp! * 1000) / Math.max(1, gets.ops) },
      },
      {
        workload: 'webhook end to end',
        variant: 'baseline: apply_payment direct, 16 clients',
        stats: base,
        figures: { 'CPU ms per payment: PostgreSQL': basePgMs, 'bench client': (baseCpu.node! * 1000) / n },
      },
    ];
  } finally {
    await sandbox.close();
  }
}
