import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (apt-get install -y chromium); override with CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface TestBrowser {
  browser: Browser;
  /** Where screenshots go: SCREENSHOT_DIR, else `<tmp>/coord-dashboard-screenshots` (kept, overwritten each run). */
  shotsDir: string;
  /** A fresh context (own cookies) and page; `width` 390 gives a phone-width screen. */
  page(options?: { width?: number; height?: number }): Promise<{ context: BrowserContext; page: Page }>;
  /** Saves a full-page screenshot as `<name>.png` and returns its path. */
  shot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/** Launches headless Chromium (Playwright gives it a fresh temporary profile, removed on close; screenshots are kept). */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it (Debian: apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  const shotsDir = process.env.SCREENSHOT_DIR ?? join(tmpdir(), 'coord-dashboard-screenshots');
  mkdirSync(shotsDir, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    shotsDir,
    async page(options = {}) {
      const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 900 } });
      contexts.push(context);
      context.setDefaultTimeout(20_000);
      return { context, page: await context.newPage() };
    },
    async shot(page, name) {
      const path = join(shotsDir, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      // A failure here (Chromium gone) is reported by the afterAll that calls this, not dropped.
      for (const c of contexts) await c.close();
      await browser.close();
    },
  };
}
