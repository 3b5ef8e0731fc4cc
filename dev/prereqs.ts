/**
 * The system packages `npm start` and `npm test` need, installed when they
 * are missing and we can (root, with apt: a fresh Debian or Ubuntu machine),
 * one progress line per step. Otherwise: the exact command, and stop.
 *
 *   npm start: the PostgreSQL server with pg_cron.
 *   npm test:  also pgTAP, pg_prove, PgBouncer, Chromium and libfaketime (the
 *              browser tests move Chromium's network clock with it).
 *
 * Run directly (`tsx dev/prereqs.ts test`) it installs a purpose's packages
 * and exits: `.ci/run` does that before running the tests without network.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, PrerequisiteError } from './pg/cluster.ts';

export type Purpose = 'start' | 'test';

/** PostgreSQL majors we run on, preferred first (Supabase runs 15 and 17). */
const PG_MAJORS = [15, 17, 16] as const;

interface Need {
  /** Debian package name, given the PostgreSQL major. */
  pkg: (major: number) => string;
  present: (major: number) => boolean;
  purposes: Purpose[];
}

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const pgBindir = (major: number) => process.env.PG_BINDIR ?? `/usr/lib/postgresql/${major}/bin`;

const NEEDS: Need[] = [
  { pkg: (m) => `postgresql-${m}`, present: (m) => existsSync(join(pgBindir(m), 'postgres')), purposes: ['start', 'test'] },
  { pkg: (m) => `postgresql-${m}-cron`, present: (m) => existsSync(`/usr/lib/postgresql/${m}/lib/pg_cron.so`), purposes: ['start', 'test'] },
  {
    pkg: (m) => `postgresql-${m}-pgtap`,
    present: (m) => existsSync(`/usr/share/postgresql/${m}/extension/pgtap.control`),
    purposes: ['test'],
  },
  { pkg: () => 'libtap-parser-sourcehandler-pgtap-perl', present: () => onPath('pg_prove'), purposes: ['test'] },
  { pkg: () => 'pgbouncer', present: () => existsSync('/usr/sbin/pgbouncer') || onPath('pgbouncer'), purposes: ['test'] },
  { pkg: () => 'chromium', present: () => existsSync('/usr/bin/chromium'), purposes: ['test'] },
  { pkg: () => 'libfaketime', present: () => faketimeLibrary() !== undefined, purposes: ['test'] },
];

/** The PostgreSQL major already installed, if any. */
function installedMajor(): number | undefined {
  return PG_MAJORS.find((m) => existsSync(join(pgBindir(m), 'postgres')));
}

/** Debian's libfaketime (`/usr/lib/<multiarch>/faketime/libfaketime.so.1`), if installed. */
export function faketimeLibrary(): string | undefined {
  const dirs = existsSync('/usr/lib') ? readdirSync('/usr/lib').filter((d) => d.includes('-linux-')) : [];
  return dirs.map((d) => `/usr/lib/${d}/faketime/libfaketime.so.1`).find((p) => existsSync(p));
}

/** The first major apt can install here (Debian 12 has 15; Ubuntu 24.04 has 16). */
function installableMajor(): number {
  for (const m of PG_MAJORS) {
    const out = spawnSync('apt-cache', ['policy', `postgresql-${m}`], { encoding: 'utf8' });
    if (/Candidate: (?!\(none\))/.test(out.stdout ?? '')) return m;
  }
  return PG_MAJORS[0];
}

function aptCommand(pkgs: string[], root: boolean): string {
  const sudo = root ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

function missing(purpose: Purpose, major: number): string[] {
  return NEEDS.filter((n) => n.purposes.includes(purpose) && !n.present(major)).map((n) => n.pkg(major));
}

/** Runs one apt step with its output to a log; on failure the error carries the log's tail. */
function aptStep(label: string, args: string[], log: (line: string) => void): void {
  const file = join(mkdtempSync(join(tmpdir(), 'apt-')), 'apt.log');
  log(`  ${label}`);
  const res = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
  writeFileSync(file, `${res.stdout ?? ''}${res.stderr ?? ''}`);
  if (res.status !== 0) {
    const tail = readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
    throw new PrerequisiteError(`apt-get ${args.join(' ')} failed (full log: ${file}):\n${tail}`);
  }
}

/**
 * Makes sure the packages for `purpose` are installed. Installs them with apt
 * when we are root; otherwise throws a PrerequisiteError with the command.
 */
export function ensurePrerequisites(
  purpose: Purpose,
  log: (line: string) => void = (l) => console.log(l),
  opts: { root?: boolean } = {},
): void {
  const root = opts.root ?? isRoot();
  let major = installedMajor() ?? PG_MAJORS[0];
  let pkgs = missing(purpose, major);
  if (pkgs.length === 0) return;
  const canApt = root && onPath('apt-get');
  if (!canApt) {
    throw new PrerequisiteError(`Missing system packages: ${pkgs.join(', ')}.\nInstall them with:\n  ${aptCommand(pkgs, root)}`);
  }
  log(`Installing what ${purpose === 'start' ? '`npm start`' : '`npm test`'} needs: ${pkgs.join(', ')}`);
  aptStep('apt-get update', ['update', '-qq'], log);
  if (installedMajor() === undefined) {
    major = installableMajor();
    pkgs = missing(purpose, major);
  }
  aptStep(`apt-get install ${pkgs.join(' ')}`, ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], log);
  // Debian starts a cluster of its own on install; ours are started per run.
  if (pkgs.some((p) => /^postgresql-\d+$/.test(p)) && onPath('pg_ctlcluster')) {
    spawnSync('pg_ctlcluster', [String(major), 'main', 'stop'], { stdio: 'ignore' });
    log(`  stopped the cluster the package started (postgresql ${major}/main); ours run on their own ports`);
  }
  const still = missing(purpose, major);
  if (still.length > 0) throw new PrerequisiteError(`Still missing after apt-get install: ${still.join(', ')}`);
  log('  done');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const purpose = process.argv[2] === 'start' ? 'start' : 'test';
  try {
    ensurePrerequisites(purpose);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
