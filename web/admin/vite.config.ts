/**
 * The store owner's dashboard: `npm run build:admin` writes web/admin/dist,
 * which the local stack (`npm start`) serves under /admin/ next to the
 * storefront, with `/env.js` (the same {supabaseUrl, supabaseAnonKey} as the
 * storefront). `npm run dev:admin` serves it with hot reload next to
 * `npm start`.
 */
import { webAppConfig } from '../vite.shared.ts';

// npm start serves it under /admin/ on the storefront's port.
export default webAppConfig(import.meta.url, { base: '/admin/', port: 5174, chunkSizeWarningLimit: 1200 });
