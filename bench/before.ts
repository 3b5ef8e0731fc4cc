/**
 * `npm run bench -- --before <source>[,<source>...]`: other begin_checkouts
 * measured beside the current one in the same cells (the 8/32/128-client
 * matrix, the cart-add rush, the sold-out crowd). A source is
 * - a migration's name (`20261202410000_checkout_admission.sql`), read from
 *   supabase/migrations/, or a path under supabase/migrations/ or
 *   supabase/schemas/: only its begin_checkout is taken (the helpers it calls
 *   are today's), so a change to the routine is measured against its
 *   predecessor;
 * - any other path (a candidate file, e.g. `/tmp/candidate.sql`): run whole,
 *   with every `checkout.begin_checkout(` renamed, so it may bring helpers of
 *   its own (it must leave the current routine's behaviour unchanged);
 * - either of those at a commit, `<commit>:<path>` (`git show`), so candidates
 *   and superseded migrations measured once need not stay in the tree:
 *   `acf3a60:docs/perf/tail-g1-line-then-slots-4.sql`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, isAbsolute, resolve } from 'node:path';
import type pg from 'pg';

export interface BeforeSource {
  /** The commit (any revision git understands) to read the file at; undefined: the working tree. */
  commit?: string;
  /** Relative to the repository's root unless absolute. */
  path: string;
  /** Run the file whole (a candidate) rather than take its begin_checkout. */
  whole: boolean;
  /** How the bench's rows name it. */
  label: string;
}

const ROUTINE_DIRS = ['supabase/migrations/', 'supabase/schemas/'];

/** The sources of `--before`'s value (comma-separated); a malformed one throws, naming it. */
export function parseBefore(arg: string | undefined): BeforeSource[] {
  if (arg === undefined) return [];
  return arg.split(',').map((raw) => {
    const source = raw.trim();
    const colon = source.indexOf(':');
    const commit = colon >= 0 ? source.slice(0, colon) : undefined;
    const given = colon >= 0 ? source.slice(colon + 1) : source;
    if (commit === '' || given === '' || /\s/.test(source)) {
      throw new Error(`--before: "${raw}" is neither a file nor <commit>:<path>`);
    }
    if (commit !== undefined && isAbsolute(given)) throw new Error(`--before: "${raw}": a path at a commit is relative to the repository's root`);
    const path = given.includes('/') ? given.replace(/^\.\//, '') : `supabase/migrations/${given}`;
    const whole = !ROUTINE_DIRS.some((d) => path.startsWith(d));
    const at = commit ? `${commit}:` : '';
    return { commit, path, whole, label: whole ? `candidate ${at}${basename(path, '.sql')}` : `before (${at}${basename(path)})` };
  });
}

/** The text of a source: from the working tree, or `git show <commit>:<path>` in the repository at `root`. */
export function readBefore(source: BeforeSource, root: string): string {
  if (source.commit === undefined) return readFileSync(isAbsolute(source.path) ? source.path : resolve(root, source.path), 'utf8');
  try {
    return execFileSync('git', ['-C', root, 'show', `${source.commit}:${source.path}`], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, stdio: 'pipe' });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`--before: cannot read ${source.commit}:${source.path} (${stderr || (err as Error).message})`);
  }
}

/** The body of `checkout.begin_checkout` in a migration or schema file, renamed to `fn`. */
export function routineOf(sqlText: string, fn: string): string {
  const m = /create\s+(?:or\s+replace\s+)?function\s+checkout\.begin_checkout\(/i.exec(sqlText);
  if (!m) throw new Error('--before: no begin_checkout in that file');
  const body = sqlText.indexOf('$$', m.index);
  const end = body < 0 ? -1 : sqlText.indexOf('$$', body + 2);
  const semicolon = end < 0 ? -1 : sqlText.indexOf(';', end);
  if (semicolon < 0) throw new Error('--before: begin_checkout has no $$-quoted body');
  return `create or replace function ${fn}(` + sqlText.slice(m.index + m[0].length, semicolon + 1);
}

/** Installs a source's text (readBefore) as bench.before_<i>, granted to service_role, and returns the function's name. */
export async function installBefore(admin: pg.Client, source: BeforeSource, text: string, i: number): Promise<string> {
  const fn = `bench.before_${i}`;
  let sql = source.whole ? text.replaceAll('checkout.begin_checkout(', `${fn}(`) : routineOf(text, fn);
  // Tables that moved from public to checkout since that file was written
  // (20261202100000_service_tables_to_checkout.sql): named where they are now.
  const { rows: moved } = await admin.query<{ name: string }>(
    `select c.relname as name from pg_class c where c.relnamespace = 'checkout'::regnamespace and c.relkind in ('r', 'p', 'S')
        and not exists (select 1 from pg_class p where p.relnamespace = 'public'::regnamespace and p.relname = c.relname)`,
  );
  for (const { name } of moved) sql = sql.replace(new RegExp(`\\bpublic\\.${name}\\b`, 'g'), `checkout.${name}`);
  await admin.query(sql);
  await admin.query(`grant usage on schema bench to service_role; grant execute on function ${fn}(uuid, jsonb, jsonb, text) to service_role`);
  return fn;
}
