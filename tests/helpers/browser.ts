/**
 * One place for how test suites launch a real browser (Debian's Chromium
 * driven by playwright-core, never `npx playwright install`), start the
 * stack it browses, and open a shopper's page.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Browser, type BrowserContext, chromium, type LaunchOptions, type Page } from 'playwright-core';
import { buildNext, nextDir } from '../../dev/next/storefront.ts';
import { repoRoot } from '../../dev/pg/prepare.ts';
import { type Stack, type StackOptions, startStack } from '../../dev/stack/stack.ts';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const browserLaunchOptions: LaunchOptions = {
  executablePath: CHROMIUM_PATH,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
};

export function launchBrowser(overrides: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ ...browserLaunchOptions, ...overrides });
}

/** What builds write among their sources: never a reason to rebuild. */
const BUILD_OUTPUT = /^(dist|node_modules|\.next|next-env\.d\.ts|.*\.tsbuildinfo|.*\.tgz)$/;

/** The newest modification time under `path` (build output and node_modules skipped). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => (BUILD_OUTPUT.test(f) ? 0 : newest(join(path, f)))));
}

/** Whether `marker` (a build's output) is older than any of `sources` (paths relative to the repository). */
export function isStale(marker: string, sources: string[]): boolean {
  const built = existsSync(marker) ? statSync(marker).mtimeMs : 0;
  return built < Math.max(...sources.map((s) => newest(join(repoRoot, s))));
}

/** Runs `npm run <script>` when `distDir` is older than any of `sources` (paths relative to the repository). */
export function ensureBuilt(distDir: string, sources: string[], script: string): void {
  if (!isStale(join(distDir, 'index.html'), sources)) return;
  const r = spawnSync('npm', ['run', '--silent', script], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run ${script} failed:\n${r.stdout}\n${r.stderr}`);
}

/** A browser context as a shopper in Buenos Aires has it: es-AR, a phone (390x844) unless a desktop viewport is given. */
export async function newPage(
  browser: Browser,
  opts: { viewport?: { width: number; height: number }; timeoutMs?: number } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const phone = !opts.viewport;
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 390, height: 844 },
    deviceScaleFactor: 1,
    locale: 'es-AR',
    timezoneId: 'America/Argentina/Buenos_Aires',
    isMobile: phone,
    hasTouch: phone,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs ?? 20_000);
  return { context, page };
}

/** Builds web/next (on the packed library) when a source in web/next or web/src is newer than its build. */
export async function ensureNextBuilt(): Promise<void> {
  if (!isStale(join(nextDir, '.next', 'BUILD_ID'), ['web/next', 'web/src'])) return;
  const seconds = await buildNext();
  console.log(`built web/next in ${seconds.toFixed(0)} s`);
}

/** The whole local stack on free ports, serving the built web apps, a pool on its database and a browser; stop() undoes it all. */
export interface BrowserStack {
  stack: Stack;
  db: pg.Pool;
  browser: Browser;
  stop(): Promise<void>;
}

export async function startBrowserStack(name: string, options: Omit<StackOptions, 'dataDir' | 'ports'> = {}): Promise<BrowserStack> {
  const dataDir = mkdtempSync(join(tmpdir(), `${name}-`));
  const stack = await startStack({ dataDir, ports: { api: 0, db: 0, mp: 0, mail: 0, web: 0, next: 0 }, serveStorefront: true, ...options });
  const db = new pg.Pool({ connectionString: stack.dbUrl, max: 3 });
  const browser = await launchBrowser();
  return {
    stack,
    db,
    browser,
    async stop() {
      await browser.close();
      await db.end();
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The checkout form both storefronts share (same data-testids): Ana García in CABA. */
export async function fillCheckout(page: Page): Promise<void> {
  await page.getByTestId('checkout-email').fill('ana.garcia@example.com');
  await page.getByTestId('checkout-name').fill('Ana');
  await page.getByTestId('checkout-surname').fill('García');
  await page.getByTestId('checkout-streetName').fill('Av. Corrientes');
  await page.getByTestId('checkout-streetNumber').fill('1234');
  await page.getByTestId('checkout-zipCode').fill('C1043');
  await page.getByTestId('checkout-city').fill('CABA');
}

/** A product of its own with one variant of `stock` units, as the store would list it (fresh catalog rows per test). */
export async function createProduct(
  db: pg.Pool,
  title: string,
  stock: number,
  opts: { price: number; skuPrefix: string },
): Promise<{ slug: string; sku: string }> {
  const suffix = Math.random().toString(36).slice(2, 7);
  const slug = `${title.toLowerCase().normalize('NFD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}-${suffix}`;
  const sku = `${opts.skuPrefix}-${suffix}`.toUpperCase();
  await db.query(
    `with p as (insert into public.products (slug, title, description) values ($1, $2, 'Edición de prueba.') returning id)
     insert into public.variants (product_id, sku, title, attributes, price, stock_on_hand)
     select p.id, $3, 'Único', '{"color":"natural"}', $4, $5 from p`,
    [slug, title, sku, opts.price, stock],
  );
  return { slug, sku };
}
