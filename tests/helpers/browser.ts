/**
 * One place for how test suites launch a real browser: Debian's Chromium
 * driven by playwright-core (never `npx playwright install`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type LaunchOptions } from 'playwright-core';
import { repoRoot } from '../../dev/pg/prepare.ts';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const browserLaunchOptions: LaunchOptions = {
  executablePath: CHROMIUM_PATH,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
};

export function launchBrowser(overrides: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ ...browserLaunchOptions, ...overrides });
}

/** The newest modification time under `path` (build output and node_modules skipped). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => (f === 'dist' || f === 'node_modules' ? 0 : newest(join(path, f)))));
}

/** Runs `npm run <script>` when `distDir` is older than any of `sources` (paths relative to the repository). */
export function ensureBuilt(distDir: string, sources: string[], script: string): void {
  const built = existsSync(join(distDir, 'index.html')) ? statSync(join(distDir, 'index.html')).mtimeMs : 0;
  if (built >= Math.max(...sources.map((s) => newest(join(repoRoot, s))))) return;
  const r = spawnSync('npm', ['run', '--silent', script], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run ${script} failed:\n${r.stdout}\n${r.stderr}`);
}
