/**
 * web/src as the package a store installs (`@mp-checkout/storefront`):
 * `npm pack` builds and packs it; the tarball is installed into an empty
 * folder with `npm install --offline` (an empty HOME and npm cache, so no
 * registry is asked: its dependencies are given as the repository's own
 * installed copies, which npm links), then typechecked there with tsc and
 * imported by plain `node`, no flags: both entry points, and a server client
 * constructed on this machine's Node (20 has no global WebSocket).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packLibrary } from '../../dev/next/storefront.ts';
import { repoRoot } from '../../dev/pg/prepare.ts';

const tmp = mkdtempSync(join(tmpdir(), 'storefront-package-'));
const app = join(tmp, 'app');
let tarball: string;

/** A clean environment: no inherited NODE_OPTIONS (vitest's), an empty HOME and npm cache. */
const env = () => ({ PATH: process.env.PATH ?? '', HOME: join(tmp, 'home'), npm_config_cache: join(tmp, 'npm-cache'), NO_COLOR: '1' });

function sh(cmd: string, args: string[], cwd = app) {
  const r = spawnSync(cmd, args, { cwd, env: env(), encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

beforeAll(async () => {
  mkdirSync(join(tmp, 'home'));
  mkdirSync(app);
  tarball = await packLibrary(tmp);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'a-store', private: true, type: 'module' }));
  // What the package asks for, from the repository's node_modules.
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'web', 'src', 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
  };
  const deps = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)].map((n) => join(repoRoot, 'node_modules', n));
  const r = sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-update-notifier', '--ignore-scripts', tarball, ...deps]);
  if (r.code !== 0) throw new Error(`npm install of the tarball failed:\n${r.out}`);
}, 300_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed library', () => {
  it('is a package: name, version, exports with types for the browser and server entry points, built files only', () => {
    const installed = join(app, 'node_modules', '@mp-checkout', 'storefront');
    expect(lstatSync(installed).isSymbolicLink()).toBe(false); // unpacked from the tarball, not linked to the source
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: '@mp-checkout/storefront', version: expect.stringMatching(/^\d+\.\d+\.\d+$/), type: 'module' });
    expect(pkg['exports']).toEqual({
      '.': { types: './dist/web/src/index.d.ts', default: './dist/web/src/index.js' },
      './server': { types: './dist/web/src/ssr.d.ts', default: './dist/web/src/ssr.js' },
      './package.json': './package.json',
    });
    const files = (dir: string): string[] =>
      readdirSync(join(installed, dir), { withFileTypes: true }).flatMap((d) => d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)]);
    const all = files('.');
    expect(all.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]); // no sources
    expect(all).toContain('dist/edge/_shared/contract.js'); // the contract it shares with the Edge Functions
  });

  it("typechecks a store's code against both entry points (tsc, strict)", () => {
    copyFileSync(join(repoRoot, 'tests', 'web', 'package', 'consumer.ts'), join(app, 'consumer.ts'));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          strict: true,
          noEmit: true,
          // The dependencies' own declarations need @types/node and a newer DOM; ours are checked through the expect-errors.
          skipLibCheck: true,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    const r = sh(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('imports both entry points and constructs a server client with plain node, no flags', () => {
    copyFileSync(join(repoRoot, 'tests', 'web', 'package', 'check.mjs'), join(app, 'check.mjs'));
    const r = sh(process.execPath, ['check.mjs']);
    expect(r.code, r.out).toBe(0);
    const line = r.out.split('\n').find((l) => l.startsWith('{'));
    const out = JSON.parse(line ?? '{}') as Record<string, unknown>;
    expect(out).toMatchObject({ execArgv: [], nodeOptions: null, serverClient: true, browserEntry: 'insufficient_stock' });
    if (Number(String(out['node']).split('.')[0]) < 22) {
      // Node 20 (this machine, CI): no global WebSocket, and supabase-js alone throws; the library's client does not.
      expect(out['globalWebSocket']).toBe('undefined');
      expect(out['bare']).toContain('Node.js detected but native WebSocket not found');
    }
  });
});
