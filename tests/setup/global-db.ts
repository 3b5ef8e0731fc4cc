/**
 * vitest global setup: a database for the suites that need one. `npm test`
 * starts one cluster for every suite and passes TEST_DATABASE_URL; a plain
 * `npx vitest run tests/db` starts (and removes) its own.
 *
 * With TEST_VIA_POOLER=1 the Edge Functions under test reach the database
 * through PgBouncer in transaction mode (the stand-in for Supavisor), started
 * here; `npm test` runs the functions' suites once direct and once so.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type Cluster, startClusterOnFreePort } from '../../dev/pg/cluster.ts';
import { type Pooler, startPooler } from '../../dev/pg/pooler.ts';
import { prepareDatabase } from '../../dev/pg/prepare.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** What the Edge Functions under test connect to: the database, or the pooler in front of it. */
    functionsDatabaseUrl: string;
    viaPooler: boolean;
  }
}

export default async function setup(project: TestProject) {
  let cluster: Cluster | undefined;
  let pooler: Pooler | undefined;
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    cluster = await startClusterOnFreePort({ dataDir: mkdtempSync(join(tmpdir(), 'checkout-vitest-')), durable: false });
    await prepareDatabase(cluster.url, { seed: true });
    url = cluster.url;
  }
  const viaPooler = process.env.TEST_VIA_POOLER === '1';
  if (viaPooler) {
    pooler = await startPooler({ upstreamPort: Number(new URL(url).port), dir: mkdtempSync(join(tmpdir(), 'checkout-pgbouncer-')) });
  }
  project.provide('databaseUrl', url);
  project.provide('functionsDatabaseUrl', pooler?.url ?? url);
  project.provide('viaPooler', viaPooler);
  return async () => {
    await pooler?.stop();
    await cluster?.stop({ remove: true });
  };
}
