/**
 * Runs Edge Functions under real Deno (npm `deno`), one process per
 * function as on Supabase, from the files `supabase functions deploy` uses
 * (`supabase/functions/<name>/index.ts`) with the one import map
 * (`edge/deno.json`). Used by the tests and by `npm start`.
 *
 * Nothing is downloaded at run time: `--node-modules-dir=manual` makes Deno
 * resolve the import map's `npm:` packages from the node_modules that
 * `npm install` filled (same versions: a test checks the import map against
 * package-lock.json). Should anything still be fetched, Deno trusts the
 * system's certificate store (DENO_TLS_CA_STORE=system), as a TLS-intercepting
 * proxy requires.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../pg/cluster.ts';
import { repoRoot } from '../pg/prepare.ts';
import { stopChild } from '../child.ts';

export const FUNCTION_NAMES = [
  'create-preference',
  'mercadopago-webhook',
  'payment-status',
  'order-sessions-admin',
  'reconcile',
  'admin',
  'send-emails',
  'merge-cart',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export const denoBin = join(repoRoot, 'node_modules', '.bin', 'deno');
export const importMap = join(repoRoot, 'edge', 'deno.json');
/** Flags every local Deno command shares (run, check, test). */
export const denoOfflineFlags = ['--node-modules-dir=manual', '--config', importMap];
/** Environment for every local Deno process. */
export const denoEnv = { DENO_NO_UPDATE_CHECK: '1', DENO_TLS_CA_STORE: 'system', NO_COLOR: '1' };
/** The file `supabase functions deploy` bundles for a function. */
export const functionEntry = (name: string) => join(repoRoot, 'supabase', 'functions', name, 'index.ts');

export interface RunningFunction {
  name: string;
  url: string;
  port: number;
  process: ChildProcess;
  /** Everything the function printed (its structured log lines among them). */
  output(): string;
  stop(): Promise<void>;
}

export async function startFunction(
  name: string,
  env: Record<string, string>,
  opts: { port?: number; onLine?: (line: string) => void; readyTimeoutMs?: number } = {},
): Promise<RunningFunction> {
  const port = opts.port ?? (await freePort());
  const child = spawn(
    denoBin,
    ['run', '--quiet', '--allow-net', '--allow-env', '--allow-read', ...denoOfflineFlags, functionEntry(name)],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/root',
        ...(process.env.DENO_DIR ? { DENO_DIR: process.env.DENO_DIR } : {}),
        ...denoEnv,
        ...env,
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let pending = '';
  const onData = (d: Buffer) => {
    const text = d.toString();
    out += text;
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) opts.onLine?.(line);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  // Ready when it answers a preflight.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`function ${name} exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/${name}`, { method: 'OPTIONS' });
      await res.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`function ${name} did not start in time:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    name,
    url,
    port,
    process: child,
    output: () => out,
    stop: () => stopChild(child),
  };
}
