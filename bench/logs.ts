// Benchmark of the log path: one daemon writing numbered lines as fast as it can, through its pipes and the home's log
// process into its stamped log file, against the same program writing to a file directly (the baseline), with 100-byte
// and 4 KiB lines; the supervisor's ping latency meanwhile; and the peak disk use of the daemon's logs (sampled every
// millisecond) against the bound, maxBytes × (files + 1).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '../src/index.js';
import { parseRecord } from '../src/logs/lines.js';
import { startCliSupervisor, type CliSupervisor } from './lib/dae-cli.js';
import { startRunEnvironment } from './lib/run-env.js';
import { median, percentile, sorted } from './lib/stats.js';
import { formatNumber, formatSuite, type Figure, type SuiteResult, type SuiteOptions } from './lib/report.js';

const WRITER = fileURLToPath(new URL('./fixtures/log-writer.js', import.meta.url));
const TOTAL_BYTES = 64 * 1024 * 1024;
const ROUNDS = 5;
const LOGS = { maxBytes: 4 * 1024 * 1024, files: 3, maxLine: 64 * 1024 };
const PING_GAP_MS = 5;
// Below the ephemeral range (32768+), apart from the other suites' ports.
const PORTS = { tcp: 13600, http: 13700, ws: 13800 };

interface Round {
  /** MB/s of the program's output (its own bytes, stamps not counted). */
  mbps: number;
  pings: number[];
  peakDisk: number;
}

// The program writing straight into a file (or, `viaCat`, into a pipe that `cat` copies into the file: what any pipe
// reader can do at best): from its first write until its last was taken.
async function direct(lineBytes: number, dir: string, viaCat = false): Promise<number> {
  const path = join(dir, `direct-${lineBytes}.log`);
  const timing = join(dir, 'timing.json');
  const writer = [process.execPath, WRITER, String(lineBytes), String(linesOf(lineBytes)), timing];
  const fd = openSync(path, 'w');
  const child = viaCat
    ? spawn('/bin/sh', ['-c', '"$@" | cat', 'sh', ...writer], { stdio: ['ignore', fd, 'inherit'] })
    : spawn(writer[0]!, writer.slice(1), { stdio: ['ignore', fd, 'inherit'] });
  closeSync(fd);
  const [code] = (await once(child, 'exit')) as [number | null];
  const size = statSync(path).size;
  rmSync(path);
  if (code !== 0 || size !== linesOf(lineBytes) * lineBytes) throw new Error(`the direct writer exited ${code} having written ${size} bytes`);
  const { start, end } = JSON.parse(readFileSync(timing, 'utf8')) as { start: number; end: number };
  return size / 1e6 / ((end - start) / 1000);
}

// Lines of `lineBytes` in a round.
function linesOf(lineBytes: number): number {
  return Math.floor(TOTAL_BYTES / lineBytes);
}

// The same program under dae: from the install call until its last line is in its log (the supervisor's `logs` shows
// what the program wrote before the call); the supervisor pinged every few ms, its logs folder sampled every ms.
async function throughDae(supervisor: CliSupervisor, lineBytes: number, round: number, dir: string): Promise<Round> {
  const name = `w${lineBytes}r${round}`;
  const lines = linesOf(lineBytes);
  const last = `${String(lines - 1).padStart(9, '0')} `;
  const pinger = await Client.connect({ path: join(supervisor.home, 'run', 'dae.sock') });
  const pings: number[] = [];
  let peakDisk = 0;
  const logs = join(supervisor.home, 'logs');
  const sampler = setInterval(() => {
    let total = 0;
    for (const file of readdirSync(logs)) {
      if (!file.startsWith(`${name}.log`)) continue;
      try {
        total += statSync(join(logs, file)).size;
      } catch {
        // rotated away meanwhile
      }
    }
    peakDisk = Math.max(peakDisk, total);
  }, 1);
  let flooding = true;
  const pinging = (async () => {
    while (flooding) {
      const sent = performance.now();
      await pinger.call('ping');
      pings.push(performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, PING_GAP_MS));
    }
  })();
  const timing = join(dir, `${name}.json`);
  try {
    await supervisor.client.call('install', name, WRITER, { args: [String(lineBytes), String(lines), timing], ready: 'none', restart: 'never' });
    let stored: number;
    for (;;) {
      const newest = parseRecord(((await supervisor.client.call('logs', name, { lines: 1 })) as string[])[0] ?? '');
      if (newest !== null && newest.line.startsWith(last)) {
        stored = newest.time;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The program writes its timing once its last write was taken: maybe just after its line reached the log.
    while (!existsSync(timing)) await new Promise((resolve) => setTimeout(resolve, 10));
    const { start } = JSON.parse(readFileSync(timing, 'utf8')) as { start: number };
    return { mbps: (lines * lineBytes) / 1e6 / ((stored - start) / 1000), pings, peakDisk };
  } finally {
    flooding = false;
    clearInterval(sampler);
    await pinging;
    pinger.destroy();
    await supervisor.client.call('uninstall', name);
  }
}

export async function runLogs(options: SuiteOptions = {}): Promise<SuiteResult> {
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const load = loadavg()[0]!;
  const environment = startRunEnvironment('logs', { runtime: false });
  const dir = mkdtempSync(join(tmpdir(), 'dae-bench-logs-'));
  let supervisor: CliSupervisor | null = null;
  try {
    supervisor = await startCliSupervisor({ port: 0, portrangestart: PORTS, logs: LOGS }, WRITER);
    const figures: Figure[] = [];
    const notes: string[] = [];
    const allPings: number[] = [];
    let peakDisk = 0;
    for (const lineBytes of [100, 4096]) {
      const base: number[] = [];
      const cat: number[] = [];
      const rounds: Round[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        log(`${lineBytes}-byte lines, round ${round + 1}: direct, through cat, then through dae`);
        base.push(await direct(lineBytes, dir));
        cat.push(await direct(lineBytes, dir, true));
        rounds.push(await throughDae(supervisor, lineBytes, round, dir));
      }
      for (const round of rounds) {
        allPings.push(...round.pings);
        peakDisk = Math.max(peakDisk, round.peakDisk);
      }
      figures.push({
        name: `throughput, ${lineBytes === 100 ? '100-byte' : '4 KiB'} lines (median of ${ROUNDS})`, unit: 'MB/s', better: 'higher',
        value: median(rounds.map((r) => r.mbps)), baseline: median(base), rounds: rounds.map((r) => r.mbps), baselineRounds: base,
        target: { kind: 'ratio', min: 0.8 }, others: { 'pipe to cat': median(cat) },
      });
    }
    const pings = sorted(allPings);
    const bound = LOGS.maxBytes * (LOGS.files + 1);
    figures.push(
      { name: 'supervisor ping p99 under the flood', unit: 'ms', better: 'lower', value: percentile(pings, 99), target: { kind: 'floor', min: 50 } },
      { name: 'supervisor ping max under the flood', unit: 'ms', better: 'lower', value: percentile(pings, 100) },
      { name: 'peak disk use of one daemon\'s logs', unit: 'MiB', better: 'lower', value: peakDisk / 1048576, target: { kind: 'floor', min: bound / 1048576 } },
    );
    notes.push(
      `each round: the fixture (bench/fixtures/log-writer.ts: a Node program, one stdout.write per line, waiting on 'drain') writes ${TOTAL_BYTES / 1048576} MiB of numbered lines; timed from its first write (its own clock) until, baseline (its stdout a file): its last write was taken; dae (installed with --ready none): its last line's stamp in the log (found with \`logs\` on the control socket, polled every 10 ms); MB/s of the program's own bytes (the stored lines are longer by their 29-byte stamp); pipe to cat: the program's stdout a pipe that cat copies into a file, the most any pipe reader gives a Node program (its stdout to a pipe is an asynchronous stream, to a file a synchronous write)`,
      `logs config ${JSON.stringify(LOGS)}: bound maxBytes × (files + 1) = ${formatNumber(bound / 1048576)} MiB; the folder sampled every ms during each flood`,
      `${pings.length} pings on the supervisor's control socket, one every ${PING_GAP_MS} ms after the previous answer, during the floods`,
      `load average at start ${load.toFixed(2)} on ${availableParallelism()} cores`,
    );
    return { suite: 'logs', baselineName: 'direct to a file', others: ['pipe to cat'], figures, notes, seconds: (performance.now() - started) / 1000 };
  } finally {
    await supervisor?.stop();
    rmSync(dir, { recursive: true, force: true });
    await environment.end(log);
  }
}

// `node dist/bench/logs.js` runs this suite alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatSuite(await runLogs({ log: (line) => console.error(line) })));
}
