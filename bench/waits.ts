/**
 * Where a workload's time goes inside PostgreSQL (`npm run bench -- --waits`,
 * optional: it costs one extra connection polling every 10 ms).
 *
 * - `pg_stat_activity` of the workload's own backends, sampled from a
 *   separate connection: active with no wait event (on a CPU, or runnable
 *   and waiting for one), Lock/tuple, Lock/transactionid, LWLock/..., and
 *   the client's side (idle or idle in transaction: ClientRead).
 * - Each sample is attributed to the operation in flight on that backend, so
 *   the slowest 1% of operations can be set against the median ones.
 * - `/proc/<pid>/schedstat` of the same backends before and after: time on
 *   a CPU and time runnable but waiting in the kernel's run queue (the
 *   scheduling of many backends on few cores, which no lock design changes).
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';

/** One operation of runBounded: on which backend, when (performance.now()). */
export interface Span {
  pid: number;
  t0: number;
  t1: number;
}

interface Sample {
  t: number;
  pid: number;
  what: string;
}

function category(state: string | null, type: string | null, event: string | null): string {
  if (state === 'active') return type ? `${type}/${event}` : 'CPU (running or runnable)';
  if (state === 'idle in transaction') return 'client (idle in transaction)';
  if (state === 'idle') return 'client (idle)';
  return `${state}${type ? ` ${type}/${event}` : ''}`;
}

/** Nanoseconds on a CPU and waiting in the run queue, summed over `pids` (Linux). */
function schedstat(pids: number[]): { cpu: number; queue: number } {
  let cpu = 0;
  let queue = 0;
  for (const pid of pids) {
    try {
      const [c, q] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      cpu += c!;
      queue += q!;
    } catch {
      // gone, or not Linux
    }
  }
  return { cpu, queue };
}

function share(samples: Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.what, (counts.get(s.what) ?? 0) + 1);
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${((100 * n) / samples.length).toFixed(0)}%`)
    .join(', ') || '(no samples)';
}

/**
 * Runs `fn` (which fills `spans`) while sampling the backends `pids`; returns
 * fn's result and a few lines of text describing where the time went.
 */
export async function sampleWaits<T>(
  url: string,
  pids: number[],
  spans: Span[],
  fn: () => Promise<T>,
  intervalMs = 10,
): Promise<{ result: T; report: string[] }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const samples: Sample[] = [];
  let running = true;
  const sched0 = schedstat(pids);
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const { rows } = await c.query<{ pid: number; state: string | null; type: string | null; event: string | null }>(
        'select pid, state, wait_event_type as type, wait_event as event from pg_stat_activity where pid = any($1)',
        [pids],
      );
      const t = (t0 + performance.now()) / 2;
      for (const r of rows) samples.push({ t, pid: r.pid, what: category(r.state, r.type, r.event) });
      const rest = intervalMs - (performance.now() - t0);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    }
  })();
  let result: T;
  try {
    result = await fn();
  } finally {
    running = false;
    await loop;
    await c.end();
  }
  const sched1 = schedstat(pids);
  // Attribute each sample to the operation in flight on its backend.
  const byPid = new Map<number, Span[]>();
  for (const s of spans) (byPid.get(s.pid) ?? byPid.set(s.pid, []).get(s.pid)!).push(s);
  const inOp = new Map<Span, Sample[]>();
  const busy: Sample[] = [];
  for (const s of samples) {
    const op = byPid.get(s.pid)?.find((o) => o.t0 <= s.t && s.t <= o.t1);
    if (!op) continue;
    busy.push(s);
    (inOp.get(op) ?? inOp.set(op, []).get(op)!).push(s);
  }
  const sorted = [...spans].sort((a, b) => a.t1 - a.t0 - (b.t1 - b.t0));
  const slowest = sorted.slice(Math.floor(sorted.length * 0.99));
  const middle = sorted.slice(Math.floor(sorted.length * 0.25), Math.ceil(sorted.length * 0.75));
  const of = (ops: Span[]) => ops.flatMap((o) => inOp.get(o) ?? []);
  const n = spans.length || 1;
  const cpuMs = (sched1.cpu - sched0.cpu) / 1e6 / n;
  const queueMs = (sched1.queue - sched0.queue) / 1e6 / n;
  return {
    result,
    report: [
      `samples during operations (${busy.length}): ${share(busy)}`,
      `  slowest 1% of operations (${slowest.length}, ${of(slowest).length} samples): ${share(of(slowest))}`,
      `  middle half of operations (${middle.length}, ${of(middle).length} samples): ${share(of(middle))}`,
      `  backends per operation: ${cpuMs.toFixed(2)} ms on a CPU, ${queueMs.toFixed(2)} ms runnable in the run queue (/proc/<pid>/schedstat)`,
    ],
  };
}
