// Debian's Chromium driven by playwright-core, headless, for the dashboard's tests (playwright makes a fresh profile
// for each launch). Missing, it fails loudly: the README's test command installs it (`npm run test:all`).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (npm run test:all does) or set CHROMIUM_PATH`);
  // As root in a container the sandbox cannot start; this machine's network is closed, so nothing is fetched at start.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
