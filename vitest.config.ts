import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/setup/global-db.ts'],
    testTimeout: 60_000,
    // expect.poll waits on a condition; its 1 s default is too short for a
    // browser round trip on a machine shared by several test runs.
    expect: { poll: { timeout: 15_000 } },
    hookTimeout: 120_000,
    pool: 'forks',
    // Suites start their own servers and hold real database connections; on a
    // 2-core machine running files one at a time keeps timings honest.
    fileParallelism: false,
    // No --experimental-websocket: the suites run on plain Node, as a store's
    // server does, so a supabase-js client that needs a global WebSocket on
    // Node 20 fails here (web/src/ssr.ts hands it `ws`).
  },
});
