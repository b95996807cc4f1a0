/// <reference lib="dom" />
// Functions passed to page.evaluate run in the browser: they need the DOM types.
/**
 * Headless Chromium for the dashboard tests: Debian's `chromium` package driven by puppeteer-core
 * (no browser download), the dashboard bundle built once per test process, screenshots under
 * test-artifacts/ui (gitignored).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SCREENSHOT_DIR = join(ROOT, 'test-artifacts/ui');
/** Where the API serves the built dashboard from by default. */
export const UI_DIST = join(ROOT, 'apps/ui/dist/public');

/**
 * Builds apps/ui (esbuild, about a second) so the test serves the current sources: into UI_DIST,
 * or into `outDir` (served with buildApp's `uiDir`) where another test file may build at once.
 */
export function buildUi(outDir?: string): void {
  execFileSync(
    process.execPath,
    [join(ROOT, 'apps/ui/build.mjs'), ...(outDir !== undefined ? [outDir] : [])],
    { stdio: 'inherit' },
  );
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: install Debian's chromium (scripts/install-system-deps.sh)`,
    );
  }
  return puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // --no-sandbox: the tests run as root in CI containers, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/** A page that already holds the API key in sessionStorage (as if the user had entered it). */
export async function pageWithKey(browser: Browser, apiKey: string): Promise<Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.evaluateOnNewDocument((key: string) => {
    sessionStorage.setItem('setrain.apiKey', key);
  }, apiKey);
  return page;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
