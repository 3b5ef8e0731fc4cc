/**
 * The storefront's Next.js configuration. The app lives inside the
 * repository, whose node_modules hold Next, React and the library's
 * dependencies: the repository is the root Next traces and bundles from.
 * Nothing here fetches from the network at build or run time (no
 * next/font/google, no remote images; telemetry is turned off by the scripts
 * that run it, NEXT_TELEMETRY_DISABLED=1).
 */
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** @type {import('next').NextConfig} */
const config = {
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: repoRoot },
  outputFileTracingRoot: repoRoot,
  // `ws` (the library's WebSocket for Node 20) loads optional native add-ons
  // with require(): it runs from node_modules rather than from the bundle.
  serverExternalPackages: ['ws'],
  images: { unoptimized: true },
};

export default config;
