/**
 * One place for how test suites launch a real browser: Debian's Chromium
 * driven by playwright-core (never `npx playwright install`).
 */
import { type Browser, chromium, type LaunchOptions } from 'playwright-core';

export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export const browserLaunchOptions: LaunchOptions = {
  executablePath: CHROMIUM_PATH,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
};

export function launchBrowser(overrides: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ ...browserLaunchOptions, ...overrides });
}
