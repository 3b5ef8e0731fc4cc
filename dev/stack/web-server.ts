/**
 * Serves the built demo storefront (web/demo/dist) for `npm start`: static
 * files, SPA fallback to index.html (so /checkout/return works on reload),
 * and `GET /env.js`, which tells the storefront where the local API is. The
 * store owner's dashboard (web/admin/dist), when given, is served under
 * /admin/ and reads the same /env.js.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

export interface StorefrontServerOptions {
  distDir: string;
  port: number;
  host?: string;
  /** What `window.__STOREFRONT_ENV__` holds. */
  env: { supabaseUrl: string; supabaseAnonKey: string; captcha?: { provider: 'turnstile' | 'hcaptcha'; siteKey: string }; siteId?: string; locale?: string };
  /** The store owner's dashboard (web/admin/dist), served under /admin/ with its own index.html fallback. */
  adminDistDir?: string;
}

export interface StorefrontServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startStorefrontServer(opts: StorefrontServerOptions): Promise<StorefrontServer> {
  const storefrontRoot = resolve(opts.distDir);
  const adminRoot = opts.adminDistDir ? resolve(opts.adminDistDir) : undefined;
  const envJs = `window.__STOREFRONT_ENV__ = ${JSON.stringify(opts.env)};\n`;
  const server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' });
      return void res.end();
    }
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname === '/env.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
      return void res.end(method === 'HEAD' ? undefined : envJs);
    }
    if (adminRoot && url.pathname === '/admin') {
      res.writeHead(301, { Location: '/admin/' });
      return void res.end();
    }
    const admin = adminRoot !== undefined && url.pathname.startsWith('/admin/');
    const root = admin ? adminRoot : storefrontRoot;
    const pathname = admin ? url.pathname.slice('/admin'.length) : url.pathname;
    let rel: string;
    try {
      rel = normalize(decodeURIComponent(pathname)).replace(/^[/\\]+/, '');
    } catch {
      res.writeHead(400);
      return void res.end();
    }
    let file = join(root, rel);
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403);
      return void res.end();
    }
    const isFile = (p: string) => existsSync(p) && statSync(p).isFile();
    if (!isFile(file) && isFile(join(file, 'index.html'))) file = join(file, 'index.html');
    if (!isFile(file)) {
      // Missing assets are real 404s; any other path is a client-side route.
      if (extname(rel) !== '' && !rel.endsWith('.html')) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void res.end('Not found');
      }
      file = join(root, 'index.html');
      if (!isFile(file)) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void res.end(admin ? 'The dashboard has not been built (npm run build:admin).' : 'The storefront has not been built (npm run build:web).');
      }
    }
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const immutable = rel.startsWith('assets/');
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': statSync(file).size,
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    close: () => (closed ??= new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    })),
  };
}
