/**
 * Brings a database to the state a Supabase project would have after a
 * deployment: the Supabase-compatibility bootstrap (test tooling), then our
 * migrations pushed with the real Supabase CLI, then optionally seed.sql.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PrerequisiteError } from './cluster.ts';

const run = promisify(execFile);
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const supabaseBin = join(repoRoot, 'node_modules', '.bin', 'supabase');

/**
 * The Supabase-compatibility bootstrap; with `legacyDefaultPrivileges`, also
 * the default privileges older Supabase projects have (grant all on new
 * public objects to the API roles), which the migrations must withstand.
 */
export async function applyBootstrap(url: string, opts: { legacyDefaultPrivileges?: boolean } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(readFileSync(join(repoRoot, 'dev', 'pg', 'supabase-bootstrap.sql'), 'utf8'));
    if (opts.legacyDefaultPrivileges) await client.query(readFileSync(join(repoRoot, 'dev', 'pg', 'legacy-default-privileges.sql'), 'utf8'));
  } finally {
    await client.end();
  }
}

/** Runs a Supabase CLI command from the repository root and returns its output. */
export async function supabaseCli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(supabaseBin, args, {
      cwd: repoRoot,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1', NO_COLOR: '1' },
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`supabase ${args[0]} ${args[1] ?? ''} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/**
 * Refuses a database that applied migrations supabase/migrations no longer
 * holds: one built from a history since replaced (issue 21 replaced the
 * first migrations by a baseline built from supabase/schemas). `supabase db
 * push` refuses it too, but advises `migration repair`, which would leave a
 * local database half-built; starting it clean is the way.
 */
export async function checkMigrationHistory(client: pg.ClientBase): Promise<void> {
  const { rows: found } = await client.query<{ has: boolean }>(`select to_regclass('supabase_migrations.schema_migrations') is not null as has`);
  if (!found[0]?.has) return;
  const { rows } = await client.query<{ version: string }>('select version from supabase_migrations.schema_migrations order by version');
  const local = new Set(readdirSync(join(repoRoot, 'supabase', 'migrations')).map((f) => /^(\d+)_/.exec(f)?.[1]));
  const unknown = rows.map((r) => r.version).filter((v) => !local.has(v));
  if (unknown.length === 0) return;
  throw new PrerequisiteError(
    `the database was built from ${unknown.length} migration(s) this checkout does not have (${unknown[0]}${
      unknown.length > 1 ? ` ... ${unknown.at(-1)}` : ''
    }): the migration history was replaced by a baseline (supabase/schemas), or the database is from another branch.\n` +
      'It cannot be brought forward. Start it clean: npm start -- --reset (this deletes the local data).',
  );
}

export async function pushMigrations(url: string, { seed = false } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await checkMigrationHistory(client);
  } finally {
    await client.end();
  }
  await supabaseCli(['db', 'push', `--remote=${url}`, '--yes', ...(seed ? ['--include-seed'] : [])]);
}

export async function prepareDatabase(url: string, opts: { seed?: boolean; legacyDefaultPrivileges?: boolean } = {}): Promise<void> {
  await applyBootstrap(url, opts);
  await pushMigrations(url, opts);
}
