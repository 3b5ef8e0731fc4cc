/**
 * The real `npm start`: one clear message (and a non-zero exit) when a port
 * is taken; Ctrl-C (SIGINT to the process group, as a terminal sends it) and
 * SIGTERM to npm alone both stop every child, leaving no Deno or PostgreSQL
 * process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../dev/functions/serve.ts';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { descendants, isAlive, processes, tempDir, waitFor } from './helpers.ts';

const dataDir = tempDir('stack-npm-');
const started: ChildProcess[] = [];

afterAll(() => {
  // Safety net only: the tests assert that nothing is left.
  for (const child of started) if (child.pid && isAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function npmStart(args: string[], env: Record<string, string> = {}) {
  const child = spawn('npm', ['start', '--', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, like a terminal's foreground job
  });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

const listen = (port = 0) =>
  new Promise<Server>((resolve) => {
    const srv = createServer();
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });

const stackArgs = ['--no-storefront', '--no-next', '--api-port', '0', '--db-port', '0', '--mp-port', '0', '--mail-port', '0', '--data-dir', dataDir];

describe('npm start', () => {
  it('says which port is taken and how to change it, in one line, and exits non-zero', async () => {
    const busy = await listen();
    const port = (busy.address() as { port: number }).port;
    try {
      const run = npmStart(['--no-storefront', '--no-next', '--db-port', '0', '--mp-port', '0', '--mail-port', '0', '--data-dir', dataDir], {
        STACK_API_PORT: String(port),
      });
      const code = await run.exited;
      expect(code).not.toBe(0);
      const ours = run.output().split('\n').filter((l) => l.startsWith('npm start:'));
      expect(ours).toEqual([
        `npm start: Port ${port} (the local API) is already in use. Stop whatever listens on it (\`ss -ltnp 'sport = :${port}'\` shows it), or pick another port with STACK_API_PORT=<port> npm start, or npm start -- --api-port <port>.`,
      ]);
      expect(run.output()).not.toMatch(/^\s+at /m); // no stack trace
      expect(run.output()).not.toContain('Starting PostgreSQL'); // checked before starting anything
    } finally {
      busy.close();
    }
  });

  async function startAndCollect() {
    const run = npmStart(stackArgs);
    await waitFor(
      'the ready line',
      () => {
        if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
        return run.output().includes('Local stack ready') || undefined;
      },
      60_000,
    );
    const kids = descendants(run.child.pid!);
    const deno = kids.filter((p) => /deno run/.test(p.cmd));
    expect(deno).toHaveLength(FUNCTION_NAMES.length);
    // The mail sink's link is printed, and it answers.
    const sinkUrl = /Mail sink \(emails\)\s+open (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())?.[1];
    expect(sinkUrl).toBeDefined();
    const page = await fetch(sinkUrl!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Mail sink');
    const postmaster = Number(readFileSync(join(dataDir, 'db', 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(isAlive(postmaster)).toBe(true);
    return { run, pids: [...kids.map((p) => p.pid), postmaster] };
  }

  async function expectNothingLeft(pids: number[]) {
    // pg_ctl stop -w and the functions' exits have completed before npm start exits.
    const alive = pids.filter(isAlive).map((pid) => processes().find((p) => p.pid === pid)?.cmd ?? String(pid));
    expect(alive).toEqual([]);
    const strays = processes().filter((p) => p.cmd.includes(dataDir));
    expect(strays).toEqual([]);
    expect(existsSync(join(dataDir, 'db', 'pgdata', 'postmaster.pid'))).toBe(false);
  }

  it('Ctrl-C (SIGINT to the process group) stops every child: no orphan Deno or PostgreSQL', async () => {
    const { run, pids } = await startAndCollect();
    process.kill(-run.child.pid!, 'SIGINT');
    await run.exited;
    expect(run.output()).toContain('Stopped.');
    await expectNothingLeft(pids);
  });

  it('serves the Next.js storefront (building it when it is not built), prints its link, and stops it with the rest', async () => {
    const ports = ['--api-port', '0', '--db-port', '0', '--mp-port', '0', '--mail-port', '0', '--next-port', '0'];
    const run = npmStart(['--no-storefront', ...ports, '--data-dir', dataDir]);
    try {
      const link = await waitFor(
        "the Next.js storefront's link",
        () => {
          if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
          return /Next\.js storefront\s+open (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output())?.[1];
        },
        300_000,
      );
      expect(run.output()).toContain('Local stack ready');
      const page = await fetch(`${link}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('lang="es-AR"');
      expect(html).toMatch(/data-testid="price-REM-NEG-M"[^>]*>\$\s?12\.999,00</); // the seeded catalog, rendered on the server
      // The storefront's server: node web/next/server.mjs.
      const next = descendants(run.child.pid!).filter((p) => p.cmd.includes('web/next/server.mjs'));
      expect(next).toHaveLength(1);
      process.kill(-run.child.pid!, 'SIGINT');
      await run.exited;
      expect(isAlive(next[0]!.pid)).toBe(false);
    } finally {
      if (run.child.exitCode === null) {
        process.kill(-run.child.pid!, 'SIGINT');
        await run.exited;
      }
    }
  }, 360_000);

  it('SIGTERM to npm alone (a process manager) does the same', async () => {
    const { run, pids } = await startAndCollect();
    run.child.kill('SIGTERM');
    await run.exited;
    await waitFor('the stack to stop', () => pids.every((p) => !isAlive(p)) || undefined, 20_000).catch(() => undefined);
    await expectNothingLeft(pids);
  });
});
