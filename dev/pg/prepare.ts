/**
 * Brings a database to the state a Supabase project would have after a
 * deployment: the Supabase-compatibility bootstrap (test tooling), then our
 * migrations pushed with the real Supabase CLI, then optionally seed.sql.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

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

export async function pushMigrations(url: string, { seed = false } = {}): Promise<void> {
  await supabaseCli(['db', 'push', `--remote=${url}`, '--yes', ...(seed ? ['--include-seed'] : [])]);
}

export async function prepareDatabase(url: string, opts: { seed?: boolean; legacyDefaultPrivileges?: boolean } = {}): Promise<void> {
  await applyBootstrap(url, opts);
  await pushMigrations(url, opts);
}
