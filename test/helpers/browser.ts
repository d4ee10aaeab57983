/**
 * Debian's Chromium driven by playwright-core, for tests of the pages Ithaca serves. Every request that would leave
 * loopback is refused and recorded (the pages must work without internet). Screenshots go to `.build/screenshots/`.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { REPO } from "./paths.ts";

/** Where Debian's `chromium` package puts the browser (scripts/setup.sh installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = join(REPO, ".build", "screenshots");

export interface LoopbackPage {
  page: Page;
  /** URLs the page tried to reach off loopback (refused). */
  offLoopback: string[];
  close(): Promise<void>;
}

let browser: Browser | undefined;

/** A fresh page in a shared headless Chromium, confined to loopback. */
export async function loopbackPage(options: { colorScheme?: "light" | "dark" } = {}): Promise<LoopbackPage> {
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const context = await browser.newContext({
    viewport: { width: 1366, height: 900 },
    colorScheme: options.colorScheme,
  });
  const page = await context.newPage();
  const offLoopback: string[] = [];
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.protocol === "data:")
      return route.continue();
    offLoopback.push(url.href);
    return route.abort();
  });
  return { page, offLoopback, close: () => context.close() };
}

/** Saves a full-page screenshot as `.build/screenshots/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Closes the shared browser (afterAll). */
export async function closeBrowser(): Promise<void> {
  await browser?.close();
  browser = undefined;
}
