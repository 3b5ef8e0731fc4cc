/**
 * A throw-away (or persistent) PostgreSQL cluster built from Debian's server
 * binaries, with pg_cron preloaded, for tests and for `npm start`.
 *
 * PostgreSQL refuses to run as root, so when we are root (CI, these machines)
 * every server command runs as the `postgres` system user through `runuser`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

export interface PgBinaries {
  bindir: string;
  pkglibdir: string;
  sharedir: string;
}

/** Locates the server binaries and checks that pg_cron and pgTAP-independent pieces exist. */
export function findPgBinaries(): PgBinaries {
  const candidates = [process.env.PG_BINDIR, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];
  const bindir = candidates.find((dir): dir is string => !!dir && existsSync(join(dir, 'postgres')) && existsSync(join(dir, 'initdb')));
  if (!bindir) {
    throw new PrerequisiteError(
      'PostgreSQL server binaries not found (looked in /usr/lib/postgresql/{15,16,17}/bin and $PG_BINDIR).\n' +
        'Install them with: apt-get update && apt-get install -y postgresql-15 postgresql-15-cron',
    );
  }
  const pgConfig = join(bindir, 'pg_config');
  const ask = (flag: string, fallback: string) => {
    const out = spawnSync(existsSync(pgConfig) ? pgConfig : 'pg_config', [flag], { encoding: 'utf8' });
    return out.status === 0 ? out.stdout.trim() : fallback;
  };
  const version = bindir.match(/postgresql\/(\d+)/)?.[1] ?? '15';
  const pkglibdir = ask('--pkglibdir', `/usr/lib/postgresql/${version}/lib`);
  const sharedir = ask('--sharedir', `/usr/share/postgresql/${version}`);
  if (!existsSync(join(pkglibdir, 'pg_cron.so'))) {
    throw new PrerequisiteError(
      `pg_cron is not installed for PostgreSQL ${version} (${join(pkglibdir, 'pg_cron.so')} is missing).\n` +
        `Install it with: apt-get update && apt-get install -y postgresql-${version}-cron`,
    );
  }
  return { bindir, pkglibdir, sharedir };
}

/** Whether this process runs as root (PostgreSQL and PgBouncer then run as the postgres user). */
export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a server binary, as the postgres user when we are root. */
async function runPg(bin: PgBinaries, cmd: string, args: string[]): Promise<string> {
  const file = join(bin.bindir, cmd);
  const [exe, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
  try {
    const { stdout } = await run(exe, argv, { encoding: 'utf8', cwd: '/tmp' });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} failed: ${e.stderr || e.stdout || e.message}`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** PostgreSQL could not listen on its port: another process holds it. */
export class PortTakenError extends Error {
  constructor(
    readonly port: number,
    message: string,
  ) {
    super(message);
    this.name = 'PortTakenError';
  }
}

/**
 * A cluster on a port of its own choosing. A port freePort() found free can
 * be taken before PostgreSQL listens on it (an outgoing connection's local
 * port comes from the same range), so a port found taken is replaced by
 * another, up to `tries` times. The cluster's `port` is the one it got.
 */
export async function startClusterOnFreePort(
  opts: Omit<ClusterOptions, 'port'>,
  tries = 5,
  /** Runs between choosing a port and starting on it (tests take the port there). */
  beforeStart: (port: number) => Promise<void> = async () => {},
): Promise<Cluster> {
  for (let attempt = 1;; attempt++) {
    try {
      const port = await freePort();
      await beforeStart(port);
      return await startCluster({ ...opts, port });
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= tries) throw err;
    }
  }
}

export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface ClusterOptions {
  /** Where the cluster lives. Created (initdb) when empty. */
  dataDir: string;
  port: number;
  /**
   * false trades durability for speed (fsync, synchronous_commit and
   * full_page_writes off): only for throw-away test clusters. Default true:
   * a commit that was answered survives a crash (npm start's cluster).
   */
  durable?: boolean;
  /** Extra postgresql.conf lines. */
  settings?: Record<string, string | number>;
}

/** What a throw-away cluster turns off; a durable one keeps PostgreSQL's defaults (all on). */
const NOT_DURABLE = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } as const;

export interface Cluster {
  url: string;
  port: number;
  dataDir: string;
  logFile: string;
  stop(opts?: { remove?: boolean }): Promise<void>;
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const bin = findPgBinaries();
  const { dataDir, port } = opts;
  const pgdata = join(dataDir, 'pgdata');
  const logFile = join(dataDir, 'postgres.log');
  const socketDir = join(dataDir, 'sock');
  mkdirSync(socketDir, { recursive: true });
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(dataDir, uid, gid);
    chownSync(socketDir, uid, gid);
    letPostgresReach(dataDir);
  }
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    await runPg(bin, 'initdb', ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  }
  const settings: Record<string, string | number> = {
    port,
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${socketDir}'`,
    shared_preload_libraries: "'pg_cron'",
    'cron.database_name': "'postgres'",
    'cron.host': "'127.0.0.1'",
    max_connections: 200,
    ...(opts.durable === false ? NOT_DURABLE : { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' }),
    log_min_messages: 'warning',
    ...opts.settings,
  };
  // A conf file of our own, included last, so restarts pick up a new port.
  writeFileSync(join(dataDir, 'checkout.conf'), Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
  const conf = join(pgdata, 'postgresql.conf');
  const include = `include '${join(dataDir, 'checkout.conf')}'`;
  if (!readFileSync(conf, 'utf8').includes(include)) appendFileSync(conf, `\n${include}\n`);
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(join(dataDir, 'checkout.conf'), uid, gid);
  }
  writeFileSync(logFile, '');
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    chownSync(logFile, uid, gid);
  }
  try {
    await runPg(bin, 'pg_ctl', ['-D', pgdata, '-l', logFile, '-w', '-t', '60', 'start']);
  } catch (err) {
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    const message = `${(err as Error).message}\n${log}`;
    throw /could not bind .*: Address already in use/.test(log) ? new PortTakenError(port, message) : new Error(message);
  }
  const url = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    logFile,
    async stop({ remove = false } = {}) {
      await runPg(bin, 'pg_ctl', ['-D', pgdata, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      if (remove) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The postgres user must be able to walk down to dataDir: a parent made by
 * mkdtemp (mode 0700, owned by root) would stop it. Adds search permission
 * (o+x, not read) to such parents.
 */
function letPostgresReach(dir: string): void {
  for (let d = dirname(resolve(dir)); d !== dirname(d); d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) chmodSync(d, (mode & 0o7777) | 0o001);
  }
}

export function postgresUser(): { uid: number; gid: number } {
  const out = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gidOut = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (out.status !== 0) throw new PrerequisiteError('The `postgres` system user is missing; install the postgresql-15 package.');
  return { uid: Number(out.stdout.trim()), gid: Number(gidOut.stdout.trim()) };
}
