/**
 * The system-package check `npm start` and `npm test` run first. As root with
 * apt it installs what is missing (what .ci/run does on a fresh machine);
 * anyone else gets the exact command and a non-zero exit, tested here as the
 * `nobody` user with PostgreSQL made to look absent.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../dev/pg/prepare.ts';

const asNobody = (purpose: string, env: Record<string, string>) =>
  spawnSync('runuser', [
    '-u',
    'nobody',
    '--',
    'env',
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
    process.execPath,
    '--import',
    'tsx',
    'dev/prereqs.ts',
    purpose,
  ], {
    cwd: repoRoot,
    encoding: 'utf8',
  });

describe('system prerequisites', () => {
  it.runIf(process.getuid?.() === 0)('without root, a missing package stops with the exact apt-get command', () => {
    const res = asNobody('start', { PG_BINDIR: '/nonexistent', HOME: '/tmp' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/Missing system packages: postgresql-1\d/);
    expect(res.stderr).toMatch(/sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql-1\d/);
  });

  it('with everything installed it does nothing and exits 0 (what npm test relies on offline)', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'dev/prereqs.ts', 'test'], { cwd: repoRoot, encoding: 'utf8' });
    expect(res.status).toBe(0);
    expect(res.stdout).toBe('');
  });
});
