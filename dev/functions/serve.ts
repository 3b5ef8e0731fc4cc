/**
 * Runs Edge Functions under real Deno (npm `deno`), one process per
 * function as on Supabase, each with its own deno.json. Used by the tests and
 * by `npm start`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../pg/cluster.ts';
import { repoRoot } from '../pg/prepare.ts';

export const FUNCTION_NAMES = ['create-preference', 'mercadopago-webhook', 'payment-status', 'order-sessions-admin'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export const denoBin = join(repoRoot, 'node_modules', '.bin', 'deno');

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
  const dir = join(repoRoot, 'edge', name);
  const child = spawn(
    denoBin,
    ['run', '--quiet', '--allow-net', '--allow-env', '--allow-read', '--config', join(dir, 'deno.json'), join(dir, 'index.ts')],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env, PORT: String(port) },
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
  // Ready when it answers a preflight (the first run downloads npm packages).
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
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
