/**
 * What `supabase functions deploy` and an offline start depend on, checked
 * against the files: one import map pinned to what npm installed, a
 * standard-layout entry for every function, config.toml in step, and no
 * import that Deno would have to download from anywhere but node_modules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../dev/functions/serve.ts';
import { repoRoot } from '../../dev/pg/prepare.ts';

const read = (...p: string[]) => readFileSync(join(repoRoot, ...p), 'utf8');
const importMap = JSON.parse(read('edge', 'deno.json')) as { imports: Record<string, string> };
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };

function walk(dir: string): string[] {
  return readdirSync(join(repoRoot, dir), { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []
  );
}

describe('the Edge Functions import map', () => {
  it('pins every npm package to the version npm installed (package-lock.json), which package.json lists', () => {
    const entries = Object.entries(importMap.imports);
    expect(entries.length).toBeGreaterThan(0);
    for (const [, target] of entries) {
      const m = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)\/?$/.exec(target);
      expect(m, target).not.toBeNull();
      const [, name, version] = m!;
      expect(lock.packages[`node_modules/${name}`]?.version, `${name} in package-lock.json`).toBe(version);
      expect(pkg.dependencies[name!], `${name} in package.json dependencies`).toBeDefined();
    }
  });

  it('every bare import in edge/ is in the import map; nothing is fetched by URL, jsr: or an unpinned npm: specifier', () => {
    const problems: string[] = [];
    for (const file of [...walk('edge'), ...walk(join('supabase', 'functions'))]) {
      for (const [, spec] of read(file).matchAll(/(?:from|import)\s+'([^']+)'/g)) {
        if (spec!.startsWith('.')) continue;
        const mapped = importMap.imports[spec!] ?? Object.entries(importMap.imports).find(([k]) => k.endsWith('/') && spec!.startsWith(k))?.[1];
        if (!mapped) problems.push(`${file}: ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the deploy layout', () => {
  const config = read('supabase', 'config.toml');
  const deployed = readdirSync(join(repoRoot, 'supabase', 'functions'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

  it('every function has supabase/functions/<name>/index.ts importing its code from edge/<name>/', () => {
    expect(deployed.sort()).toEqual([...FUNCTION_NAMES].sort());
    for (const name of FUNCTION_NAMES) {
      expect(read('supabase', 'functions', name, 'index.ts')).toContain(`import '../../../edge/${name}/index.ts';`);
    }
  });

  it('config.toml has a section per function with the one import map and no entrypoint', () => {
    for (const name of FUNCTION_NAMES) {
      const section = new RegExp(`\\[functions\\.${name}\\]\\n([^\\[]*)`).exec(config)?.[1] ?? '';
      expect(section, name).toContain('import_map = "../edge/deno.json"');
      expect(section, name).toMatch(/verify_jwt = (true|false)/);
    }
    expect(config).not.toMatch(/^entrypoint\s*=/m);
  });

  it('the deployed functions import every module of edge/_shared and nothing of the tests (the fakes live in edge/_test)', () => {
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const [, spec] of read(file).matchAll(/(?:from|import)\s+'(\.[^']+)'/g)) visit(join(dirname(file), spec!));
    };
    for (const name of FUNCTION_NAMES) visit(join('supabase', 'functions', name, 'index.ts'));
    expect([...reached].filter((f) => f.includes('_test') || f.endsWith('.test.ts'))).toEqual([]);
    expect(walk(join('edge', '_shared')).filter((f) => !reached.has(f))).toEqual([]);
  });
});
