/**
 * The system-package check `npm start` and `npm test` run first. As root with
 * apt it installs what is missing (what .ci/run does on a fresh machine);
 * anyone else gets the exact command, tested here with PostgreSQL made to
 * look absent.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { PrerequisiteError } from '../../dev/pg/cluster.ts';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { ensurePrerequisites } from '../../dev/prereqs.ts';

const saved = process.env.PG_BINDIR;
afterEach(() => {
  if (saved === undefined) delete process.env.PG_BINDIR;
  else process.env.PG_BINDIR = saved;
});

describe('system prerequisites', () => {
  it('without root, a missing package stops with the exact apt-get command and installs nothing', () => {
    process.env.PG_BINDIR = '/nonexistent';
    const lines: string[] = [];
    let error: unknown;
    try {
      ensurePrerequisites('start', (l) => lines.push(l), { root: false });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PrerequisiteError);
    expect((error as Error).message).toMatch(/Missing system packages: postgresql-1\d/);
    expect((error as Error).message).toMatch(/sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql-1\d/);
    expect(lines).toEqual([]);
  });

  it('with everything installed it does nothing and exits 0 (what npm test relies on offline)', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'dev/prereqs.ts', 'test'], { cwd: repoRoot, encoding: 'utf8' });
    expect(res.status).toBe(0);
    expect(res.stdout).toBe('');
  });
});
