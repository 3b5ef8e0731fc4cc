/** Load generation and statistics for the benchmark. */
import pg from 'pg';

export interface Stats {
  ops: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  errorSamples: string[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function summarize(latenciesMs: number[], errors: number, seconds: number, errorSamples: string[] = []): Stats {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    ops: sorted.length,
    errors,
    seconds,
    throughput: sorted.length / seconds,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    errorSamples: errorSamples.slice(0, 3),
  };
}

export async function openClients(url: string, n: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
}

export async function closeClients(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

/**
 * Runs `op(clientIndex, iteration, client)` on every client, `perClient`
 * times each, all clients at once; latency per op in ms.
 */
export async function runClients(
  clients: pg.Client[],
  perClient: number,
  op: (ci: number, i: number, c: pg.Client) => Promise<unknown>,
): Promise<Stats> {
  const latencies: number[] = [];
  const samples: string[] = [];
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    clients.map(async (c, ci) => {
      for (let i = 0; i < perClient; i++) {
        const t0 = performance.now();
        try {
          await op(ci, i, c);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          if (samples.length < 3) samples.push((err as Error).message);
          await c.query('rollback').catch(() => undefined);
        }
      }
    }),
  );
  return summarize(latencies, errors, (performance.now() - start) / 1000, samples);
}

/** Runs op in a loop on every client until stop() resolves; for background load. */
export function runUntil(
  clients: pg.Client[],
  op: (ci: number, i: number, c: pg.Client) => Promise<unknown>,
): { stop: () => Promise<Stats> } {
  let running = true;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const loops = clients.map(async (c, ci) => {
    for (let i = 0; running; i++) {
      const t0 = performance.now();
      try {
        await op(ci, i, c);
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
        await c.query('rollback').catch(() => undefined);
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return summarize(latencies, errors, (performance.now() - start) / 1000);
    },
  };
}

/** One statement as service_role, the way the Edge Functions call the checkout routines (see edge/_shared/db.ts). */
export async function asService<T>(c: pg.Client, sql: string, params: unknown[]): Promise<T> {
  const { rows } = await c.query(sql, params);
  return rows[0] as T;
}

/** Opens clients that act as service_role, as the Edge Functions' connections do. */
export async function openServiceClients(url: string, n: number): Promise<pg.Client[]> {
  const clients = await openClients(url, n);
  await Promise.all(clients.map((c) => c.query('set role service_role')));
  return clients;
}

/** Inside a transaction as a shopper, the way PostgREST runs an RPC. */
export async function asShopper<T>(c: pg.Client, shopperId: string, sql: string, params: unknown[]): Promise<T> {
  await c.query('begin');
  await c.query(`select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, [
    JSON.stringify({ sub: shopperId, role: 'authenticated', aud: 'authenticated' }),
  ]);
  const { rows } = await c.query(sql, params);
  await c.query('commit');
  return rows[0] as T;
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

/** One line of the report. */
export interface Row {
  workload: string;
  variant: string;
  stats?: Stats;
  /** Extra figures (per-row times, sizes...). */
  figures?: Record<string, number | string>;
  /** ratio name → value, e.g. "vs floor" → 0.42 */
  ratios?: Record<string, number>;
}

/**
 * The sandbox's retry delays in the bench: MercadoPago's (15 min, 30 min, 6 h ...)
 * compressed, but as many tries, so that a notification the webhook refused
 * as busy (503 `webhook_busy`, when MP_WEBHOOK_MAX_WAITING is set) is delivered later.
 */
export const BENCH_RETRY_SCHEDULE = [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000];
