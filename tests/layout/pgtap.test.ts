/**
 * The pgTAP files as `supabase test db` runs them: each on its own, in name
 * order, so each carries a unique number and prepares what it needs itself
 * (the helpers, inside its own transaction).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';

const dir = join(repoRoot, 'supabase', 'tests');
const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();

describe('supabase/tests', () => {
  it('every file is numbered NNN-name.sql, and no two share a number', () => {
    expect(files.filter((f) => !/^\d{3}-[a-z0-9-]+\.sql$/.test(f))).toEqual([]);
    const numbers = files.map((f) => f.slice(0, 3));
    expect(numbers.filter((n, i) => numbers.indexOf(n) !== i)).toEqual([]);
  });

  it('every file runs alone: one transaction that includes the helpers first and rolls back', () => {
    const problems = files.filter((f) => {
      const sql = readFileSync(join(dir, f), 'utf8').replace(/^--.*\n/gm, '');
      return !/^\s*begin;\s*\n\\ir helpers\/tests\.psql\n/.test(sql) || !/rollback;\s*$/.test(sql);
    });
    expect(problems).toEqual([]);
  });
});
