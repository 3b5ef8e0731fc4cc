/**
 * `npm run build:next`: packs the storefront library, installs the tarball
 * into web/next and runs `next build` (see ./storefront.ts).
 */
import { buildNext } from './storefront.ts';

try {
  const seconds = await buildNext((line) => console.log(line));
  console.log(`Built web/next in ${seconds.toFixed(0)} s.`);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
