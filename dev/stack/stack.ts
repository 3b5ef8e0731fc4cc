/**
 * The whole product on one machine without Docker (`npm start`, and the
 * browser and client-library tests): PostgreSQL with pg_cron and our
 * migrations and seed, the MercadoPago sandbox, every Edge Function under real
 * Deno, the local API on Supabase's port (auth, RPC, functions) and the demo
 * storefront. `startStack()` starts and supervises them; `stop()` stops them
 * all (no orphan Deno or PostgreSQL process).
 *
 * Data lives in `dataDir` (default `.local/stack`, git-ignored) and survives
 * restarts: a restart pushes only pending migrations (the Supabase CLI tracks
 * them) and re-runs the idempotent seed. `reset` wipes it first.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, type FSWatcher, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { runCommand } from '../child.ts';
import { denoBin, FUNCTION_NAMES, type RunningFunction, startFunction } from '../functions/serve.ts';
import { type MailSink, startMailSink } from '../mail-sink/index.ts';
import { buildNext, isNextBuilt, nextDir, type NextServer, startNextServer } from '../next/storefront.ts';
import { type Sandbox, type SandboxOptions, startSandbox } from '../mp-sandbox/index.ts';
import { ensurePrerequisites } from '../prereqs.ts';
import { type Cluster, findPgBinaries, freePort, isPortFree, PrerequisiteError, startCluster, startClusterOnFreePort } from '../pg/cluster.ts';
import { prepareDatabase, repoRoot } from '../pg/prepare.ts';
import { apiKey, LOCAL_JWT_SECRET, LOCAL_SECRET_KEY, verifyJwt } from './jwt.ts';
import { type AuthGuardConfig, CAPTCHA_TEST_KEYS, type CaptchaConfig, readAuthGuardConfig, verifyCaptcha } from './auth-guard.ts';
import { type FunctionTarget, type LocalApi, startLocalApi } from './local-api.ts';
import { startStorefrontServer, type StorefrontServer } from './web-server.ts';
import type { Country } from '../../edge/_shared/country.ts';
import { applyCountry } from './country.ts';

export { PrerequisiteError } from '../pg/cluster.ts';

export interface StackOptions {
  /** Where the cluster and the stack's state live (default `<repo>/.local/stack`, git-ignored; persistent). */
  dataDir?: string;
  /** Wipe dataDir first. */
  reset?: boolean;
  /** 0 = a free port (tests). Defaults: api 54321, db 54322, mp 54330, mail 54340, web 5173, next 3000. */
  ports?: { api?: number; db?: number; mp?: number; mail?: number; web?: number; next?: number };
  /** How often the stack calls send-emails, as pg_cron + pg_net do on hosted Supabase (default 60 000 ms; 0 = never). */
  sendEmailsEveryMs?: number;
  /** The store's country (dev/stack/country.ts): its settings, the demo catalog in its currency, the sandbox's site (default: keep the database's, Argentina on a fresh one). */
  country?: Country;
  /** Sets private.settings.reservation_ttl (default: keep the database's, 15 minutes on a fresh one). */
  reservationTtlSeconds?: number;
  /** Serve the demo storefront (default true); builds web/demo/dist when it is missing. */
  serveStorefront?: boolean;
  /** Where the built storefront is (default `<repo>/web/demo/dist`). */
  storefrontDist?: string;
  /** Serve the store owner's dashboard under <webUrl>/admin/ (default false; npm start: true). Builds web/admin/dist when missing. Needs serveStorefront. */
  serveAdmin?: boolean;
  /** Where the built dashboard is (default `<repo>/web/admin/dist`). */
  adminDist?: string;
  /**
   * Serve the Next.js storefront (web/next) with `next start` (default false;
   * npm start: true). Builds it on the packed library when it is not built.
   * Its /checkout/return joins the functions' CHECKOUT_RETURN_URLS.
   */
  serveNext?: boolean;
  /** Extra environment for the Next.js storefront's server (e.g. TRUSTED_PROXIES; see web/README.md). */
  nextEnv?: Record<string, string>;
  /** Edge Functions to run (default: every one of FUNCTION_NAMES whose edge/<name>/index.ts exists). */
  functions?: readonly string[];
  /** Restart a function when its files (or edge/_shared) change. */
  watch?: boolean;
  /** Extra options for the MercadoPago sandbox (e.g. a short retrySchedule in tests). */
  sandbox?: Omit<SandboxOptions, 'port' | 'host' | 'log'>;
  /** Extra environment for the Edge Functions (after the stack's own; see edge/README.md). */
  functionEnv?: Record<string, string>;
  /** Keys: default the env (SUPABASE_JWT_SECRET or JWT_SECRET, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_SECRET_KEY), else Supabase's local ones. */
  jwtSecret?: string;
  anonKey?: string;
  serviceRoleKey?: string;
  /** The secret API key (`sb_secret_…`): the functions get it in SUPABASE_SECRET_KEYS, the Next.js storefront's server as SUPABASE_SECRET_KEY. */
  secretKey?: string;
  /** How often to call the reconcile function, like the checkout-reconcile cron job on hosted Supabase (default 60 000 ms; 0: never). */
  reconcileIntervalMs?: number;
  /** Access token lifetime (config.toml auth.jwt_expiry, 3600). */
  jwtExpirySeconds?: number;
  /**
   * Auth's rate limits and CAPTCHA (auth-guard.ts); each field defaults to
   * supabase/config.toml (`[auth.rate_limit]`, `[auth.captcha]`).
   */
  auth?: Partial<AuthGuardConfig>;
  log?: (line: string) => void;
}

export interface Stack {
  apiUrl: string;
  dbUrl: string;
  mpUrl: string;
  /** '' when serveStorefront is false. */
  webUrl: string;
  /** The dashboard, `<webUrl>/admin/`; '' when not served. */
  adminUrl: string;
  /** The Next.js storefront; '' when not served. */
  nextUrl: string;
  /** Its `next start` process, when served (tests restart it). */
  nextServer: NextServer | undefined;
  anonKey: string;
  serviceRoleKey: string;
  /** The secret API key (`sb_secret_…`), a server's: it may forward end users' addresses (Sb-Forwarded-For). */
  secretKey: string;
  jwtSecret: string;
  sandbox: Sandbox;
  /** The Resend API emulator the functions send email to; its page lists what was sent. */
  mailSink: MailSink;
  dataDir: string;
  /** Names of the Edge Functions being served. */
  functions: string[];
  stop(): Promise<void>;
}

/** Signs the restore and unsubscribe links in local emails (set EMAIL_LINK_SECRET to override). */
const LOCAL_EMAIL_LINK_SECRET = 'local-stack-email-link-secret-not-for-production';

export const DEFAULT_PORTS = { api: 54321, db: 54322, mp: 54330, mail: 54340, web: 5173, next: 3000 } as const;
export type PortName = keyof typeof DEFAULT_PORTS;
/** How a store developer changes each port (the env var and the npm start flag). */
export const PORT_SETTINGS: Record<PortName, { what: string; env: string; flag: string }> = {
  api: { what: 'the local API', env: 'STACK_API_PORT', flag: '--api-port' },
  db: { what: 'PostgreSQL', env: 'STACK_DB_PORT', flag: '--db-port' },
  mp: { what: 'the MercadoPago sandbox', env: 'MP_SANDBOX_PORT', flag: '--mp-port' },
  mail: { what: 'the mail sink', env: 'MAIL_SINK_PORT', flag: '--mail-port' },
  web: { what: 'the demo storefront', env: 'STACK_WEB_PORT', flag: '--web-port' },
  next: { what: 'the Next.js storefront', env: 'STACK_NEXT_PORT', flag: '--next-port' },
};

export class PortInUseError extends PrerequisiteError {
  constructor(
    readonly port: number,
    readonly which: PortName,
  ) {
    const s = PORT_SETTINGS[which];
    super(
      `Port ${port} (${s.what}) is already in use. Stop whatever listens on it (\`ss -ltnp 'sport = :${port}'\` shows it), ` +
        `or pick another port with ${s.env}=<port> npm start, or npm start -- ${s.flag} <port>.`,
    );
  }
}

/** Environment variables of the Edge Functions passed through from the caller's environment when set. */
const FUNCTION_PASSTHROUGH = [
  'MP_TIMEOUT_MS',
  'EMAIL_LINK_SECRET',
  'EMAIL_FROM',
  'MP_WEBHOOK_TOLERANCE_SECONDS',
  'MP_EXCLUDED_PAYMENT_TYPES',
  'MP_TICKET_EXPIRATION_DAYS',
  'MP_STATEMENT_DESCRIPTOR',
  'MP_MAX_INSTALLMENTS',
  'STORE_NAME',
  'CHECKOUT_RETURN_URL',
];

export const defaultDataDir = join(repoRoot, '.local', 'stack');
export const defaultStorefrontDist = join(repoRoot, 'web', 'demo', 'dist');
export const defaultAdminDist = join(repoRoot, 'web', 'admin', 'dist');

/** Checks what startStack needs before starting anything; throws PrerequisiteError with a one-paragraph fix. */
export async function checkPrerequisites(opts: Pick<StackOptions, 'ports' | 'dataDir' | 'serveStorefront' | 'serveNext'> = {}): Promise<void> {
  // PostgreSQL and pg_cron: installed here when missing and we can (root + apt).
  ensurePrerequisites('start');
  findPgBinaries();
  if (!existsSync(denoBin)) {
    throw new PrerequisiteError(`Deno is missing (${denoBin}). Run \`npm install\` (Deno comes from the npm package "deno").`);
  }
  if (!existsSync(join(repoRoot, 'node_modules', '.bin', 'supabase'))) {
    throw new PrerequisiteError('The Supabase CLI is missing (node_modules/.bin/supabase). Run `npm install`.');
  }
  const dataDir = resolve(opts.dataDir ?? defaultDataDir);
  const other = otherStack(dataDir);
  if (other) throw other;
  const ownPostgres = runningPostmaster(dataDir);
  for (const which of Object.keys(DEFAULT_PORTS) as PortName[]) {
    if (!serves(which, opts)) continue;
    const port = opts.ports?.[which] ?? DEFAULT_PORTS[which];
    if (port === 0) continue;
    // Our own PostgreSQL left running by a killed run is stopped by startStack, not reported.
    if (which === 'db' && ownPostgres?.port === port) continue;
    if (!(await isPortFree(port))) throw new PortInUseError(port, which);
  }
}

/** Whether the stack listens on `which` with these options (the web apps are optional). */
function serves(which: PortName, opts: Pick<StackOptions, 'serveStorefront' | 'serveNext'>): boolean {
  if (which === 'web') return opts.serveStorefront ?? true;
  if (which === 'next') return opts.serveNext ?? false;
  return true;
}

interface LockFile {
  pid: number;
  functionPids: number[];
  /** The Next.js storefront's server (node web/next/server.mjs; its working directory web/next). */
  nextPid?: number;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

/** The postmaster of dataDir's cluster if one is running (postmaster.pid: pid, datadir, start, port...). */
function runningPostmaster(dataDir: string): { pid: number; port: number } | undefined {
  const file = join(dataDir, 'db', 'pgdata', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !alive(pid) || !/postgres/.test(cmdline(pid))) return undefined;
  return { pid, port };
}

/**
 * A pooled client that loses its connection while checked out emits 'error'
 * with nobody listening, which would end the process: the query in flight
 * fails on its own, so the event itself is ignored.
 */
function ignoreConnectionLoss(client: pg.PoolClient): void {
  client.on('error', () => undefined);
}

function stopStalePostgres(dataDir: string, log: (line: string) => void): void {
  if (!runningPostmaster(dataDir)) return;
  log('Stopping the PostgreSQL server a previous run left running...');
  const { bindir } = findPgBinaries();
  const pgCtl = join(bindir, 'pg_ctl');
  const args = ['-D', join(dataDir, 'db', 'pgdata'), '-m', 'fast', '-w', 'stop'];
  const isRoot = process.getuid?.() === 0;
  spawnSync(isRoot ? 'runuser' : pgCtl, isRoot ? ['-u', 'postgres', '--', pgCtl, ...args] : args, { cwd: '/tmp', stdio: 'ignore' });
}

function readLock(dataDir: string): LockFile | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'stack.lock.json'), 'utf8')) as LockFile;
  } catch {
    return undefined;
  }
}

/** The error to report when another live stack holds dataDir. */
function otherStack(dataDir: string): PrerequisiteError | undefined {
  const lock = readLock(dataDir);
  if (!lock || lock.pid === process.pid || !alive(lock.pid)) return undefined;
  return new PrerequisiteError(
    `Another local stack (process ${lock.pid}) is already running with ${dataDir}. Stop it (Ctrl-C in its terminal), or give this one another data directory (STACK_DATA_DIR=<dir> or --data-dir <dir>) and other ports.`,
  );
}

/** Takes dataDir for this process; cleans up after a run that was killed (SIGKILL) rather than stopped. */
function takeLock(dataDir: string, log: (line: string) => void): void {
  const other = otherStack(dataDir);
  if (other) throw other;
  for (const pid of readLock(dataDir)?.functionPids ?? []) {
    if (alive(pid) && /deno/.test(cmdline(pid)) && cmdline(pid).includes(join(repoRoot, 'edge'))) {
      log(`Stopping an Edge Function (pid ${pid}) a previous run left running...`);
      process.kill(pid, 'SIGKILL');
    }
  }
  const nextPid = readLock(dataDir)?.nextPid;
  if (nextPid && alive(nextPid) && cwdOf(nextPid) === nextDir) {
    log(`Stopping the Next.js storefront (pid ${nextPid}) a previous run left running...`);
    process.kill(nextPid, 'SIGKILL');
  }
  writeLock(dataDir, []);
}

const cwdOf = (pid: number) => {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
};

function writeLock(dataDir: string, functionPids: number[], nextPid?: number): void {
  const lock: LockFile = { pid: process.pid, functionPids, ...(nextPid ? { nextPid } : {}) };
  writeFileSync(join(dataDir, 'stack.lock.json'), JSON.stringify(lock) + '\n');
}

/**
 * The site key the demo storefront renders the CAPTCHA widget with, when
 * CAPTCHA is on: STOREFRONT_CAPTCHA_SITE_KEY, else the provider's test site
 * key that goes with its test secret (Turnstile's always-pass or
 * always-fail, hCaptcha's test key set).
 */
function storefrontCaptchaSiteKey(captcha: CaptchaConfig): string | undefined {
  if (!captcha.enabled) return undefined;
  const explicit = process.env.STOREFRONT_CAPTCHA_SITE_KEY;
  if (explicit) return explicit;
  if (captcha.provider === 'hcaptcha') return CAPTCHA_TEST_KEYS.hcaptcha.siteKey;
  if (captcha.secret === CAPTCHA_TEST_KEYS.turnstile.alwaysFails) return CAPTCHA_TEST_KEYS.turnstile.alwaysFailsSiteKey;
  return CAPTCHA_TEST_KEYS.turnstile.alwaysPassesSiteKey;
}

/** supabase/config.toml `[functions.<name>] verify_jwt` (Supabase's default is true). */
function verifyJwtSettings(): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  const file = join(repoRoot, 'supabase', 'config.toml');
  if (!existsSync(file)) return out;
  let current: string | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const section = /^\s*\[functions\.([^\]]+)\]/.exec(line);
    if (section) {
      current = section[1]!.replace(/^"|"$/g, '');
      out[current] = true;
      continue;
    }
    if (/^\s*\[/.test(line)) current = undefined;
    const v = /^\s*verify_jwt\s*=\s*(true|false)/.exec(line);
    if (current && v) out[current] = v[1] === 'true';
  }
  return out;
}

function resolveKeys(opts: StackOptions): { jwtSecret: string; anonKey: string; serviceRoleKey: string; secretKey: string } {
  const env = process.env;
  const jwtSecret = opts.jwtSecret ?? env.SUPABASE_JWT_SECRET ?? env.JWT_SECRET ?? LOCAL_JWT_SECRET;
  if (jwtSecret.length < 32) throw new PrerequisiteError('The JWT secret must be at least 32 characters long (SUPABASE_JWT_SECRET).');
  const anonKey = opts.anonKey ?? env.SUPABASE_ANON_KEY ?? apiKey('anon', jwtSecret);
  const serviceRoleKey = opts.serviceRoleKey ?? env.SUPABASE_SERVICE_ROLE_KEY ?? apiKey('service_role', jwtSecret);
  for (
    const [name, key, role] of [
      ['SUPABASE_ANON_KEY', anonKey, 'anon'],
      ['SUPABASE_SERVICE_ROLE_KEY', serviceRoleKey, 'service_role'],
    ] as const
  ) {
    const v = verifyJwt(key, jwtSecret);
    if (!v.ok || v.claims.role !== role) {
      throw new PrerequisiteError(
        `${name} is not a ${role} key signed with the JWT secret in use (${
          v.ok ? `its role is ${String(v.claims.role)}` : v.message
        }). Unset it to use the local keys, or set SUPABASE_JWT_SECRET to the secret that signed it.`,
      );
    }
  }
  const secretKey = opts.secretKey ?? env.SUPABASE_SECRET_KEY ?? LOCAL_SECRET_KEY;
  if (!/^sb_secret_[A-Za-z0-9_-]{8,}$/.test(secretKey)) {
    throw new PrerequisiteError('SUPABASE_SECRET_KEY must be a secret API key (sb_secret_...). Unset it to use the local one.');
  }
  return { jwtSecret, anonKey, serviceRoleKey, secretKey };
}

async function buildStorefront(distDir: string, log: (line: string) => void, script = 'build:web', what = 'the demo storefront'): Promise<void> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  if (!pkg.scripts?.[script]) {
    throw new PrerequisiteError(
      `${what} is not built (${distDir} is missing) and package.json has no "${script}" script to build it. ` +
        'Start without it (npm start -- --no-storefront) or build it first.',
    );
  }
  log(`Building ${what} (npm run ${script})...`);
  await runCommand('npm', ['run', '--silent', script], { cwd: repoRoot });
  if (!existsSync(join(distDir, 'index.html'))) {
    throw new Error(`npm run ${script} finished but ${join(distDir, 'index.html')} does not exist.`);
  }
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.log ?? (() => {});
  const dataDir = resolve(opts.dataDir ?? defaultDataDir);
  const keys = resolveKeys(opts);
  const ports = { ...DEFAULT_PORTS, ...opts.ports };
  const serveStorefront = opts.serveStorefront ?? true;
  const storefrontDist = resolve(opts.storefrontDist ?? defaultStorefrontDist);
  const serveAdmin = serveStorefront && (opts.serveAdmin ?? false);
  const adminDist = resolve(opts.adminDist ?? defaultAdminDist);
  const serveNext = serves('next', opts);

  mkdirSync(dataDir, { recursive: true });
  // PostgreSQL runs as the postgres user when we are root: it must be able to
  // reach dataDir/db even when dataDir is a 0700 temp directory.
  if (process.getuid?.() === 0) chmodSync(dataDir, statSync(dataDir).mode | 0o111);
  takeLock(dataDir, log);
  stopStalePostgres(dataDir, log);
  if (opts.reset) {
    log(`Wiping ${dataDir} (--reset)...`);
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o755 });
    writeLock(dataDir, []);
  }
  // A database port of 0 is chosen when PostgreSQL starts (startClusterOnFreePort).
  const dbPortChosen = ports.db === 0;
  for (const which of Object.keys(DEFAULT_PORTS) as PortName[]) {
    if (!serves(which, opts) || (which === 'db' && dbPortChosen)) continue;
    if (ports[which] === 0) ports[which] = await freePort();
    else if (!(await isPortFree(ports[which]))) throw new PortInUseError(ports[which], which);
  }
  if (serveStorefront && !existsSync(join(storefrontDist, 'index.html'))) await buildStorefront(storefrontDist, log);
  if (serveAdmin && !existsSync(join(adminDist, 'index.html'))) await buildStorefront(adminDist, log, 'build:admin', "The store owner's dashboard");
  if (serveNext && !isNextBuilt()) {
    const seconds = await buildNext(log);
    log(`Built the Next.js storefront in ${seconds.toFixed(0)} s (npm run build:next rebuilds it).`);
  }

  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    cleanups.length = 0;
  };
  let stopping = false;
  try {
    // PostgreSQL, migrations, seed.
    log('Starting PostgreSQL...');
    // Durable (fsync, synchronous_commit, full_page_writes on): a checkout
    // answered 201 survives PostgreSQL being killed.
    let cluster: Cluster = dbPortChosen
      ? await startClusterOnFreePort({ dataDir: join(dataDir, 'db'), durable: true })
      : await startCluster({ dataDir: join(dataDir, 'db'), port: ports.db, durable: true });
    ports.db = cluster.port;
    cleanups.push(() => cluster.stop());
    log('Applying migrations and the seed (supabase db push)...');
    await prepareDatabase(cluster.url, { seed: true });
    const adminPool = new pg.Pool({ connectionString: cluster.url, max: 5 });
    adminPool.on('error', () => undefined);
    adminPool.on('connect', ignoreConnectionLoss);
    cleanups.push(() => adminPool.end());
    if (opts.country !== undefined) {
      const client = await adminPool.connect();
      try {
        await client.query('begin');
        await applyCountry(client, opts.country);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      log(`Store country: ${opts.country.code} (site ${opts.country.site}, ${opts.country.currency}, ${opts.country.locale}).`);
    }
    const { site_id: storeSite, locale: storeLocale } =
      (await adminPool.query<{ site_id: string; locale: string }>('select site_id, locale from private.settings')).rows[0]!;
    if (opts.reservationTtlSeconds !== undefined) {
      await adminPool.query('update private.settings set reservation_ttl = make_interval(secs => $1)', [opts.reservationTtlSeconds]);
    }
    // PostgREST logs in as authenticator and switches to the token's role.
    const restPool = new pg.Pool({ connectionString: cluster.url.replace('postgres:postgres@', 'authenticator:postgres@'), max: 10 });
    restPool.on('error', () => undefined);
    restPool.on('connect', ignoreConnectionLoss);
    cleanups.push(() => restPool.end());

    // PostgreSQL going away (killed, crashed, restarted by hand) is reported,
    // not fatal: the watchdog restarts a dead server on the same data and
    // port, the pools reconnect, and the sandbox (in this process) keeps its
    // payments and pending notification retries.
    let dbDown = false;
    let checking = false;
    const watchdog = setInterval(() => {
      if (checking || stopping) return;
      checking = true;
      void (async () => {
        try {
          await adminPool.query('select 1');
          if (dbDown) log('PostgreSQL is back; reconnected.');
          dbDown = false;
        } catch (err) {
          if (!dbDown) log(`PostgreSQL is unreachable (${(err as Error).message}); restarting it and reconnecting...`);
          dbDown = true;
          if (!runningPostmaster(dataDir) && !stopping) {
            try {
              cluster = await startCluster({ dataDir: join(dataDir, 'db'), port: ports.db, durable: true });
              log('PostgreSQL restarted (crash recovery done).');
            } catch (startErr) {
              log(`PostgreSQL could not be restarted yet: ${(startErr as Error).message.split('\n')[0]}`);
            }
          }
        } finally {
          checking = false;
        }
      })();
    }, 1000);
    watchdog.unref();
    cleanups.push(async () => clearInterval(watchdog));

    // The MercadoPago sandbox, in process.
    const sandbox = await startSandbox({
      // The seller's account is of the store's site (MercadoPago refuses another currency).
      siteId: storeSite,
      ...opts.sandbox,
      port: ports.mp,
      host: '127.0.0.1',
      log: (line: object) => {
        const l = line as Record<string, unknown>;
        if (l.event === 'request' || l.event === 'fault') return;
        log(`[mp-sandbox] ${JSON.stringify(line)}`);
      },
    });
    cleanups.push(() => sandbox.close());

    // The mail sink: a Resend API emulator (dev/mail-sink), in process.
    const mailSink = await startMailSink({ port: ports.mail, host: '127.0.0.1' });
    cleanups.push(() => mailSink.close());

    // The local API (functions register as they come up).
    const verifySettings = verifyJwtSettings();
    const fromConfig = readAuthGuardConfig(join(repoRoot, 'supabase', 'config.toml'));
    const authGuard: AuthGuardConfig = { ...fromConfig, ...opts.auth };
    if (authGuard.captcha.enabled) {
      const known = verifyCaptcha(authGuard.captcha, 'probe');
      if (!known.ok && known.status === 500) log(`Auth: [auth.captcha] ${known.message}`);
    }
    const targets = new Map<string, FunctionTarget>();
    const api: LocalApi = await startLocalApi({
      port: ports.api,
      adminPool,
      restPool,
      ...keys,
      jwtExpirySeconds: opts.jwtExpirySeconds,
      authGuard,
      functions: (name) => targets.get(name),
      log,
    });
    cleanups.push(() => api.close());
    const webUrl = serveStorefront ? `http://127.0.0.1:${ports.web}` : '';
    const nextUrl = serveNext ? `http://127.0.0.1:${ports.next}` : '';

    // Edge Functions under Deno, supervised.
    const names = (opts.functions ?? FUNCTION_NAMES).filter((name) => {
      const present = existsSync(join(repoRoot, 'edge', name, 'index.ts'));
      if (!present) log(`Edge Function ${name}: edge/${name}/index.ts does not exist, not served.`);
      return present;
    });
    const functionEnv: Record<string, string> = {
      SUPABASE_URL: api.url,
      SUPABASE_DB_URL: cluster.url,
      SUPABASE_ANON_KEY: keys.anonKey,
      SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: keys.secretKey }),
      SUPABASE_JWT_SECRET: keys.jwtSecret,
      MP_ACCESS_TOKEN: sandbox.accessToken,
      MP_WEBHOOK_SECRET: sandbox.webhookSecret,
      MP_API_BASE_URL: sandbox.url,
      SITE_URL: webUrl || 'http://127.0.0.1:5173',
      FUNCTIONS_URL: `${api.url}/functions/v1`,
      RESEND_API_KEY: mailSink.apiKey,
      RESEND_BASE_URL: mailSink.url,
      EMAIL_LINK_SECRET: LOCAL_EMAIL_LINK_SECRET,
      // MercadoPago may send a buyer back to the Next.js storefront too.
      ...(nextUrl ? { CHECKOUT_RETURN_URLS: `${nextUrl}/checkout/return` } : {}),
      ...Object.fromEntries(FUNCTION_PASSTHROUGH.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!])),
      ...opts.functionEnv,
    };
    const running = new Map<string, RunningFunction>();
    const fnPorts = new Map<string, number>();
    const restarts = new Map<string, number[]>();
    const pending = new Map<string, NodeJS.Timeout>();
    let nextPid: number | undefined;
    const recordPids = () => writeLock(dataDir, [...running.values()].map((f) => f.process.pid).filter((p): p is number => !!p), nextPid);

    const launch = async (name: string): Promise<void> => {
      if (stopping) return;
      const port = fnPorts.get(name) ?? (await freePort());
      fnPorts.set(name, port);
      try {
        const fn = await startFunction(name, functionEnv, { port, onLine: (line) => log(`[${name}] ${line}`) });
        if (stopping) return void (await fn.stop());
        running.set(name, fn);
        targets.set(name, { url: fn.url, verifyJwt: verifySettings[name] ?? true });
        recordPids();
        fn.process.once('exit', (code, signal) => {
          if (running.get(name) !== fn) return; // replaced or stopped on purpose
          running.delete(name);
          targets.set(name, { url: undefined, verifyJwt: verifySettings[name] ?? true });
          // Ctrl-C reaches the whole process group: give our own signal handler a moment to mark the stop.
          setTimeout(() => {
            if (stopping) return;
            log(`Edge Function ${name} exited (${signal ?? `code ${code}`}); restarting it.`);
            schedule(name);
          }, 300).unref();
        });
      } catch (err) {
        if (stopping) return;
        targets.set(name, { url: undefined, verifyJwt: verifySettings[name] ?? true });
        log(`Edge Function ${name} failed to start: ${(err as Error).message.trim()}`);
        schedule(name);
      }
    };
    /** Restart with back-off: 1 s, doubling while it keeps crashing, at most 30 s. */
    const schedule = (name: string, delay?: number) => {
      if (stopping || pending.has(name)) return;
      const now = Date.now();
      const recent = (restarts.get(name) ?? []).filter((t) => now - t < 60_000);
      recent.push(now);
      restarts.set(name, recent);
      const wait = delay ?? Math.min(1000 * 2 ** (recent.length - 1), 30_000);
      pending.set(
        name,
        setTimeout(() => {
          pending.delete(name);
          void launch(name);
        }, wait),
      );
    };
    const restart = async (name: string) => {
      const fn = running.get(name);
      running.delete(name);
      targets.set(name, { url: undefined, verifyJwt: verifySettings[name] ?? true });
      await fn?.stop();
      restarts.delete(name);
      await launch(name);
    };
    const stopFunctions = async () => {
      for (const t of pending.values()) clearTimeout(t);
      pending.clear();
      const all = [...running.values()];
      running.clear();
      await Promise.all(all.map((f) => f.stop()));
      writeLock(dataDir, []);
    };
    cleanups.push(stopFunctions);
    if (names.length) log(`Starting Edge Functions under Deno: ${names.join(', ')}...`);
    for (const name of names) targets.set(name, { url: undefined, verifyJwt: verifySettings[name] ?? true });
    await Promise.all(names.map((name) => launch(name)));

    // The reconcile function on the schedule hosted Supabase gives it
    // (pg_cron + pg_net every minute; see supabase/schemas/07_refunds_and_reconciliation.sql).
    const reconcileEvery = opts.reconcileIntervalMs ?? 60_000;
    if (reconcileEvery > 0 && names.includes('reconcile')) {
      let busy = false;
      const tick = async () => {
        const url = targets.get('reconcile')?.url;
        if (!url || busy || stopping) return;
        busy = true;
        try {
          const res = await fetch(`${url}/reconcile`, {
            method: 'POST',
            headers: { authorization: `Bearer ${keys.serviceRoleKey}`, 'content-type': 'application/json' },
            body: '{}',
          });
          const text = await res.text();
          if (res.status !== 200) log(`reconcile answered ${res.status}: ${text.slice(0, 300)}`);
        } catch (err) {
          log(`reconcile could not be called: ${(err as Error).message}`);
        } finally {
          busy = false;
        }
      };
      const timer = setInterval(() => void tick(), reconcileEvery);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }

    let watcher: FSWatcher | undefined;
    if (opts.watch && names.length) {
      const timers = new Map<string, NodeJS.Timeout>();
      watcher = watch(join(repoRoot, 'edge'), { recursive: true }, (_event, file) => {
        if (!file || stopping) return;
        const top = String(file).split(/[\\/]/)[0] ?? '';
        const affected = top === '_shared' ? names : names.filter((n) => n === top);
        for (const name of affected) {
          clearTimeout(timers.get(name));
          timers.set(
            name,
            setTimeout(() => {
              log(`edge/${String(file)} changed: restarting ${name}.`);
              void restart(name);
            }, 400),
          );
        }
      });
      cleanups.push(async () => watcher?.close());
    }

    // send-emails on the schedule pg_cron + pg_net use on hosted Supabase
    // (the email-send job, every minute), through the local API like pg_net.
    const everyMs = opts.sendEmailsEveryMs ?? 60_000;
    if (everyMs > 0 && names.includes('send-emails')) {
      const timer = setInterval(() => {
        if (!targets.get('send-emails')?.url) return;
        fetch(`${api.url}/functions/v1/send-emails`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys.serviceRoleKey}`, 'content-type': 'application/json' },
          body: '{}',
        }).then((res) => res.body?.cancel()).catch(() => undefined);
      }, everyMs);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }

    // The demo storefront.
    let web: StorefrontServer | undefined;
    if (serveStorefront) {
      const captchaSiteKey = storefrontCaptchaSiteKey(authGuard.captcha);
      web = await startStorefrontServer({
        distDir: storefrontDist,
        port: ports.web,
        env: {
          supabaseUrl: api.url,
          supabaseAnonKey: keys.anonKey,
          // The store's country, for the demo's formats and identification types.
          siteId: storeSite,
          locale: storeLocale,
          ...(captchaSiteKey ? { captcha: { provider: authGuard.captcha.provider, siteKey: captchaSiteKey } } : {}),
        },
        ...(serveAdmin ? { adminDistDir: adminDist } : {}),
      });
      const w = web;
      cleanups.push(() => w.close());
    }

    // The Next.js storefront: its server calls the API with the anon key, and
    // with the secret key only to forward its shoppers' addresses (Auth and
    // the functions); never the service role key or the JWT secret.
    let nextServer: NextServer | undefined;
    if (serveNext) {
      log('Starting the Next.js storefront (web/next/server.mjs)...');
      nextServer = await startNextServer({
        port: ports.next,
        env: {
          SUPABASE_URL: api.url,
          SUPABASE_ANON_KEY: keys.anonKey,
          SUPABASE_SECRET_KEY: keys.secretKey,
          SITE_URL: nextUrl,
          // The store's country and locale (private.settings), as the demo's /env.js has them: the pages' language and formats.
          STORE_SITE_ID: storeSite,
          STORE_LOCALE: storeLocale,
          ...opts.nextEnv,
        },
        onLine: (line) => line.trim() && log(`[next] ${line}`),
      });
      const n = nextServer;
      nextPid = n.process.pid;
      recordPids();
      cleanups.push(() => n.stop());
    }

    let stopped: Promise<void> | undefined;
    return {
      apiUrl: api.url,
      dbUrl: cluster.url,
      mpUrl: sandbox.url,
      webUrl: web?.url ?? '',
      adminUrl: web && serveAdmin ? `${web.url}/admin/` : '',
      nextUrl,
      nextServer,
      ...keys,
      sandbox,
      mailSink,
      dataDir,
      functions: names,
      stop: () => (stopped ??= (async () => {
        stopping = true;
        await cleanup();
        rmSync(join(dataDir, 'stack.lock.json'), { force: true });
      })()),
    };
  } catch (err) {
    stopping = true;
    await cleanup();
    rmSync(join(dataDir, 'stack.lock.json'), { force: true });
    throw err;
  }
}
