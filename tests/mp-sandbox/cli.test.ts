/** `npm run mp-sandbox`: starts, prints what a store needs, stops on SIGTERM/SIGINT. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function startCli(env: Record<string, string>, args: string[] = []): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/mp-sandbox/cli.ts', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('control API')) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`cli exited early with ${code}: ${out}`)));
  });
  return { child, output: () => out, ready };
}

const exited = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => child.once('exit', (code) => resolve(code)));

describe('mp-sandbox CLI', () => {
  it('uses MP_SANDBOX_PORT, prints URL, token and secret, and stops on SIGTERM', async () => {
    const port = await freePort();
    const { child, output, ready } = startCli({ MP_SANDBOX_PORT: String(port), MP_SANDBOX_WEBHOOK_SECRET: 'cli-secret' }, ['--quiet']);
    await ready;
    expect(output()).toContain(`mp-sandbox listening on http://127.0.0.1:${port}`);
    expect(output()).toMatch(/MP_ACCESS_TOKEN=TEST-\S+/);
    expect(output()).toContain('MP_WEBHOOK_SECRET=cli-secret');
    const token = /MP_ACCESS_TOKEN=(\S+)/.exec(output())?.[1] ?? '';
    const res = await fetch(`http://127.0.0.1:${port}/v1/payments/search`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const done = exited(child);
    child.kill('SIGTERM');
    expect(await done).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/__sandbox`)).rejects.toThrow();
  });

  it('takes flags over the environment and stops on SIGINT', async () => {
    const port = await freePort();
    const { child, output, ready } = startCli({ MP_SANDBOX_PORT: '1' }, ['--port', String(port), '--access-token', 'APP_USR-77-cli']);
    await ready;
    expect(output()).toContain('MP_ACCESS_TOKEN=APP_USR-77-cli');
    const ok = await fetch(`http://127.0.0.1:${port}/v1/payments/search`, { headers: { authorization: 'Bearer APP_USR-77-cli' } });
    expect(ok.status).toBe(200);
    // Without --quiet every request is logged as one JSON line.
    await new Promise((r) => setTimeout(r, 50));
    expect(output()).toMatch(/\{"t":"[^"]+","event":"request","method":"GET","path":"\/v1\/payments\/search","status":200\}/);
    const done = exited(child);
    child.kill('SIGINT');
    expect(await done).toBe(0);
  });
});
