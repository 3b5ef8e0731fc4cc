/**
 * `npm run bench -- --before`: which begin_checkout each source names, and
 * reading one at a commit (`<commit>:<path>`) from a throw-away repository,
 * including a file the tree no longer holds.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBefore, readBefore, routineOf } from '../../bench/before.ts';

describe('parseBefore', () => {
  it('reads nothing without --before', () => {
    expect(parseBefore(undefined)).toEqual([]);
  });

  it("takes a migration's name or a path under supabase/migrations or supabase/schemas for its begin_checkout only", () => {
    expect(parseBefore('20261202410000_checkout_admission.sql,supabase/schemas/06_checkout.sql')).toEqual([
      {
        commit: undefined,
        path: 'supabase/migrations/20261202410000_checkout_admission.sql',
        whole: false,
        label: 'before (20261202410000_checkout_admission.sql)',
      },
      { commit: undefined, path: 'supabase/schemas/06_checkout.sql', whole: false, label: 'before (06_checkout.sql)' },
    ]);
  });

  it('runs any other file whole, as a candidate', () => {
    expect(parseBefore('/tmp/x/c1.sql,./bench/c2.sql')).toEqual([
      { commit: undefined, path: '/tmp/x/c1.sql', whole: true, label: 'candidate c1' },
      { commit: undefined, path: 'bench/c2.sql', whole: true, label: 'candidate c2' },
    ]);
  });

  it('reads <commit>:<path> at that commit, with the same two kinds', () => {
    expect(parseBefore('acf3a60:docs/perf/tail-g1-line-then-slots-4.sql,main~2:20261202200000_begin_checkout_counter_last.sql')).toEqual([
      { commit: 'acf3a60', path: 'docs/perf/tail-g1-line-then-slots-4.sql', whole: true, label: 'candidate acf3a60:tail-g1-line-then-slots-4' },
      {
        commit: 'main~2',
        path: 'supabase/migrations/20261202200000_begin_checkout_counter_last.sql',
        whole: false,
        label: 'before (main~2:20261202200000_begin_checkout_counter_last.sql)',
      },
    ]);
  });

  it('refuses a source with an empty commit or path, an absolute path at a commit, or spaces', () => {
    for (const bad of [':x.sql', 'abc:', 'abc:/tmp/x.sql', 'a.sql,', 'my file.sql']) {
      expect(() => parseBefore(bad), bad).toThrow(/--before/);
    }
  });
});

describe('readBefore at a commit', () => {
  const repo = mkdtempSync(join(tmpdir(), 'bench-before-'));
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' }).trim();
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  git('init', '-q');
  const file = join(repo, 'docs', 'candidate.sql');
  mkdirSync(join(repo, 'docs'));
  writeFileSync(file, 'select 1; -- first\n');
  git('add', '.');
  git('commit', '-qm', 'first');
  const first = git('rev-parse', 'HEAD');
  writeFileSync(file, 'select 2; -- second\n');
  git('commit', '-qam', 'second');
  unlinkSync(file);
  git('commit', '-qam', 'gone');

  it('reads the file as each commit had it, after the tree dropped it', () => {
    const [atFirst, atSecond] = parseBefore(`${first}:docs/candidate.sql,HEAD~1:docs/candidate.sql`);
    expect(readBefore(atFirst!, repo)).toBe('select 1; -- first\n');
    expect(readBefore(atSecond!, repo)).toBe('select 2; -- second\n');
  });

  it('names the source when the commit or the path is unknown', () => {
    expect(() => readBefore(parseBefore('HEAD:docs/candidate.sql')[0]!, repo)).toThrow(/HEAD:docs\/candidate\.sql/);
    expect(() => readBefore(parseBefore('nosuchrev:docs/candidate.sql')[0]!, repo)).toThrow(/nosuchrev/);
  });
});

describe('routineOf', () => {
  it("takes begin_checkout's whole definition, renamed, from a migration or a schema file", () => {
    const migration = `create or replace function checkout.other() returns int language sql as $$ select 1 $$;
create or replace function checkout.begin_checkout(p uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin return private.step(p); end $$;
create function checkout.after() returns int language sql as $$ select 2 $$;`;
    expect(routineOf(migration, 'bench.before_0')).toBe(`create or replace function bench.before_0(p uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin return private.step(p); end $$;`);
    const schema = `create function checkout.begin_checkout(p uuid)\nreturns jsonb as $$ begin return null; end $$\nlanguage plpgsql set search_path = '';\n`;
    expect(routineOf(schema, 'bench.before_1')).toBe(
      `create or replace function bench.before_1(p uuid)\nreturns jsonb as $$ begin return null; end $$\nlanguage plpgsql set search_path = '';`,
    );
    expect(() => routineOf('select 1;', 'bench.x')).toThrow(/no begin_checkout/);
  });
});
