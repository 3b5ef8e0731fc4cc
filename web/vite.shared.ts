/**
 * What the two web apps (web/demo, the storefront; web/admin, the store
 * owner's dashboard) build and serve alike: React, an es2022 build into their
 * own dist/, a dev server on loopback, and the dev server's `/env.js`
 * answered the way the local stack answers it: SUPABASE_URL and
 * SUPABASE_ANON_KEY, by default the local stack's API on 54321 and its anon
 * key, so `npm run dev:web` / `dev:admin` work next to `npm start`.
 */
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin, type UserConfig } from 'vite';
import { apiKey, LOCAL_JWT_SECRET } from '../dev/stack/jwt.ts';

/** Dev server only: answers /env.js the way the local stack does. */
function devEnvScript(): Plugin {
  return {
    name: 'dev-env-script',
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

/** One web app's config: `appUrl` is its vite.config.ts's `import.meta.url`. */
export function webAppConfig(appUrl: string, opts: { base: string; port: number; chunkSizeWarningLimit: number }): UserConfig {
  return defineConfig({
    root: fileURLToPath(new URL('.', appUrl)),
    base: opts.base,
    plugins: [react(), devEnvScript()],
    build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: opts.chunkSizeWarningLimit },
    server: { host: '127.0.0.1', port: opts.port, strictPort: true },
    preview: { host: '127.0.0.1', port: opts.port },
    logLevel: 'warn',
  });
}
