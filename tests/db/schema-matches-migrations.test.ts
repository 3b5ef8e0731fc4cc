/**
 * The declared schema and the migrations build the same database: what
 * `supabase db diff` would show, without Docker.
 *
 * Two throw-away clusters get the same Supabase bootstrap; one is built the
 * way a deployment is (`supabase db push` of supabase/migrations), the other
 * from supabase/schemas, file by file in config.toml's
 * `[db.migrations] schema_paths` order. Their catalogs (tests/helpers/catalog.ts)
 * must be equal: any table, column, constraint, index, routine (body and
 * settings), trigger, policy, privilege, comment, default privilege, type,
 * sequence, view, extension, publication or cron job that differs fails,
 * named with both sides.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startClusterOnFreePort } from '../../dev/pg/cluster.ts';
import { applyBootstrap, pushMigrations, repoRoot } from '../../dev/pg/prepare.ts';
import { type Catalog, describeCatalog } from '../helpers/catalog.ts';
import { diffCatalogs } from '../helpers/catalog-diff.ts';

const supabaseDir = join(repoRoot, 'supabase');

/** config.toml's `[db.migrations] schema_paths`, in order (plain file paths, relative to supabase/). */
function schemaPaths(): string[] {
  const toml = readFileSync(join(supabaseDir, 'config.toml'), 'utf8');
  const section = /^\[db\.migrations\]\s*\n([\s\S]*?)(?=^\[)/m.exec(toml)?.[1] ?? '';
  const list = /^schema_paths\s*=\s*\[([\s\S]*?)\]/m.exec(section)?.[1];
  if (list === undefined) throw new Error('supabase/config.toml has no [db.migrations] schema_paths');
  return [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

async function catalogOf(url: string): Promise<Catalog> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await describeCatalog(client);
  } finally {
    await client.end();
  }
}

async function fromSchemas(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const path of schemaPaths()) {
      await client.query(readFileSync(join(supabaseDir, path), 'utf8')).catch((err: Error) => {
        throw new Error(`applying supabase/${path.replace(/^\.\//, '')}: ${err.message}`);
      });
    }
  } finally {
    await client.end();
  }
}

describe('supabase/schemas and supabase/migrations', () => {
  const clusters: Cluster[] = [];
  let migrations: Catalog;
  let schemas: Catalog;

  beforeAll(async () => {
    const start = async () => {
      const c = await startClusterOnFreePort({ dataDir: mkdtempSync(join(tmpdir(), 'checkout-schema-diff-')), durable: false });
      clusters.push(c);
      await applyBootstrap(c.url);
      return c.url;
    };
    const [a, b] = await Promise.all([start(), start()]);
    await Promise.all([pushMigrations(a!), fromSchemas(b!)]);
    [migrations, schemas] = await Promise.all([catalogOf(a!), catalogOf(b!)]);
  });

  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.stop({ remove: true })));
  });

  it('config.toml lists every schema file, once, as a plain path', () => {
    const listed = schemaPaths().map((p) => p.replace(/^\.\/schemas\//, ''));
    const files = readdirSync(join(supabaseDir, 'schemas')).filter((f) => f.endsWith('.sql')).sort();
    expect(listed.filter((p) => /[*?[]/.test(p)), 'no globs: the order is the list').toEqual([]);
    expect([...listed].sort()).toEqual(files);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('build the same catalog', () => {
    // The comparison sees what it should: the objects of every feature file.
    expect(migrations.has('routine checkout.apply_payment(jsonb)')).toBe(true);
    expect(migrations.has('cron job checkout-expire-sessions')).toBe(true);
    expect(migrations.has('default privileges for postgres in every schema on functions')).toBe(true);
    const diffs = diffCatalogs(migrations, schemas, ['supabase/migrations (db push)', 'supabase/schemas']);
    expect(
      diffs,
      `${diffs.length} difference(s) between the database the migrations build and the one the schema files declare. ` +
        'A change edits its schema file AND adds a migration; make the two say the same.\n\n' + diffs.join('\n\n'),
    ).toEqual([]);
  });
});
