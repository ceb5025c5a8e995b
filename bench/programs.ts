// Any program under the supervisor: how long from the `install` call to `online` for a plain program, against a bare
// `spawn()` of the same program measured in the same run, interleaved.
//   --ready none: install → online, against spawn() → its 'spawn' event (target ≤ 1.1×);
//   --ready port: install → online, against spawn() plus a connect loop until the program accepts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dae } from '../src/index.js';
import { median } from './lib/stats.js';
import type { SuiteOptions, SuiteResult } from './lib/report.js';

const PLAIN = fileURLToPath(new URL('../test/fixtures/daemons/plain.js', import.meta.url));
const ROUNDS = 15;
// Below the ephemeral range (32768+): a client socket of the connect loop never takes the port the program binds.
const PORT_BASE = 13100;

function accepting(port: number): Promise<void> {
  return new Promise((resolve) => {
    const attempt = (): void => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => setImmediate(attempt));
    };
    attempt();
  });
}

// A bare spawn of the program: to its 'spawn' event, or (listening) until it accepts on `port`.
async function bare(port: number | null): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [PLAIN], { stdio: 'ignore', env: { ...process.env, PORT: String(port ?? 0), LISTEN: port === null ? '0' : '1' } });
  await once(child, 'spawn');
  if (port !== null) await Promise.race([accepting(port), once(child, 'exit').then(() => Promise.reject(new Error(`the program exited before it accepted on ${port}`)))]);
  const ms = performance.now() - started;
  child.kill('SIGKILL');
  await once(child, 'exit');
  return ms;
}

async function installed(dae: Dae, name: string, ready: 'none' | 'port'): Promise<number> {
  const started = performance.now();
  const entry = await dae.install(name, PLAIN, { ready, env: { LISTEN: ready === 'port' ? '1' : '0' } });
  const ms = performance.now() - started;
  if (entry.status !== 'online') throw new Error(`${name} did not come online: ${entry.reason}`);
  await dae.uninstall(name);
  return ms;
}

export async function runPrograms(options: SuiteOptions = {}): Promise<SuiteResult> {
  const log = options.log ?? (() => undefined);
  const began = Date.now();
  const home = mkdtempSync(join(tmpdir(), 'dae-bench-'));
  const dae = new Dae({ home, config: { port: 0, http: null, portrangestart: { tcp: PORT_BASE, http: PORT_BASE + 100, ws: PORT_BASE + 200 } } });
  await dae.start();
  const times = { none: [] as number[], bareSpawn: [] as number[], port: [] as number[], bareConnect: [] as number[] };
  try {
    log(`${ROUNDS} rounds of: bare spawn, install --ready none, bare spawn + connect loop, install --ready port (one warm-up)`);
    for (let round = -1; round < ROUNDS; round++) {
      const spawned = await bare(null);
      const none = await installed(dae, `none${round}`, 'none');
      const connected = await bare(PORT_BASE + 300);
      const port = await installed(dae, `port${round}`, 'port');
      if (round < 0) continue;
      times.bareSpawn.push(spawned);
      times.none.push(none);
      times.bareConnect.push(connected);
      times.port.push(port);
    }
  } finally {
    await dae.stop();
    rmSync(home, { recursive: true, force: true });
  }
  const round = (values: number[]): number[] => values.map((value) => Math.round(value * 100) / 100);
  return {
    suite: 'programs',
    baselineName: 'bare spawn',
    figures: [
      {
        name: `install --ready none → online, median of ${ROUNDS}`, unit: 'ms', better: 'lower', value: median(times.none), baseline: median(times.bareSpawn),
        target: { kind: 'ratio', min: 1.1 }, rounds: round(times.none), baselineRounds: round(times.bareSpawn),
      },
      {
        name: `install --ready port → online, median of ${ROUNDS}`, unit: 'ms', better: 'lower', value: median(times.port), baseline: median(times.bareConnect),
        rounds: round(times.port), baselineRounds: round(times.bareConnect),
      },
    ],
    notes: [
      'baseline: --ready none → a bare spawn() of the same plain Node program to its \'spawn\' event; --ready port → the same plus back-to-back connects until it accepts',
      'dae: an in-process Dae (the library): the install call (name check, three port leases, the state written durably before the spawn, the spawn) until it resolves online; the daemon is uninstalled after each round; interleaved with the bare runs',
      `by round (ms): none ${round(times.none).join(', ')} | bare spawn ${round(times.bareSpawn).join(', ')} | port ${round(times.port).join(', ')} | bare + connect ${round(times.bareConnect).join(', ')}`,
    ],
    seconds: (Date.now() - began) / 1000,
  };
}
