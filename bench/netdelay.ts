/**
 * A delaying TCP proxy on loopback: the client↔database round trip of
 * production (an Edge Function and its database are 1–3 ms apart) on one
 * machine. Every chunk is forwarded `oneWayMs` after it arrived, in order, in
 * each direction, so a request/response costs `2 × oneWayMs` more than on
 * plain loopback while bandwidth is untouched (chunks are not serialized
 * behind each other's delay).
 *
 * It runs on a worker thread of its own so that forwarding does not compete
 * with the bench's clients for the main event loop; `stop()` ends it.
 */
import { Worker } from 'node:worker_threads';

export interface DelayProxy {
  url: string;
  port: number;
  oneWayMs: number;
  stop(): Promise<void>;
}

// Plain JavaScript, evaluated in the worker (no TypeScript loader there).
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { upstreamPort, oneWayMs } = workerData;
const sockets = new Set();
/** Forwards from one socket to another, each chunk oneWayMs late, order kept. */
function pipeDelayed(from, to) {
  const queue = [];
  let timer = null;
  const drain = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0].due <= now + 0.05) to.write(queue.shift().chunk);
    if (queue.length) timer = setTimeout(drain, Math.max(0, queue[0].due - performance.now()));
  };
  from.on('data', (chunk) => {
    if (oneWayMs <= 0) return void to.write(chunk);
    queue.push({ due: performance.now() + oneWayMs, chunk });
    if (!timer) timer = setTimeout(drain, oneWayMs);
  });
  from.on('end', () => {
    const finish = () => (queue.length || timer ? setTimeout(finish, oneWayMs) : to.end());
    finish();
  });
}
const server = net.createServer((client) => {
  client.setNoDelay(true);
  const upstream = net.connect(upstreamPort, '127.0.0.1');
  upstream.setNoDelay(true);
  sockets.add(client).add(upstream);
  pipeDelayed(client, upstream);
  pipeDelayed(upstream, client);
  const close = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => {
  if (m === 'stop') {
    for (const s of sockets) s.destroy();
    server.close(() => parentPort.postMessage('stopped'));
  }
});
`;

/** Starts a proxy in front of the database at upstreamUrl (on 127.0.0.1) adding `roundTripMs` (split evenly) to every round trip. */
export async function startDelayProxy(opts: { upstreamUrl: string; roundTripMs: number }): Promise<DelayProxy> {
  const oneWayMs = opts.roundTripMs / 2;
  const upstreamPort = Number(new URL(opts.upstreamUrl).port || 5432);
  const worker = new Worker(workerSource, { eval: true, workerData: { upstreamPort, oneWayMs } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  return {
    url: withPort(opts.upstreamUrl, port),
    port,
    oneWayMs,
    async stop() {
      const stopped = new Promise<void>((resolve) => worker.once('message', () => resolve()));
      worker.postMessage('stop');
      await Promise.race([stopped, new Promise((r) => setTimeout(r, 2000))]);
      await worker.terminate();
    },
  };
}

/** Replaces host:port in a postgres URL. */
export function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}
