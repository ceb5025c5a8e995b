// What a benchmark run sets in its own environment: a marker variable every process it starts inherits (dae passes it
// on to its daemons, PM2 to its apps), so the last sweep finds whatever a failed step left behind; and, for fixtures
// outside dae, a runtime folder of their own for their unix socket door.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllWithEnv } from './procfs.js';

export interface RunEnvironment {
  /** `NAME=value`, as the processes of this run carry it. */
  readonly marker: string;
  /** Kills every process still carrying the marker (logging how many), then restores the environment. */
  end(log: (line: string) => void): Promise<void>;
}

/** Sets `BENCH_<suite>_RUN` (and `DAE_RUNTIME_DIR` to a fresh folder when `runtime`) for the run. */
export function startRunEnvironment(suite: string, options: { runtime: boolean }): RunEnvironment {
  const name = `BENCH_${suite.toUpperCase()}_RUN`;
  const value = randomBytes(8).toString('hex');
  process.env[name] = value;
  const runtimeBefore = process.env.DAE_RUNTIME_DIR;
  const runtimeDir = options.runtime ? mkdtempSync(join(tmpdir(), 'dae-bench-run-')) : null;
  if (runtimeDir !== null) process.env.DAE_RUNTIME_DIR = runtimeDir;
  const marker = `${name}=${value}`;
  return {
    marker,
    end: async (log) => {
      const left = await killAllWithEnv(marker).catch((error: Error) => {
        log(`cleanup: ${error.message}`);
        return -1;
      });
      if (left !== 0) log(`cleanup: ${left === -1 ? 'some' : left} leftover process(es) had to be killed`);
      delete process.env[name];
      if (runtimeDir === null) return;
      if (runtimeBefore === undefined) delete process.env.DAE_RUNTIME_DIR;
      else process.env.DAE_RUNTIME_DIR = runtimeBefore;
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}
