// Benchmark of the supervisor: dae against a minimal respawn-on-exit supervisor, bare spawns and PM2, all running
// the same fixture daemon (bench/fixtures/tcp-daemon.ts): restart after kill -9, 50 daemons online, memory, `list`.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Dae, type ListEntry } from '../src/index.js';
import { askPid, untilAccepting, untilAllAccepting, untilAnsweredByAnother } from './lib/accept.js';
import { startCliSupervisor, type CliSupervisor } from './lib/dae-cli.js';
import { startPm2, type Pm2 } from './lib/pm2.js';
import { commandLine, describeTree, parentPid, rssMiB, rssPartsMiB } from './lib/procfs.js';
import { startRunEnvironment } from './lib/run-env.js';
import { formatNumber, formatSuite, type Figure, type SuiteResult } from './lib/report.js';
import { median, percentile, sorted } from './lib/stats.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/tcp-daemon.js', import.meta.url));
const BARE_LISTENER = fileURLToPath(new URL('./fixtures/bare-listener.js', import.meta.url));
const LIBRARY_LISTENER = fileURLToPath(new URL('./fixtures/library-listener.js', import.meta.url));
const MINIMAL = fileURLToPath(new URL('./fixtures/minimal-supervisor.js', import.meta.url));

// Every port below the ephemeral range (32768 up), within 18000–19999; each supervisor instance its own sub-range.
const PORTS = {
  /** The CLI supervisor for restarts and the fleet: up to 100 leases per protocol. */
  daeMain: { tcp: 18000, http: 18100, ws: 18200 },
  /** The CLI supervisor for memory and `dae list`, then the in-process Dae adopting its daemons: up to 200 each. */
  daeMemory: { tcp: 18300, http: 18500, ws: 18700 },
  bareFleet: 19000,
  pm2Fleet: 19100,
  pm2Restart: 19200,
  minimalRestart: 19300,
} as const;
const MAX_FLEET = 99;
const MAX_LISTED = 200;

const RESTART_DEADLINE_MS = 30_000;
const FLEET_DEADLINE_MS = 60_000;
// Between two kills: the new run finishes starting (ready report, first GC) before the next kill.
const SETTLE_MS = 150;
// Fifty node startups at once on two cores take seconds: dae's ready timeout (10 s by default) must not be measured.
const READY_TIMEOUT_MS = 60_000;
const MEMORY_SETTLE_MS = 2000;
const MEMORY_READS = 5;

export type Kind = 'minimal' | 'dae' | 'pm2';

export interface SupervisorBenchOptions {
  /** Measured kills per supervisor (default 20), after `warmupKills` (default 1). */
  kills?: number;
  warmupKills?: number;
  /** Daemons brought online at once (default 50), in `fleetRounds` interleaved rounds (default 3). */
  fleet?: number;
  fleetRounds?: number;
  /** Daemons installed for the memory and `list` figures (default 100). */
  listed?: number;
  /** Timed `dae.list()` calls (default 2000) and `dae list --json` runs (default 10). */
  listCalls?: number;
  cliRuns?: number;
  /** Progress lines go here (default: nowhere). */
  log?: (line: string) => void;
}

// The last `lines` lines of a text file (empty when it cannot be read).
function tail(path: string, lines: number): string[] {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines);
  } catch {
    return [];
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function count(option: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${option} must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

// Polls `check` every few ms until it is true; rejects with `what` at the deadline.
async function until(what: string, deadlineMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() >= end) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await sleep(10);
  }
}

// Several reads a little apart; their median (RSS moves with GC and timers).
async function steadyRss(pid: number): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < MEMORY_READS; i++) {
    if (i > 0) await sleep(200);
    reads.push(rssMiB(pid));
  }
  return median(reads);
}

// ---- processes of the bench's own ---------------------------------------------------------------------

// Resolves with the first stdout line of `child` matching `pattern`; rejects on exit or at the deadline.
function lineFrom(child: ChildProcess, pattern: RegExp, deadlineMs: number, label: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const done = (error: Error | null, line = ''): void => {
      clearTimeout(timer);
      lines.close();
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(line);
    };
    const onExit = (code: number | null, signal: string | null): void => done(new Error(`${label} exited (code ${code}, signal ${signal})`));
    const timer = setTimeout(() => done(new Error(`${label}: no line matching ${pattern} within ${deadlineMs} ms`)), deadlineMs);
    lines.on('line', (line) => {
      if (pattern.test(line)) done(null, line);
    });
    child.once('exit', onExit);
  });
}

// SIGTERM, SIGKILL after a grace period; resolves once every child has exited.
async function stopChildren(children: readonly ChildProcess[], graceMs = 3000): Promise<void> {
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(killer);
  }));
}

function spawnFixture(port: number, label: string): ChildProcess {
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, DAE_TCP_PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  child.once('error', (error) => process.stderr.write(`[${label}] ${error.message}\n`));
  return child;
}

// ---- restart after kill -9 ----------------------------------------------------------------------------

interface Kill {
  ms: number;
  refused: number;
  reset: number;
  longestWait: number;
}

// SIGKILLs the fixture on `port`; the time until a new run answers a call, with what a client calling in a tight loop
// met on the way (refusals, resets, its longest wait).
async function killAndWait(port: number): Promise<Kill> {
  const pid = await askPid(port);
  const started = performance.now();
  process.kill(pid, 'SIGKILL');
  const answered = await untilAnsweredByAnother(port, pid, RESTART_DEADLINE_MS).catch((error: Error) => {
    throw new Error(`${error.message}; the killed pid ${pid}: ${describeTree(pid).join(' / ')}`, { cause: error });
  });
  return { ms: answered.at - started, refused: answered.refused, reset: answered.reset, longestWait: answered.longestWait };
}

// ---- 50 daemons online --------------------------------------------------------------------------------

// Bare: spawn every fixture at once; each prints its ready line once it listens, and one connect confirms it.
async function bareFleet(size: number): Promise<number> {
  const children: ChildProcess[] = [];
  try {
    const started = performance.now();
    const ready: Promise<string>[] = [];
    for (let i = 0; i < size; i++) {
      const child = spawnFixture(PORTS.bareFleet + i, `bare ${i}`);
      children.push(child);
      ready.push(lineFrom(child, / ready: /, FLEET_DEADLINE_MS, `bare fixture ${i}`));
    }
    await Promise.all(ready);
    const ms = performance.now() - started;
    await Promise.all(children.map((_, i) => untilAccepting(PORTS.bareFleet + i, 1000)));
    return ms;
  } finally {
    await stopChildren(children);
  }
}

// dae: `install` every fixture at once over the control socket; each reply comes once that daemon is online.
async function daeFleet(supervisor: CliSupervisor, size: number): Promise<number> {
  const names = Array.from({ length: size }, (_, i) => `fleet-${i}`);
  try {
    const started = performance.now();
    const entries = (await Promise.all(names.map((name) => supervisor.client.call('install', name, FIXTURE, {})))) as ListEntry[];
    const ms = performance.now() - started;
    const offline = entries.filter((entry) => entry.status !== 'online');
    if (offline.length > 0) throw new Error(`dae: ${offline.length} daemons not online: ${JSON.stringify(offline[0])}`);
    // A check, not measured: fifty fresh processes still settling on two cores can keep this one from seeing a connect
    // complete within an attempt's 100 ms, so the deadline is generous.
    await untilAllAccepting(entries.map((entry) => entry.ports.tcp!), 10_000);
    return ms;
  } finally {
    await Promise.all(names.map((name) => supervisor.client.call('uninstall', name).catch(() => undefined)));
  }
}

// PM2: start every app as one ecosystem, then wait until each port accepts.
async function pm2Fleet(pm2: Pm2, size: number, atPeak: () => Promise<void>): Promise<number> {
  const apps = Array.from({ length: size }, (_, i) => ({ name: `fleet-${i}`, script: FIXTURE, env: { DAE_TCP_PORT: String(PORTS.pm2Fleet + i) } }));
  try {
    const started = performance.now();
    await pm2.start(apps);
    const ms = (await untilAllAccepting(apps.map((_, i) => PORTS.pm2Fleet + i), FLEET_DEADLINE_MS, 20)) - started;
    await atPeak();
    return ms;
  } finally {
    await pm2.remove(apps.map((app) => app.name)).catch(() => undefined);
  }
}

// ---- list ---------------------------------------------------------------------------------------------

// Installs `size` daemons, `concurrency` at a time (a hundred node startups at once on two cores would outlast any
// ready timeout); every one must come online.
async function installAll(install: (name: string) => Promise<unknown>, size: number, concurrency = 8): Promise<ListEntry[]> {
  const entries: ListEntry[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, size) }, async () => {
    for (let i = next++; i < size; i = next++) entries[i] = (await install(`listed-${i}`)) as ListEntry;
  }));
  const offline = entries.filter((entry) => entry.status !== 'online');
  if (offline.length > 0) throw new Error(`${offline.length} of ${size} daemons not online: ${JSON.stringify(offline[0])}`);
  return entries;
}

// `list()` of an in-process Dae that adopted `size` running daemons on `home`: each call timed (ms), sorted.
async function libraryList(home: string, config: Record<string, unknown>, size: number, calls: number): Promise<Float64Array> {
  const dae = new Dae({ home, config });
  try {
    await dae.start();
    await until(`the in-process Dae adopting ${size} daemons`, 30_000, () => dae.list().filter((entry) => entry.status === 'online').length === size);
    for (let i = 0; i < 200; i++) if (dae.list().length !== size) throw new Error('dae.list() lost daemons');
    const times = new Float64Array(calls);
    for (let i = 0; i < calls; i++) {
      const started = performance.now();
      dae.list();
      times[i] = performance.now() - started;
    }
    return sorted(times);
  } finally {
    await dae.stop();
  }
}

// ---- the suite ----------------------------------------------------------------------------------------

// What every phase shares: progress, notes for the report, and cleanup steps (run last to first).
interface Run {
  log(line: string): void;
  notes: string[];
  cleanups: (() => Promise<unknown>)[];
}

interface Restarts {
  kills: Record<Kind, Kill[]>;
  main: CliSupervisor;
  pm2: Pm2;
  pm2IdleRss: number;
}

// The minimal supervisor, a CLI dae supervisor and PM2, one fixture each, killed in turn `warmup + kills` times.
async function restartPhase(run: Run, kills: number, warmup: number): Promise<Restarts> {
  run.log('starting the minimal supervisor, a dae supervisor (CLI) and PM2');
  const minimal = spawn(process.execPath, [MINIMAL, FIXTURE], { env: { ...process.env, DAE_TCP_PORT: String(PORTS.minimalRestart) }, stdio: ['pipe', 'ignore', 'inherit'] });
  run.cleanups.push(() => stopChildren([minimal]));
  const config = { port: 0, portrangestart: PORTS.daeMain, readyTimeout: READY_TIMEOUT_MS, restart: { backoffBase: 0, minUptime: 100 } };
  const main = await startCliSupervisor(config, FIXTURE);
  run.cleanups.push(() => main.stop());
  const pm2 = await startPm2();
  run.cleanups.push(() => pm2.close());
  const pm2IdleRss = await steadyRss(pm2.daemonPid);
  const restarted = (await main.client.call('install', 'restarted', FIXTURE, {})) as ListEntry;
  if (restarted.status !== 'online') throw new Error(`dae: the restart daemon is ${restarted.status}: ${restarted.reason}`);
  await pm2.start([{ name: 'restarted', script: FIXTURE, env: { DAE_TCP_PORT: String(PORTS.pm2Restart) } }]);
  const ports: Record<Kind, number> = { minimal: PORTS.minimalRestart, dae: restarted.ports.tcp!, pm2: PORTS.pm2Restart };
  for (const port of Object.values(ports)) await untilAccepting(port, RESTART_DEADLINE_MS);

  // Who runs the daemon: dae spawns `node <script>` itself, with nothing between.
  const daePid = await askPid(ports.dae);
  const daeArgv = commandLine(daePid);
  const unwrapped = parentPid(daePid) === main.pid && daeArgv.length === 2 && daeArgv[1] === FIXTURE;
  run.notes.push(`dae daemon pid ${daePid}: parent ${parentPid(daePid)} (supervisor ${main.pid}), argv ${JSON.stringify(daeArgv)}: ${unwrapped ? 'nothing wraps it' : 'WRAPPED or re-parented'}`);
  const pm2Pid = await askPid(ports.pm2);
  run.notes.push(`PM2 app pid ${pm2Pid}: parent ${parentPid(pm2Pid)} (PM2 daemon ${pm2.daemonPid}), argv ${JSON.stringify(commandLine(pm2Pid))} (a process.title set by PM2's ProcessContainerFork.js, which loads the script)`);

  // Failures say what the supervisor saw, and what runs under it.
  const supervisors: Record<Kind, number> = { minimal: minimal.pid!, dae: main.pid, pm2: pm2.daemonPid };
  const explain = async (kind: Kind, error: Error): Promise<never> => {
    const seen = [`processes: ${describeTree(supervisors[kind]).join(' / ')}`];
    if (kind === 'dae') {
      seen.push(`dae says ${JSON.stringify(await main.client.call('info', 'restarted').catch(String))}`);
      seen.push(`dae.log ends ${JSON.stringify(tail(join(main.home, 'dae.log'), 8))}`, `its log ends ${JSON.stringify(tail(join(main.home, 'logs', 'restarted.log'), 8))}`);
    }
    if (kind === 'pm2') seen.push(`PM2's log of the app ends ${JSON.stringify(tail(join(pm2.home, 'logs', 'restarted-error.log'), 8))}`);
    throw new Error(`${kind}: ${error.message}; ${seen.join('; ')}`, { cause: error });
  };
  const settle = async (kind: Kind): Promise<void> => {
    if (kind === 'dae') await until('dae: restarted online again', RESTART_DEADLINE_MS, async () => ((await main.client.call('info', 'restarted')) as ListEntry).status === 'online');
    await sleep(SETTLE_MS);
  };
  run.log(`kill -9: ${warmup} warm-up + ${kills} kills per supervisor, interleaved`);
  const kinds: Kind[] = ['minimal', 'dae', 'pm2'];
  const measured: Record<Kind, Kill[]> = { minimal: [], dae: [], pm2: [] };
  for (let round = 0; round < warmup + kills; round++) {
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[(round + i) % kinds.length]!;
      const kill = await killAndWait(ports[kind]).catch((error: Error) => explain(kind, error));
      if (round >= warmup) measured[kind].push(kill);
      await settle(kind);
    }
  }
  const counted = ((await main.client.call('info', 'restarted')) as ListEntry).restarts;
  if (counted !== warmup + kills) run.notes.push(`WARNING: dae counted ${counted} restarts of the killed daemon, expected ${warmup + kills}`);
  await stopChildren([minimal]);
  return { kills: measured, main, pm2, pm2IdleRss };
}

interface Fleets {
  ms: Record<'bare' | 'dae' | 'pm2', number[]>;
  pm2Rss: number;
}

// `size` daemons brought online at once, `rounds` times, bare spawns, dae and PM2 interleaved.
async function fleetPhase(run: Run, main: CliSupervisor, pm2: Pm2, size: number, rounds: number): Promise<Fleets> {
  run.log(`${size} daemons online: ${rounds} rounds of bare spawns, dae install and PM2 start, interleaved`);
  const ms: Fleets['ms'] = { bare: [], dae: [], pm2: [] };
  let pm2Rss = NaN;
  for (let round = 0; round < rounds; round++) {
    const last = round === rounds - 1;
    const order = (['bare', 'dae', 'pm2'] as const).map((_, i, all) => all[(round + i) % all.length]!);
    for (const kind of order) {
      if (kind === 'bare') ms.bare.push(await bareFleet(size));
      else if (kind === 'dae') ms.dae.push(await daeFleet(main, size));
      else ms.pm2.push(await pm2Fleet(pm2, size, last ? async () => void (pm2Rss = await steadyRss(pm2.daemonPid)) : async () => {}));
      run.log(`  ${kind}: ${formatNumber(ms[kind].at(-1)!)} ms`);
    }
  }
  return { ms, pm2Rss };
}

interface Memory {
  idle: number;
  full: number;
  bare: number;
  library: number;
  cliMs: number[];
  nodeMs: number[];
  listMs: Float64Array;
}

// A fresh CLI supervisor: idle RSS against two listeners, then `size` daemons: RSS, `dae list --json`; then an
// in-process Dae adopts those daemons (`kill --keep-daemons`) and `list()` is timed.
async function memoryPhase(run: Run, size: number, cliRuns: number, listCalls: number): Promise<Memory> {
  run.log(`memory: idle supervisor, bare listener and library listener, then ${size} daemons`);
  const listeners = [BARE_LISTENER, LIBRARY_LISTENER].map((script) => spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] }));
  run.cleanups.push(() => stopChildren(listeners));
  const [bareListener, libraryListener] = listeners as [ChildProcess, ChildProcess];
  await Promise.all(listeners.map((listener) => lineFrom(listener, /^\{"port":\d+\}$/, 10_000, 'listener')));
  const config = { port: 0, portrangestart: PORTS.daeMemory, readyTimeout: READY_TIMEOUT_MS };
  const supervisor = await startCliSupervisor(config, FIXTURE);
  run.cleanups.push(() => supervisor.stop());
  await sleep(MEMORY_SETTLE_MS);
  const [idle, bare, library] = await Promise.all([steadyRss(supervisor.pid), steadyRss(bareListener.pid!), steadyRss(libraryListener.pid!)]);
  const parts = (pid: number): string => {
    const { anon, file } = rssPartsMiB(pid);
    return `anon ${formatNumber(anon)} + file ${formatNumber(file)}`;
  };
  run.notes.push(`idle RSS split (MiB): supervisor ${parts(supervisor.pid)}, library listener ${parts(libraryListener.pid!)}, bare listener ${parts(bareListener.pid!)} (file pages are mostly the node binary, shared between processes)`);
  await stopChildren(listeners);

  const installing = performance.now();
  const entries = await installAll((name) => supervisor.client.call('install', name, FIXTURE, {}), size);
  run.log(`  ${size} installed in ${formatNumber(performance.now() - installing)} ms`);
  const direct = entries.filter((entry) => {
    const argv = commandLine(entry.pid!);
    return parentPid(entry.pid!) === supervisor.pid && argv.length === 2 && argv[0] === process.execPath && argv[1] === FIXTURE;
  }).length;
  run.notes.push(`${direct}/${size} daemons of the memory supervisor are its own children with argv [node, fixture]`);
  await sleep(MEMORY_SETTLE_MS);
  const full = await steadyRss(supervisor.pid);

  run.log(`dae list --json with ${size} daemons: ${cliRuns} runs, against \`node -e ""\``);
  const cliMs: number[] = [];
  const nodeMs: number[] = [];
  await supervisor.cli(['list', '--json']);
  for (let i = 0; i < cliRuns; i++) {
    const cli = await supervisor.cli(['list', '--json']);
    const listed = (JSON.parse(cli.stdout) as unknown[]).length;
    if (cli.code !== 0 || listed !== size) throw new Error(`dae list --json: code ${cli.code}, ${listed} entries: ${cli.stderr}`);
    cliMs.push(cli.ms);
    const empty = performance.now();
    await once(spawn(process.execPath, ['-e', ''], { stdio: 'ignore' }), 'exit');
    nodeMs.push(performance.now() - empty);
  }

  run.log(`library list(): an in-process Dae adopts the ${size} daemons (kill --keep-daemons), ${listCalls} calls`);
  await supervisor.release();
  const listMs = await libraryList(supervisor.home, config, size, listCalls);
  await supervisor.stop();
  return { idle, full, bare, library, cliMs, nodeMs, listMs };
}

/** Runs the supervisor suite: every figure in one run, dae against the minimal supervisor, bare spawns and PM2. */
export async function runSupervisor(options: SupervisorBenchOptions = {}): Promise<SuiteResult> {
  const kills = count('kills', options.kills, 20);
  const warmup = options.warmupKills ?? 1;
  const fleet = count('fleet', options.fleet, 50, MAX_FLEET);
  const fleetRounds = count('fleetRounds', options.fleetRounds, 3);
  const listed = count('listed', options.listed, 100, MAX_LISTED);
  const listCalls = count('listCalls', options.listCalls, 2000);
  const cliRuns = count('cliRuns', options.cliRuns, 10);
  const started = performance.now();
  const load = loadavg()[0] ?? NaN;
  const run: Run = {
    log: (line) => options.log?.(`${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`),
    notes: [],
    cleanups: [],
  };

  // Fixtures outside dae put their unix socket door in the run's runtime folder (dae gives its daemons its home's).
  const environment = startRunEnvironment('supervisor', { runtime: true });

  try {
    const restarts = await restartPhase(run, kills, warmup);
    const fleets = await fleetPhase(run, restarts.main, restarts.pm2, fleet, fleetRounds);
    await restarts.main.stop();
    await restarts.pm2.close();
    const memory = await memoryPhase(run, listed, cliRuns, listCalls);

    const restartMs = (kind: Kind): number[] => restarts.kills[kind].map((kill) => kill.ms);
    const at = (kind: Kind, p: number): number => (p === 50 ? median(restartMs(kind)) : percentile(sorted(restartMs(kind)), p));
    const restartFigure = (label: string, p: number, target?: Figure['target']): Figure => ({
      name: `kill -9 → a new run answers, ${label} of ${kills}`, unit: 'ms', better: 'lower',
      value: at('dae', p), baseline: at('minimal', p), others: { PM2: at('pm2', p) },
      rounds: restartMs('dae'), baselineRounds: restartMs('minimal'),
      ...(target === undefined ? {} : { target }),
    });
    const total = (kind: Kind, pick: (kill: Kill) => number): number => restarts.kills[kind].reduce((sum, kill) => sum + pick(kill), 0);
    const longest = (kind: Kind): number => Math.max(...restarts.kills[kind].map((kill) => kill.longestWait));
    const { ms: online } = fleets;
    const figures: Figure[] = [
      restartFigure('median', 50, { kind: 'ratio', min: 1.1 }),
      restartFigure('p90', 90),
      {
        name: `connections refused during ${kills} kill -9 restarts`, unit: 'refused', better: 'lower',
        value: total('dae', (kill) => kill.refused), baseline: total('minimal', (kill) => kill.refused), others: { PM2: total('pm2', (kill) => kill.refused) },
      },
      {
        name: `longest wait of one call across ${kills} kill -9 restarts`, unit: 'ms', better: 'lower',
        value: longest('dae'), baseline: longest('minimal'), others: { PM2: longest('pm2') },
      },
      {
        name: `${fleet} daemons online, median of ${fleetRounds}`, unit: 'ms', better: 'lower',
        value: median(online.dae), baseline: median(online.bare), others: { PM2: median(online.pm2) },
        rounds: online.dae, baselineRounds: online.bare, target: { kind: 'ratio', min: 1.2 },
      },
      {
        name: 'idle supervisor RSS', unit: 'MiB', better: 'lower',
        value: memory.idle, baseline: memory.bare, others: { PM2: restarts.pm2IdleRss }, target: { kind: 'delta', min: 8 },
      },
      {
        name: `RSS per daemon (${listed} installed)`, unit: 'MiB', better: 'lower',
        value: (memory.full - memory.idle) / listed, others: { PM2: (fleets.pm2Rss - restarts.pm2IdleRss) / (fleet + 1) }, target: { kind: 'floor', min: 0.2 },
      },
      { name: `list of ${listed}, library p50`, unit: 'ms', better: 'lower', value: percentile(memory.listMs, 50), target: { kind: 'floor', min: 5 } },
      { name: `list of ${listed}, library p99`, unit: 'ms', better: 'lower', value: percentile(memory.listMs, 99), target: { kind: 'floor', min: 5 } },
      {
        name: `dae list --json (${listed}), CLI median of ${cliRuns}`, unit: 'ms', better: 'lower',
        value: median(memory.cliMs), baseline: median(memory.nodeMs), rounds: memory.cliMs, baselineRounds: memory.nodeMs,
      },
    ];
    const list = (values: readonly number[]): string => values.map(formatNumber).join(', ');
    const notes = [
      `baseline: kill -9 → the minimal supervisor (spawn + respawn on exit, bench/fixtures/minimal-supervisor.ts); online → ${fleet} bare \`node fixture\` spawns; idle RSS → a bare \`net.createServer().listen(0)\` process; CLI → \`node -e ""\``,
      `kill -9: from just before process.kill(pid, SIGKILL) until a \`pid\` call on a fresh connection is answered by a new run, calls back to back on fresh connections (no sleeps); refused = ECONNREFUSED on the way (dae holds the listening socket, so a connect waits in the backlog instead), reset = connections the killed run had accepted (dae ${total('dae', (kill) => kill.reset)}, minimal ${total('minimal', (kill) => kill.reset)}, PM2 ${total('pm2', (kill) => kill.reset)}); longest wait = the slowest answered call; dae: restart.backoffBase 0, minUptime 100 ms; PM2: restart_delay 0, autorestart; interleaved, ${SETTLE_MS} ms settle after each (dae: once online again)`,
      `kill -9 by kill (ms): dae ${list(restartMs('dae'))} | minimal ${list(restartMs('minimal'))} | PM2 ${list(restartMs('pm2'))}`,
      `online: dae = every install reply (status online, after the ready report; readyTimeout ${READY_TIMEOUT_MS / 1000} s), bare = every child's ready line (printed once it listens) then a confirming connect, PM2 = start of one ${fleet}-app ecosystem until every port accepts (swept every 20 ms); dae leases each daemon a TCP, HTTP and WebSocket port, so under dae the fixture opens those two doors too before it reports ready; by round: dae ${list(online.dae)} | bare ${list(online.bare)} | PM2 ${list(online.pm2)}`,
      `memory: VmRSS, median of ${MEMORY_READS} reads after ${MEMORY_SETTLE_MS} ms settling; dae supervisor started by \`dae start\` (own process): idle ${formatNumber(memory.idle)} MiB, with ${listed} daemons ${formatNumber(memory.full)} MiB; bare listener ${formatNumber(memory.bare)} MiB, the same after importing the dae library ${formatNumber(memory.library)} MiB (+${formatNumber(memory.library - memory.bare)} MiB for the import alone, against the supervisor's +${formatNumber(memory.idle - memory.bare)} MiB); PM2 daemon idle ${formatNumber(restarts.pm2IdleRss)} MiB, with ${fleet + 1} apps ${formatNumber(fleets.pm2Rss)} MiB (PM2's per-daemon figure is per app of those)`,
      `list: dae.list() of an in-process Dae that adopted the ${listed} daemons, ${listCalls} calls after 200 warm-up; CLI: wall time of \`node dist/src/cli/main.js list --json\` (1 warm-up run), by run ${list(memory.cliMs)}`,
      ...run.notes,
      `load average at start ${load.toFixed(2)} on ${availableParallelism()} cores: other work on the machine slows runs unevenly`,
    ];
    return { suite: 'supervisor', baselineName: 'minimal/bare', others: ['PM2'], figures, notes, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const step of run.cleanups.reverse()) await step().catch((error: unknown) => run.log(`cleanup: ${(error as Error).message}`));
    await environment.end(run.log);
  }
}

// `node dist/bench/supervisor.js` runs this suite alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatSuite(await runSupervisor({ log: (line) => console.error(line) })));
}
