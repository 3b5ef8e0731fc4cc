/**
 * The store owner's dashboard: `npm run build:admin` writes web/admin/dist,
 * which the local stack (`npm start`) serves under /admin/ next to the storefront, with `/env.js`
 * (the same {supabaseUrl, supabaseAnonKey} as the storefront). `npm run
 * dev:admin` serves it with hot reload next to `npm start`.
 */
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { apiKey, LOCAL_JWT_SECRET } from '../../dev/stack/jwt.ts';

const root = fileURLToPath(new URL('.', import.meta.url));

function devEnvScript(): Plugin {
  return {
    name: 'admin-dev-env',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use('/env.js', (_req, res) => {
        const env = {
          supabaseUrl: process.env['SUPABASE_URL'] ?? 'http://127.0.0.1:54321',
          supabaseAnonKey: process.env['SUPABASE_ANON_KEY'] ??
            apiKey('anon', process.env['SUPABASE_JWT_SECRET'] ?? process.env['JWT_SECRET'] ?? LOCAL_JWT_SECRET),
        };
        res.setHeader('content-type', 'text/javascript; charset=utf-8');
        res.end(`window.__STOREFRONT_ENV__ = ${JSON.stringify(env)};\n`);
      });
    },
  };
}

export default defineConfig({
  root,
  // npm start serves it under /admin/ on the storefront's port.
  base: '/admin/',
  plugins: [react(), devEnvScript()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 1200 },
  server: { host: '127.0.0.1', port: 5174, strictPort: true },
  preview: { host: '127.0.0.1', port: 5174 },
  logLevel: 'warn',
});
