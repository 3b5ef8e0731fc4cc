/**
 * The demo storefront's build: `npm run build:web` writes web/demo/dist, which
 * the local stack (`npm start`) serves with an SPA fallback and `/env.js`.
 * `npm run dev:web` serves it with hot reload; its `/env.js` comes from
 * SUPABASE_URL / SUPABASE_ANON_KEY (default: the local stack's API on 54321
 * and its anon key, so it works next to `npm start -- --no-storefront`).
 */
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { apiKey, LOCAL_JWT_SECRET } from '../../dev/stack/jwt.ts';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Dev server only: answers /env.js the way the local stack does. */
function devEnvScript(): Plugin {
  return {
    name: 'storefront-dev-env',
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
  base: '/',
  plugins: [react(), devEnvScript()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 5173 },
  logLevel: 'warn',
});
