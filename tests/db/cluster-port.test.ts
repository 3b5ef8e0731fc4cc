/**
 * A throw-away cluster's port: a port found free can be taken before
 * PostgreSQL listens on it (an outgoing connection's local port comes from
 * the same range), which failed whole suites under load. startCluster says
 * so with PortTakenError, and startClusterOnFreePort starts on another port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Cluster, freePort, PortTakenError, startCluster, startClusterOnFreePort } from '../../dev/pg/cluster.ts';

const dirs: string[] = [];
const clusters: Cluster[] = [];
const servers: Server[] = [];
afterAll(async () => {
  for (const c of clusters) await c.stop({ remove: true });
  for (const s of servers) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'checkout-port-'));
  dirs.push(d);
  return d;
}

/** Holds 127.0.0.1:port as another process would. */
async function hold(port: number): Promise<void> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}

describe('a throw-away cluster and its port', () => {
  it('startCluster on a port another process holds fails with PortTakenError naming the port', async () => {
    const port = await freePort();
    await hold(port);
    const err = await startCluster({ dataDir: dataDir(), port, durable: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortTakenError);
    expect((err as PortTakenError).port).toBe(port);
    expect((err as Error).message).toMatch(/Address already in use/);
  }, 120_000);

  it('startClusterOnFreePort starts on another port when the one it found is taken first', async () => {
    // The first two ports it finds are taken before PostgreSQL binds them.
    let taken = 0;
    const cluster = await startClusterOnFreePort({ dataDir: dataDir(), durable: false }, 5, async (port) => {
      if (taken < 2) {
        taken++;
        await hold(port);
      }
    });
    clusters.push(cluster);
    expect(taken).toBe(2);
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    const { rows } = await client.query<{ port: string }>('show port');
    await client.end();
    expect(Number(rows[0]!.port)).toBe(cluster.port);
  }, 120_000);
});
