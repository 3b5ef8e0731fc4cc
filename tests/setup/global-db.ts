/**
 * vitest global setup: a database for the suites that need one. `npm test`
 * starts one cluster for every suite and passes TEST_DATABASE_URL; a plain
 * `npx vitest run tests/db` starts (and removes) its own.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type Cluster, freePort, startCluster } from '../../dev/pg/cluster.ts';
import { prepareDatabase } from '../../dev/pg/prepare.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  let cluster: Cluster | undefined;
  let url = process.env.TEST_DATABASE_URL;
  if (!url) {
    cluster = await startCluster({ dataDir: mkdtempSync(join(tmpdir(), 'checkout-vitest-')), port: await freePort() });
    await prepareDatabase(cluster.url, { seed: true });
    url = cluster.url;
  }
  project.provide('databaseUrl', url);
  return async () => {
    await cluster?.stop({ remove: true });
  };
}
