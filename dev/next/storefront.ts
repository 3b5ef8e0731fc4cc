/**
 * The Next.js storefront (web/next) for `npm start` and the tests: build it
 * on the packed library, and serve it with web/next/server.mjs (`next start`
 * that names the shopper's address).
 *
 * web/next depends on the library as a store would, through its package
 * (`@mp-checkout/storefront`, `file:../src/mp-checkout-storefront-<v>.tgz`):
 * `npm pack` in web/src builds the package (prepack: tsc) and packs it, and
 * its files are unpacked into web/next/node_modules/@mp-checkout/storefront,
 * which is what `npm install` of that tarball lays down. Its dependencies,
 * Next.js and React resolve from the repository's node_modules, so nothing is
 * downloaded (the build works offline after `npm ci`).
 *
 * Next.js's telemetry is off for every command here (NEXT_TELEMETRY_DISABLED).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand as run, stopChild } from '../child.ts';
import { repoRoot } from '../pg/prepare.ts';

export const libDir = join(repoRoot, 'web', 'src');
export const nextDir = join(repoRoot, 'web', 'next');
const nextBin = join(repoRoot, 'node_modules', 'next', 'dist', 'bin', 'next');
const installedLib = join(nextDir, 'node_modules', '@mp-checkout', 'storefront');

/** What every Next.js command runs with: no telemetry, no inherited secrets. */
function nextEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/root',
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
    NEXT_TELEMETRY_DISABLED: '1',
    ...extra,
  };
}

/** `npm pack` in web/src (its prepack compiles dist/ with tsc); the tarball's path. */
export async function packLibrary(destination = libDir): Promise<string> {
  mkdirSync(destination, { recursive: true });
  const out = await run('npm', ['pack', '--json', '--no-update-notifier', '--pack-destination', destination], { cwd: libDir });
  const json = JSON.parse(out.slice(out.indexOf('[\n'))) as { filename: string }[];
  const file = json[0]?.filename;
  if (!file) throw new Error(`npm pack printed no tarball:\n${out}`);
  return join(destination, file);
}

/** Puts the tarball's files where `npm install <tarball>` would: web/next/node_modules/@mp-checkout/storefront. */
export async function installLibrary(tarball: string): Promise<void> {
  rmSync(installedLib, { recursive: true, force: true });
  mkdirSync(installedLib, { recursive: true });
  await run('tar', ['-xzf', tarball, '--strip-components=1', '-C', installedLib], { cwd: nextDir });
}

/** Whether `next build` has produced a build (web/next/.next/BUILD_ID). */
export function isNextBuilt(): boolean {
  return existsSync(join(nextDir, '.next', 'BUILD_ID'));
}

/** Packs and installs the library, then `next build`. Returns the seconds it took. */
export async function buildNext(log: (line: string) => void = () => {}): Promise<number> {
  const started = Date.now();
  log('Packing the storefront library (npm pack in web/src)...');
  await installLibrary(await packLibrary());
  log('Building the Next.js storefront (next build in web/next)...');
  await run(process.execPath, [nextBin, 'build'], { cwd: nextDir, env: nextEnv({ NODE_ENV: 'production' }) });
  return (Date.now() - started) / 1000;
}

export interface NextServer {
  url: string;
  port: number;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * The storefront's server, web/next/server.mjs (`next start` that names the
 * shopper's address; production mode: NODE_ENV=production, so the session
 * cookies are Secure) on 127.0.0.1:`port`, ready when it answers. `env` is
 * all the server sees besides PATH and HOME: the Supabase URL, the anon key
 * and the secret key (to forward shoppers' addresses), never the service role
 * key or the JWT secret.
 */
export async function startNextServer(opts: {
  port: number;
  env: { SUPABASE_URL: string; SUPABASE_ANON_KEY: string; SUPABASE_SECRET_KEY?: string; SITE_URL: string } & Record<string, string>;
  onLine?: (line: string) => void;
  readyTimeoutMs?: number;
}): Promise<NextServer> {
  if (!isNextBuilt()) throw new Error('The Next.js storefront is not built: npm run build:next');
  const child = spawn(process.execPath, [join(nextDir, 'server.mjs'), '--port', String(opts.port), '--hostname', '127.0.0.1'], {
    cwd: nextDir,
    env: nextEnv({ NODE_ENV: 'production', ...opts.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let pending = '';
  const onData = (d: Buffer) => {
    out += d.toString();
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) opts.onLine?.(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`The Next.js storefront's server exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/favicon.ico`);
      await res.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stopChild(child);
        throw new Error(`The Next.js storefront's server did not answer within ${(opts.readyTimeoutMs ?? 60_000) / 1000} s:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { url, port: opts.port, process: child, output: () => out, stop: () => stopChild(child, 5000) };
}
