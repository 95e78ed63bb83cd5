// A real headless browser for the HTML report tests: Debian's chromium, driven by playwright-core.
// Installed here when missing and the test runs as root (`apt-get install -y chromium`); the test
// is skipped, saying why, only when that is impossible. Each launch gets a new empty profile and
// the flags that keep Chromium from calling home.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** The browser's path, or why there is none (after trying to install it as root). */
export function ensureChromium(): { path: string } | { skip: string } {
  if (existsSync(CHROMIUM)) return { path: CHROMIUM };
  if (process.getuid?.() !== 0)
    return { skip: `${CHROMIUM} is missing and only root can install it (apt-get install -y chromium)` };
  try {
    execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'ignore', timeout: 600_000 });
    if (!existsSync(CHROMIUM)) {
      execFileSync('apt-get', ['update'], { stdio: 'ignore', timeout: 600_000 });
      execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'ignore', timeout: 600_000 });
    }
  } catch (err) {
    return { skip: `could not install chromium with apt-get: ${(err as Error).message}` };
  }
  return existsSync(CHROMIUM) ? { path: CHROMIUM } : { skip: `apt-get installed no ${CHROMIUM}` };
}

/** A browser with a new empty profile; `close()` ends it and removes the profile. */
export async function launchBrowser(
  path: string,
): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'trueup-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: path,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** The little of the DOM the page functions below touch (the tests' TypeScript has no DOM types). */
interface PageGlobals {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    documentElement: { scrollWidth: number };
  };
  scrollTo(x: number, y: number): void;
}

/**
 * Page functions, run in the browser by playwright (passed as functions: the report's CSP forbids
 * the eval that string expressions need). Each is self-contained: only its source travels.
 */
export const inPage = {
  /** Whether the discrepancy table's info line says it is filtered, as wanted. */
  filtered: (want: boolean) =>
    ((globalThis as unknown as PageGlobals).document.getElementById('disc-info')?.textContent ?? '').includes(
      'filtered',
    ) === want,
  scrollToTop: () => (globalThis as unknown as PageGlobals).scrollTo(0, 0),
  scrollWidth: () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
};
