// The dashboard at scale: the time from navigation to the first render of the daemons' table (the page's own
// `dae-table` mark: its modules loaded, the WebSocket open, events/list/samples answered, the table drawn), in Debian's
// Chromium, for a real supervisor with 500 tiny programs (`sleep`: 500 kv daemons do not fit this machine's memory),
// against the same page with 20 of them, in the same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dae } from '../src/index.js';
import { launchChromium } from '../test/helpers/browser.js';
import { median } from './lib/stats.js';
import type { SuiteOptions, SuiteResult } from './lib/report.js';

const ROUNDS = 7;
const FEW = 20;
const MANY = 500;
// Above the other suites' ranges: 500 daemons lease 1,500 ports.
const PORTS = { tcp: 40000, http: 41000, ws: 42000 };

async function installMany(dae: Dae, from: number, to: number): Promise<void> {
  const names = Array.from({ length: to - from }, (_, i) => `sleeper-${String(from + i).padStart(3, '0')}`);
  // Twenty at a time: each install writes the state durably before its spawn.
  for (let i = 0; i < names.length; i += 20) {
    await Promise.all(names.slice(i, i + 20).map(async (name) => {
      const entry = await dae.install(name, '/bin/sleep', { args: ['1000000'], ready: 'none', restart: 'never' });
      if (entry.status !== 'online') throw new Error(`${name}: ${entry.status} ${entry.reason}`);
    }));
  }
}

export async function runDashboard(options: SuiteOptions = {}): Promise<SuiteResult> {
  const log = options.log ?? (() => undefined);
  const began = Date.now();
  const home = mkdtempSync(join(tmpdir(), 'dae-bench-'));
  const dae = new Dae({ home, config: { port: 0, http: 0, portrangestart: PORTS, sampleInterval: 1000 } });
  await dae.start();
  const browser = await launchChromium();
  const url = `http://127.0.0.1:${dae.identity().ports.http}/`;
  const firstRender = async (count: number): Promise<number[]> => {
    const times: number[] = [];
    for (let round = -1; round < ROUNDS; round++) {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(url);
      await page.waitForFunction(() => performance.getEntriesByName('dae-table').length > 0, undefined, { timeout: 60_000 });
      const ms = await page.evaluate('performance.getEntriesByName("dae-table")[0].startTime') as number;
      const rows = await page.locator('.body .row').count();
      const shown = await page.locator('.counts').innerText();
      if (!shown.startsWith(`${count} copies`)) throw new Error(`the page shows ${shown}, not ${count} copies`);
      if (round === 0) log(`${count} daemons: ${rows} rows drawn of ${count}`);
      await page.close();
      if (round >= 0) times.push(Math.round(ms * 10) / 10);
    }
    return times;
  };
  let few: number[] = [];
  let many: number[] = [];
  try {
    log(`installing ${FEW} sleepers`);
    await installMany(dae, 0, FEW);
    few = await firstRender(FEW);
    log(`installing ${MANY - FEW} more`);
    await installMany(dae, FEW, MANY);
    await new Promise((resolve) => dae.once('sampled', resolve));
    many = await firstRender(MANY);
  } finally {
    await browser.close();
    await dae.stop();
    rmSync(home, { recursive: true, force: true });
  }
  return {
    suite: 'dashboard',
    baselineName: `the same page, ${FEW} daemons`,
    figures: [
      { name: `first render of the table, ${MANY} daemons, median of ${ROUNDS}`, unit: 'ms', better: 'lower', value: median(many), baseline: median(few), rounds: many, baselineRounds: few, target: { kind: 'floor', min: 1000 } },
    ],
    notes: [
      `a real supervisor (in-process Dae, its HTTP door on loopback) running ${MANY} copies of /bin/sleep (--ready none): kv daemons would not fit this machine's memory`,
      'time: navigation start to the page\'s dae-table performance mark (modules, WebSocket, events + list + samples, the first table drawn), in headless Debian Chromium driven by playwright-core; a fresh tab per round, one warm-up',
      `by round (ms): ${MANY} ${many.join(', ')} | ${FEW} ${few.join(', ')}`,
    ],
    seconds: (Date.now() - began) / 1000,
  };
}
