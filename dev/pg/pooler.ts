/**
 * PgBouncer in transaction mode in front of a cluster: the stand-in for
 * Supavisor's transaction mode (port 6543 on hosted Supabase), where a client
 * gets a server connection for one transaction at a time and no session
 * state (SET, prepared statements, advisory session locks) survives.
 *
 * Debian's `pgbouncer` binary, run as the postgres user when we are root
 * (PgBouncer refuses to run as root).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, isRoot, postgresUser, PrerequisiteError } from './cluster.ts';
import { stopChild } from '../child.ts';

export interface Pooler {
  url: string;
  port: number;
  /** The process started (PgBouncer, or `runuser` over it when we are root). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export interface PoolerOptions {
  /** Port of the PostgreSQL cluster behind it (on 127.0.0.1). */
  upstreamPort: number;
  /** Where its config, auth file and log go. */
  dir: string;
  port?: number;
  /** Server connections per database/user pair (Supavisor's pool size). */
  poolSize?: number;
  maxClientConn?: number;
}

const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];

export function findPgBouncer(): string {
  const bin = PGBOUNCER.find((p) => existsSync(p));
  if (!bin) throw new PrerequisiteError('PgBouncer is not installed. Install it with: apt-get update && apt-get install -y pgbouncer');
  return bin;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startPooler(opts: PoolerOptions): Promise<Pooler> {
  const bin = findPgBouncer();
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const conf = join(opts.dir, 'pgbouncer.ini');
  const users = join(opts.dir, 'userlist.txt');
  const log = join(opts.dir, 'pgbouncer.log');
  writeFileSync(users, '"postgres" ""\n');
  writeFileSync(
    conf,
    [
      '[databases]',
      `postgres = host=127.0.0.1 port=${opts.upstreamPort} dbname=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${users}`,
      'pool_mode = transaction',
      `default_pool_size = ${opts.poolSize ?? 20}`,
      `max_client_conn = ${opts.maxClientConn ?? 2000}`,
      // What node-postgres and the Supabase CLI send at start-up.
      'ignore_startup_parameters = extra_float_digits,options,statement_timeout',
      `logfile = ${log}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  );
  if (isRoot()) {
    const { uid, gid } = postgresUser();
    for (const f of [opts.dir, conf, users]) chownSync(f, uid, gid);
    writeFileSync(log, '');
    chownSync(log, uid, gid);
  }
  const [exe, args] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, conf]] : [bin, [conf]];
  const child: ChildProcess = spawn(exe, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d));
  child.stderr?.on('data', (d: Buffer) => (output += d));
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const tail = existsSync(log) ? readFileSync(log, 'utf8').split('\n').slice(-10).join('\n') : '';
      throw new Error(`pgbouncer did not start:\n${output}\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    pid: child.pid,
    stop: () => stopChild(child),
  };
}
