/** Helpers for the local-stack suites: clients, temp dirs, and process inspection through /proc. */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { AuthGuardConfig } from '../../dev/stack/auth-guard.ts';
import { apiKey } from '../../dev/stack/jwt.ts';
import { type LocalApi, startLocalApi } from '../../dev/stack/local-api.ts';
import { databaseUrl } from '../helpers/db.ts';
import { serverRealtimeOptions } from '../../web/src/ssr.ts';

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

/** A supabase-js client as a storefront would make it (in memory, no auto refresh). */
export function client(apiUrl: string, anonKey: string): SupabaseClient {
  return createClient(apiUrl, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: serverRealtimeOptions(),
  });
}

/**
 * An HTTP request from a chosen local address (127.0.0.2 is another client to
 * a server on 127.0.0.1: the whole 127/8 is the loopback), answered as JSON.
 */
export function httpFrom(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; localAddress?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(url);
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  return new Promise((resolve, reject) => {
    const req = request({
      hostname: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      method: init.method ?? (payload === undefined ? 'GET' : 'POST'),
      localAddress: init.localAddress ?? '127.0.0.1',
      headers: {
        ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }),
        ...init.headers,
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text || '{}') as Record<string, unknown>;
        } catch {
          body = { text };
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Local APIs without functions on the test database, for the suites of the
 * local Auth: `start` gives a fresh one (fresh rate-limit buckets) with the
 * given limits and CAPTCHA, and a clock when the test needs one; every one is
 * closed after the suite.
 */
export function useAuthApis(secret: string) {
  const anonKey = apiKey('anon', secret);
  const secretKey = 'sb_secret_auth-apis-test-key';
  const apis: LocalApi[] = [];
  let pool: pg.Pool | undefined;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
  });
  afterAll(async () => {
    await Promise.all(apis.map((a) => a.close()));
    await pool?.end();
  });
  return {
    anonKey,
    /** The project's secret API key (`sb_secret_…`) these APIs accept. */
    secretKey,
    serviceRoleKey: apiKey('service_role', secret),
    pool: () => pool!,
    async start(authGuard: AuthGuardConfig, now?: () => number): Promise<LocalApi> {
      const a = await startLocalApi({
        port: 0,
        adminPool: pool!,
        restPool: pool!,
        jwtSecret: secret,
        anonKey,
        serviceRoleKey: apiKey('service_role', secret),
        secretKey,
        functions: () => undefined,
        authGuard,
        ...(now ? { now } : {}),
      });
      apis.push(a);
      return a;
    },
  };
}

export const VARIANTS = {
  remeraNegraS: '00000000-0000-4000-8000-000000000201',
  remeraNegraM: '00000000-0000-4000-8000-000000000202',
  mate: '00000000-0000-4000-8000-000000000209', // stock 1
};

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

interface ProcInfo {
  pid: number;
  ppid: number;
  cmd: string;
}

export function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(entry), ppid, cmd });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Every live descendant of pid. */
export function descendants(pid: number): ProcInfo[] {
  const all = processes();
  const found: ProcInfo[] = [];
  let frontier = [pid];
  while (frontier.length) {
    const next = all.filter((p) => frontier.includes(p.ppid));
    found.push(...next);
    frontier = next.map((p) => p.pid);
  }
  return found;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
