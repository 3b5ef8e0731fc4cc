/**
 * `npm run bench:profile-payments`: where each `checkout.apply_payment` spends
 * PostgreSQL's time, the payments cell's workload (approved payments, once
 * each, 16 clients, 2-line sessions over 50 variants) on a cluster of its own
 * with `pg_stat_statements.track = all` (the statements inside the routines).
 *
 * Prints, as markdown for docs/performance.md: the rate, p50/p99, the
 * postmaster's CPU ms per payment, the share of the workload's backends
 * waiting on a lock (sampled every 10 ms), and per inner statement: calls
 * per payment, total and mean ms, rows and shared buffers per call. Then
 * the plan of every statement of one more payment (`auto_explain` with
 * `log_analyze`, `log_buffers` and `log_nested_statements`), with `--explain`.
 *
 * Options: `--n <payments>` (default 2000), `--clients <n>` (16),
 * `--top <statements>` (25), `--explain`, `--base <commit>`: first the same
 * profile on a database built from <commit>'s supabase/ folder (its
 * migrations: routines, triggers and indexes as they were), then today's,
 * each on a fresh cluster: before and after from one invocation.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startClusterOnFreePort } from '../dev/pg/cluster.ts';
import { applyBootstrap, prepareDatabase, repoRoot, supabaseBin } from '../dev/pg/prepare.ts';
import { postmasterPid, treeCpuSeconds } from './cpu.ts';
import { createSessions, createShoppersWithCarts, createVariants } from './fixtures.ts';
import { asService, closeClients, fmt, openServiceClients, runClients } from './lib.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const n = opt('--n', 2000);
const clients = opt('--clients', 16);
const top = opt('--top', 25);
const base = args.includes('--base') ? args[args.indexOf('--base') + 1] : undefined;

/**
 * The database as `commit` built it: that commit's supabase/ folder (its
 * migrations, triggers and indexes included) pushed by the Supabase CLI.
 */
async function prepareAt(url: string, commit: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'checkout-base-'));
  try {
    execFileSync('sh', ['-c', `git -C "$0" archive "$1" supabase | tar -x -C "$2"`, repoRoot, commit, dir]);
    await applyBootstrap(url);
    execFileSync(supabaseBin, ['db', 'push', `--remote=${url}`, '--yes'], {
      cwd: dir,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', NO_COLOR: '1' },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const payment = (s: { token: string; total: number }, id: number) => ({
  id,
  status: 'approved',
  transaction_amount: s.total,
  currency_id: 'ARS',
  external_reference: s.token,
});

/** One line of SQL, at most `max` characters. */
const oneLine = (q: string, max = 110) => {
  const t = q.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

async function profile(label: string, commit?: string) {
  const cluster = await startClusterOnFreePort({
    dataDir: mkdtempSync(join(tmpdir(), 'checkout-profile-')),
    durable: false,
    settings: {
      max_connections: 100,
      shared_buffers: "'512MB'",
      shared_preload_libraries: "'pg_cron,pg_stat_statements'",
      'pg_stat_statements.track': 'all',
      'pg_stat_statements.max': 5000,
      log_min_messages: 'log',
    },
  });
  const admin = new pg.Client({ connectionString: cluster.url });
  try {
    if (commit) await prepareAt(cluster.url, commit);
    else await prepareDatabase(cluster.url);
    await admin.connect();
    admin.on('error', () => undefined);
    await admin.query('create extension if not exists pg_stat_statements');
    const variants = await createVariants(admin, 50, { stock: 1_000_000, prefix: 'prof' });
    const conns = await openServiceClients(cluster.url, clients);
    for (const c of conns) c.on('error', () => undefined);
    // Warm-up, not measured: every connection plans the routine's statements.
    const warm = await createSessions(admin, await createShoppersWithCarts(admin, clients * 5, variants, 2));
    await runClients(conns, 5, (ci, i, c) => asService(c, 'select checkout.apply_payment($1) as r', [payment(warm[ci * 5 + i]!, 9_100_000_000 + ci * 5 + i)]));
    const sessions = await createSessions(admin, await createShoppersWithCarts(admin, n, variants, 2));
    const per = Math.ceil(n / clients);
    const backendPids = (await Promise.all(conns.map((c) => c.query<{ pid: number }>('select pg_backend_pid() as pid')))).map((r) => r.rows[0]!.pid);

    await admin.query('select pg_stat_statements_reset()');
    const pgPid = postmasterPid(cluster.dataDir);
    const cpu0 = treeCpuSeconds(pgPid);
    // Lock waits of the workload's backends, sampled every 10 ms.
    const waits = new Map<string, number>();
    const rowWaits = new Map<string, number>();
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      const probe = new pg.Client({ connectionString: cluster.url });
      await probe.connect();
      probe.on('error', () => undefined);
      while (sampling) {
        const { rows } = await probe.query<{ what: string }>(
          `select case when state <> 'active' then 'client' when wait_event_type is null then 'CPU' else wait_event_type || '/' || wait_event end as what
             from pg_stat_activity where pid = any($1)`,
          [backendPids],
        );
        for (const r of rows) waits.set(r.what, (waits.get(r.what) ?? 0) + 1);
        samples += rows.length;
        // A row-lock wait, by the table of the row: the waiter's tuple lock
        // (held while it waits for the holder's transaction, or awaited).
        const { rows: on } = await probe.query<{ rel: string }>(
          `select distinct on (w.pid) coalesce(t.relation::regclass::text, '?') as rel
             from pg_locks w left join pg_locks t on t.pid = w.pid and t.locktype = 'tuple'
            where not w.granted and w.pid = any($1) and w.locktype in ('transactionid', 'tuple')`,
          [backendPids],
        );
        for (const r of on) rowWaits.set(r.rel, (rowWaits.get(r.rel) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 10));
      }
      await probe.end();
    })();
    const stats = await runClients(conns, per, async (ci, i, c) => {
      const s = sessions[ci * per + i];
      if (s) await asService(c, 'select checkout.apply_payment($1) as r', [payment(s, 9_200_000_000 + ci * per + i)]);
    });
    const cpuMs = ((treeCpuSeconds(pgPid) - cpu0) * 1000) / n;
    sampling = false;
    await sampler;
    if (stats.errors > 0) throw new Error(`${stats.errors} payments failed: ${stats.errorSamples.join('; ')}`);
    const { rows: made } = await admin.query<{ n: number }>('select count(*)::int as n from public.orders where payment_id >= 9200000000');
    if (made[0]!.n !== n) throw new Error(`expected ${n} orders, found ${made[0]!.n}`);

    const { rows } = await admin.query<{ calls: string; total: number; mean: number; rows: string; blks: string; dirtied: string; query: string }>(
      `select calls, total_exec_time as total, mean_exec_time as mean, rows, shared_blks_hit + shared_blks_read as blks,
              shared_blks_dirtied as dirtied, query
         from pg_stat_statements
        where query not ilike '%pg_stat_statements%' and query not ilike '%pg_stat_activity%'
        order by total_exec_time desc limit $1`,
      [top],
    );
    console.log(`## ${label}: ${n} approved payments, once each, ${clients} clients (${new Date().toISOString()})\n`);
    console.log(`| payments/s | p50 ms | p99 ms | PostgreSQL CPU ms per payment |`);
    console.log(`|---|---|---|---|`);
    console.log(`| ${fmt(stats.throughput, 0)} | ${fmt(stats.p50)} | ${fmt(stats.p99)} | ${fmt(cpuMs, 2)} |\n`);
    console.log(
      `Backends' state (${samples} samples): ` +
        [...waits.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${((100 * v) / samples).toFixed(0)}%`).join(', ') + '\n',
    );
    console.log(
      `Row-lock waits by table (samples): ` + ([...rowWaits.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none') + '\n',
    );
    console.log('| calls per payment | total ms | mean ms | rows per call | buffers per call | dirtied | statement |');
    console.log('|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const calls = Number(r.calls);
      console.log(
        `| ${fmt(calls / n, 2)} | ${fmt(r.total, 0)} | ${fmt(r.mean, 3)} | ${fmt(Number(r.rows) / calls, 1)} | ${
          fmt(Number(r.blks) / calls, 1)
        } | ${r.dirtied} | \`${oneLine(r.query).replace(/\|/g, '\\|')}\` |`,
      );
    }

    if (args.includes('--explain')) {
      // Every statement of one more payment, with its plan, timing and buffers.
      const [one] = await createSessions(admin, await createShoppersWithCarts(admin, 1, variants, 2));
      const logStart = readFileSync(cluster.logFile, 'utf8').length;
      await admin.query(`load 'auto_explain'; set auto_explain.log_min_duration = 0; set auto_explain.log_analyze = on;
        set auto_explain.log_buffers = on; set auto_explain.log_nested_statements = on; set auto_explain.log_timing = on`);
      await admin.query('set role service_role');
      await admin.query('select checkout.apply_payment($1)', [payment(one!, 9_300_000_000)]);
      await admin.query('reset role');
      await new Promise((r) => setTimeout(r, 500));
      console.log('\n### Plans of one payment (auto_explain)\n\n```');
      console.log(readFileSync(cluster.logFile, 'utf8').slice(logStart).split('\n').filter((l) => !/^\s*$/.test(l)).join('\n'));
      console.log('```');
    }
    await closeClients(conns);
  } finally {
    await admin.end().catch(() => undefined);
    await cluster.stop({ remove: true });
  }
}

async function main() {
  if (base) await profile(`apply_payment at ${base}`, base);
  await profile('apply_payment now');
}

await main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
