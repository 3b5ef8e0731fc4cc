/**
 * The demo storefront's build: `npm run build:web` writes web/demo/dist, which
 * the local stack (`npm start`) serves with an SPA fallback and `/env.js`.
 * `npm run dev:web` serves it with hot reload (web/vite.shared.ts says where
 * its `/env.js` comes from).
 */
import { webAppConfig } from '../vite.shared.ts';

export default webAppConfig(import.meta.url, { base: '/', port: 5173, chunkSizeWarningLimit: 800 });
