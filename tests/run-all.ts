/**
 * `npm test`: every suite against one throw-away PostgreSQL cluster.
 *
 *   1. start a cluster (Debian's binaries, pg_cron preloaded), apply the
 *      Supabase bootstrap, push supabase/migrations with the Supabase CLI and
 *      the seed, exactly as a deployment would;
 *   2. pgTAP: supabase/tests/*.sql through pg_prove;
 *   3. vitest: tests/**\/*.test.ts (database concurrency, the MercadoPago
 *      sandbox, Edge Functions under Deno, the browser), then the Edge
 *      Functions' suites again through PgBouncer in transaction mode;
 *   4. `deno test`: the handlers' unit tests with fake dependencies;
 *   5. `supabase db advisors --type all --fail-on warn`, the typecheck and
 *      the lint and format checks.
 *
 * Ends with one line `N passed, N failed` totalling every suite; exits
 * non-zero when anything failed.
 *
 * Flags: --only pgtap,vitest,pooler,advisors,deno,typecheck,lint   run a subset
 *        --keep                                   leave the cluster running
 *        -- <vitest args>                         passed to vitest (e.g. a file filter)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { denoBin, denoEnv, denoOfflineFlags, FUNCTION_NAMES, functionEntry } from '../dev/functions/serve.ts';
import { type Cluster, PrerequisiteError, startClusterOnFreePort } from '../dev/pg/cluster.ts';
import { ensurePrerequisites } from '../dev/prereqs.ts';
import { prepareDatabase, repoRoot, supabaseCli } from '../dev/pg/prepare.ts';

interface SuiteResult {
  name: string;
  passed: number;
  failed: number;
}

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const vitestArgs = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
const ownArgs = dashdash >= 0 ? argv.slice(0, dashdash) : argv;
const onlyIdx = ownArgs.indexOf('--only');
const only = onlyIdx >= 0 ? new Set((ownArgs[onlyIdx + 1] ?? '').split(',')) : undefined;
const keep = ownArgs.includes('--keep');
const wants = (suite: string) => !only || only.has(suite);

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** Counts pg_prove's verbose TAP; a file that died or ran fewer tests than planned counts its missing tests as failed. */
function countTap(out: string, code: number): { passed: number; failed: number } {
  const passed = (out.match(/^\s*ok \d+/gm) ?? []).length;
  let failed = (out.match(/^\s*not ok \d+/gm) ?? []).length;
  for (const m of out.matchAll(/You planned (\d+) tests? but ran (\d+)/g)) {
    failed += Math.max(Number(m[1]) - Number(m[2]), 0);
  }
  if (code !== 0 && failed === 0) failed = 1;
  return { passed, failed };
}

const PGTAP_HINT = 'apt-get update && apt-get install -y postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl';

/** The pgTAP files about privileges: run again under Supabase's legacy default privileges. */
const GRANT_TESTS = /^(010|020|03\d)-/;

async function runPgTap(url: string, port: number, opts: { name?: string; only?: RegExp } = {}): Promise<SuiteResult> {
  if (spawnSync('pg_prove', ['--version']).error) throw new PrerequisiteError(`pg_prove is not installed. Install it with: ${PGTAP_HINT}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // As `supabase test db` does. What the roles a test acts as need of pgTAP
    // the test helpers grant themselves (supabase/tests/helpers/tests.psql).
    await client.query('create extension if not exists pgtap with schema extensions');
  } catch (err) {
    throw new PrerequisiteError(`pgTAP is not installed for this PostgreSQL (${(err as Error).message}). Install it with: ${PGTAP_HINT}`);
  } finally {
    await client.end();
  }
  const files = readdirSync(join(repoRoot, 'supabase', 'tests'))
    .filter((f) => f.endsWith('.sql') && (!opts.only || opts.only.test(f)))
    .sort()
    .map((f) => join('supabase', 'tests', f));
  const { code, out } = await sh('pg_prove', ['-v', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', ...files]);
  return { name: opts.name ?? 'pgTAP', ...countTap(out, code) };
}

/**
 * The Edge Functions' suites (tests/edge) run twice: with the functions
 * connected directly, in the main vitest run, and again through PgBouncer in
 * transaction mode, the stand-in for Supavisor.
 */
const POOLER_SUITES = ['tests/edge/'];

async function runVitest(url: string, opts: { name: string; files: string[]; env?: NodeJS.ProcessEnv }): Promise<SuiteResult> {
  const report = join(mkdtempSync(join(tmpdir(), 'vitest-report-')), 'report.json');
  const { code } = await sh(
    join(repoRoot, 'node_modules', '.bin', 'vitest'),
    ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...opts.files],
    { TEST_DATABASE_URL: url, ...opts.env },
  );
  let passed = 0;
  let failed = 0;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
      numFailedTestSuites: number;
      testResults: { status: string; assertionResults: { status: string }[] }[];
    };
    passed = json.numPassedTests;
    failed = json.numFailedTests;
    // A file that failed outside its tests (import error, a failing beforeAll
    // that skipped them) counts once.
    failed += json.testResults.filter((f) => f.status === 'failed' && !f.assertionResults.some((a) => a.status === 'failed')).length;
  } catch {
    failed = 1;
  }
  if (code !== 0 && failed === 0) failed = 1;
  return { name: opts.name, passed, failed };
}

async function runAdvisors(url: string): Promise<SuiteResult> {
  try {
    const { stdout, stderr } = await supabaseCli(['db', 'advisors', `--remote=${url}`, '--type', 'all', '--fail-on', 'warn']);
    const out = stdout + stderr;
    process.stdout.write(out);
    // Exit 0 is not enough: a lint query that cannot run must not read as clean.
    const clean = /No issues found/.test(out);
    return { name: 'advisors', passed: clean ? 1 : 0, failed: clean ? 0 : 1 };
  } catch (err) {
    console.error((err as Error).message);
    return { name: 'advisors', passed: 0, failed: 1 };
  }
}

/** `deno lint` and `deno fmt --check` with deno.style.json: one test each. */
async function runLint(): Promise<SuiteResult> {
  const deno = join(repoRoot, 'node_modules', '.bin', 'deno');
  const lint = await sh(deno, ['lint', '--config', 'deno.style.json']);
  const fmt = await sh(deno, ['fmt', '--check', '--config', 'deno.style.json']);
  const failed = (lint.code === 0 ? 0 : 1) + (fmt.code === 0 ? 0 : 1);
  return { name: 'lint', passed: 2 - failed, failed };
}

/** tsc over the Node side, `deno check` over the Edge Functions: one test each. */
async function runTypecheck(): Promise<SuiteResult> {
  const tsc = await sh(join(repoRoot, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  // Every function as `supabase functions deploy` finds it, in one check.
  const entries = FUNCTION_NAMES.map(functionEntry);
  const deno = await sh(denoBin, ['check', '--quiet', ...denoOfflineFlags, ...entries], denoEnv);
  const failed = (tsc.code === 0 ? 0 : 1) + (deno.code === 0 ? 0 : 1);
  return { name: 'typecheck', passed: 2 - failed, failed };
}

/**
 * The handlers' unit tests (edge/<name>/handler.test.ts, fake dependencies):
 * `deno test` offline, with the functions' import map and node_modules.
 * Counts its summary line (`ok | N passed | M failed`); no summary is a failure.
 */
async function runDenoTests(): Promise<SuiteResult> {
  const r = await sh(denoBin, ['test', '--quiet', ...denoOfflineFlags, 'edge/'], denoEnv);
  const m = /(\d+) passed[^|\n]*\| (\d+) failed/.exec(r.out);
  if (!m) return { name: 'deno test (handlers)', passed: 0, failed: 1 };
  const failed = Number(m[2]);
  return { name: 'deno test (handlers)', passed: Number(m[1]), failed: failed + (r.code !== 0 && failed === 0 ? 1 : 0) };
}

/**
 * The grant and RLS tests on a second cluster bootstrapped with Supabase's
 * legacy default privileges (grant all on new public objects): the
 * migrations' explicit grants and revokes must hold there too.
 */
async function runLegacyGrants(): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), 'checkout-legacy-grants-'));
  const legacy = await startClusterOnFreePort({ dataDir: dir });
  try {
    await prepareDatabase(legacy.url, { seed: true, legacyDefaultPrivileges: true });
    return await runPgTap(legacy.url, legacy.port, { name: 'pgTAP (legacy default privileges)', only: GRANT_TESTS });
  } finally {
    await legacy.stop({ remove: true });
  }
}

/** The functions' suites again, on a database of their own, reached through PgBouncer in transaction mode. */
async function runPoolerSuites(): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), 'checkout-pooler-'));
  const db = await startClusterOnFreePort({ dataDir: dir });
  try {
    await prepareDatabase(db.url, { seed: true });
    return await runVitest(db.url, { name: 'vitest through PgBouncer', files: POOLER_SUITES, env: { TEST_VIA_POOLER: '1' } });
  } finally {
    await db.stop({ remove: true });
  }
}

async function main(): Promise<number> {
  const results: SuiteResult[] = [];
  let cluster: Cluster | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'checkout-test-'));
  const stop = async () => {
    if (cluster && !keep) await cluster.stop({ remove: true });
    else if (!cluster) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    if (wants('pgtap') || wants('vitest') || wants('pooler') || wants('advisors')) {
      // PostgreSQL, pg_cron, pgTAP, pg_prove, PgBouncer, Chromium: installed
      // when missing and we can (root + apt), else the exact command.
      ensurePrerequisites('test');
      cluster = await startClusterOnFreePort({ dataDir, durable: false });
      console.log(`test database: ${cluster.url}`);
      await prepareDatabase(cluster.url, { seed: true });
    }
    if (cluster && wants('pgtap')) {
      results.push(await runPgTap(cluster.url, cluster.port));
      results.push(await runLegacyGrants());
    }
    if (cluster && wants('advisors')) results.push(await runAdvisors(cluster.url));
    if (cluster && wants('vitest')) results.push(await runVitest(cluster.url, { name: 'vitest', files: vitestArgs }));
    if (cluster && wants('pooler') && vitestArgs.length === 0) results.push(await runPoolerSuites());
    if (wants('deno')) results.push(await runDenoTests());
    if (wants('typecheck')) results.push(await runTypecheck());
    if (wants('lint')) results.push(await runLint());
  } catch (err) {
    if (err instanceof PrerequisiteError) console.error(`\n${err.message}\n`);
    else console.error(err);
    results.push({ name: 'setup', passed: 0, failed: 1 });
  } finally {
    await stop();
    if (keep && cluster) console.log(`cluster kept at ${cluster.url} (data in ${dataDir})`);
  }
  console.log('');
  for (const r of results) console.log(`${r.name.padEnd(34)} ${r.passed} passed, ${r.failed} failed`);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

process.exitCode = await main();
