/**
 * The storefront's server: `next start`, plus the one thing `next start`
 * cannot do, naming the shopper's address.
 *
 * Every sign-in and checkout is made by this server, so Supabase would count
 * all shoppers under its address (Auth's rate limits per IP, the checkouts'
 * cap per address). The app forwards each shopper's address instead
 * (lib/session.ts), and reads it from `X-Forwarded-For`, which this server
 * sets on every request, replacing whatever the client sent:
 *
 *   - from a proxy in TRUSTED_PROXIES (comma-separated addresses, CIDR ranges
 *     or proxy-addr's names `loopback`, `linklocal`, `uniquelocal`): the
 *     address that proxy saw, i.e. X-Forwarded-For read from the right,
 *     skipping trusted proxies (express's "trust proxy" rule, proxy-addr);
 *   - from anyone else: the connection's address (X-Forwarded-For ignored).
 *
 * TRUSTED_PROXIES is empty by default: nothing in front of this server. Plain
 * `next start` keeps a client's X-Forwarded-For (Next.js only fills it in
 * when absent), so any client could name any address: serve the storefront
 * with this file, or behind a platform that overwrites the header.
 *
 *   node server.mjs [--port 3000] [--hostname 127.0.0.1]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import next from 'next';
import proxyaddr from 'proxy-addr';

const { values } = parseArgs({ options: { port: { type: 'string', default: '3000' }, hostname: { type: 'string', default: '127.0.0.1' } } });
const port = Number(values.port);
const hostname = values.hostname;
const trusted = proxyaddr.compile((process.env.TRUSTED_PROXIES ?? '').split(',').map((s) => s.trim()).filter(Boolean));

const app = next({ dev: false, dir: import.meta.dirname, hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

createServer((req, res) => {
  req.headers['x-forwarded-for'] = proxyaddr(req, trusted);
  void handle(req, res);
}).listen(port, hostname, () => console.log(`Ready on http://${hostname}:${port}`));
