// Supervisors in tests: temporary homes, fixture scripts, and waiting on status events.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dae, type DaeConfig, type StatusEvent, type Status } from '../../src/index.js';

/** Path of a compiled fixture daemon. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/daemons/${name}.js`, import.meta.url));
}

export const SAMPLE_KV = fileURLToPath(new URL('../../sample/kv.js', import.meta.url));
export const HEARTBEAT = fileURLToPath(new URL('../../sample/heartbeat.js', import.meta.url));

const homes: string[] = [];

/** A fresh private home under the temp directory (short, for unix socket paths). */
export function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'dae-'));
  homes.push(home);
  return home;
}

export function removeHomes(): void {
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
}

/** Fast settings for tests: everything short, ports from `base`. */
export function testConfig(base: number, overrides: Record<string, unknown> = {}): Partial<DaeConfig> {
  return {
    port: 0,
    portrangestart: { tcp: base, http: base + 1000, ws: base + 2000 },
    liveness: { interval: 100, misses: 3 },
    readyTimeout: 5000,
    adoptTimeout: 3000,
    sampleInterval: 100,
    // No dashboard unless a test asks for one: the default port (23555) is one per machine.
    http: null,
    ...overrides,
  } as Partial<DaeConfig>;
}

/** Resolves with the next status event of `name` that reaches `status` (and collects what came before). */
export function untilStatus(dae: Dae, name: string, status: Status, seen: StatusEvent[] = []): Promise<StatusEvent> {
  return new Promise((resolve) => {
    const listener = (event: StatusEvent): void => {
      if (event.name !== name) return;
      seen.push(event);
      if (event.to !== status) return;
      dae.off('daemon-status', listener);
      resolve(event);
    };
    dae.on('daemon-status', listener);
  });
}

/** A supervisor on a temporary home. */
export async function startDae(base: number, overrides: Record<string, unknown> = {}, home = tempHome()): Promise<Dae> {
  const dae = new Dae({ home, config: testConfig(base, overrides) });
  await dae.start();
  return dae;
}
