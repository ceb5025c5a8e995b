// Benchmark of the Common TCP core: a dae daemon against a minimal `net` server answering the same command,
// each in its own process, both driven by the same raw load generator (bench/lib/raw-load.ts).
import { createServer, type Socket } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Daemon } from '../src/index.js';
import { spawnServer, reportReady, type ServerChild } from './lib/child.js';
import { closeRaw, exchange, openRaw, pipelined, sequential } from './lib/raw-load.js';
import { formatNumber, formatSuite, type Figure, type SuiteResult, type Target } from './lib/report.js';
import { aggregate, percentile, rate, sorted, type Aggregate } from './lib/stats.js';

const REQUEST = Buffer.from('get ["a"]\n');
// Both servers must answer exactly this, or the comparison means nothing.
const PROBE = 'get ["a"]\nget ["missing"]\n';
const PROBE_REPLY = 'get [1]\nget [null]\n';

export type ServerKind = 'dae' | 'baseline';

export interface CommonTcpOptions {
  /** Measured rounds per figure and server, interleaved (default 3). */
  rounds?: number;
  /** How rounds sum up (default `best`: on a shared machine, noise only ever slows a run down). */
  aggregate?: Aggregate;
  sequentialCalls?: number;
  pipelinedCalls?: number;
  connections?: number;
  callsPerConnection?: number;
  /** Extra node flags for the server children (e.g. `--cpu-prof`). */
  serverExecArgv?: readonly string[];
  /** Progress lines go here (default: nowhere). */
  log?: (line: string) => void;
}

// ---- the two servers ---------------------------------------------------------------------------------

class BenchKv extends Daemon {
  override name = 'bench-kv';
  readonly #data = new Map<string, unknown>([['a', 1]]);
  commands = {
    get: (key: string) => this.#data.get(key) ?? null,
  };
}

async function serveDae(): Promise<void> {
  const daemon = new BenchKv({ env: {} });
  await daemon.start();
  reportReady(daemon.port, () => daemon.stop());
}

// The baseline: split on "\n", JSON.parse, a Map lookup, one write per reply. Deliberately nothing more.
async function serveBaseline(): Promise<void> {
  const data = new Map<string, unknown>([['a', 1]]);
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    let rest = '';
    socket.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const space = line.indexOf(' ');
        const name = space === -1 ? line : line.slice(0, space);
        let args: unknown[];
        try {
          args = space === -1 ? [] : (JSON.parse(line.slice(space + 1)) as unknown[]);
        } catch {
          socket.write('error [{"code":"ERR_BAD_ARGS","message":"not JSON"}]\n');
          continue;
        }
        if (name === 'get') socket.write(`get [${JSON.stringify(data.get(String(args[0])) ?? null)}]\n`);
        else socket.write(`error [{"code":"ERR_UNKNOWN_COMMAND","message":"unknown command"}]\n`);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const { port } = server.address() as { port: number };
  reportReady(port, async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

// ---- measurements (in the bench process) -------------------------------------------------------------

interface Run {
  callsPerSecond: number;
  /** Latency percentiles (µs); NaN where not measured. */
  p50: number;
  p99: number;
  /** The server process's CPU time per call (µs). */
  cpuPerCall: number;
}

const NO_LATENCY = { p50: NaN, p99: NaN };

// Wraps one run with the server's CPU clock; `body` returns the wall time (ms) and latencies if any.
async function measured(server: ServerChild, calls: number, body: () => Promise<{ ms: number; latencies?: Float64Array }>): Promise<Run> {
  const before = await server.cpuUsage();
  const { ms, latencies } = await body();
  const after = await server.cpuUsage();
  const cpu = after.user + after.system - before.user - before.system;
  const s = latencies === undefined ? undefined : sorted(latencies);
  return {
    callsPerSecond: rate(calls, ms),
    ...(s === undefined ? NO_LATENCY : { p50: percentile(s, 50), p99: percentile(s, 99) }),
    cpuPerCall: cpu / calls,
  };
}

async function runSequential(server: ServerChild, calls: number): Promise<Run> {
  const socket = await openRaw(server.port);
  try {
    return await measured(server, calls, async () => {
      const latencies = new Float64Array(calls);
      const started = performance.now();
      await sequential(socket, REQUEST, calls, latencies);
      return { ms: performance.now() - started, latencies };
    });
  } finally {
    await closeRaw(socket);
  }
}

async function runPipelined(server: ServerChild, calls: number): Promise<Run> {
  const socket = await openRaw(server.port);
  try {
    return await measured(server, calls, async () => ({ ms: await pipelined(socket, REQUEST, calls) }));
  } finally {
    await closeRaw(socket);
  }
}

async function runConcurrent(server: ServerChild, connections: number, callsEach: number): Promise<Run> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => openRaw(server.port)));
  try {
    return await measured(server, connections * callsEach, async () => {
      const latencies = new Float64Array(connections * callsEach);
      const started = performance.now();
      await Promise.all(sockets.map((socket, i) => sequential(socket, REQUEST, callsEach, latencies, i * callsEach)));
      return { ms: performance.now() - started, latencies };
    });
  } finally {
    await Promise.all(sockets.map((socket) => closeRaw(socket)));
  }
}

async function probe(kind: ServerKind, port: number): Promise<void> {
  const socket = await openRaw(port);
  try {
    const reply = await exchange(socket, PROBE);
    if (reply !== PROBE_REPLY) throw new Error(`${kind} answered ${JSON.stringify(reply)}, expected ${JSON.stringify(PROBE_REPLY)}`);
  } finally {
    await closeRaw(socket);
  }
}

// ---- the suite ---------------------------------------------------------------------------------------

type Runs = Record<ServerKind, Run[]>;

// Interleaves servers, alternating which goes first, so slow drift on a shared machine hits both alike.
async function interleave(rounds: number, servers: Record<ServerKind, ServerChild>, run: (server: ServerChild) => Promise<Run>): Promise<Runs> {
  const runs: Runs = { dae: [], baseline: [] };
  for (let round = 0; round < rounds; round++) {
    const order: ServerKind[] = round % 2 === 0 ? ['baseline', 'dae'] : ['dae', 'baseline'];
    for (const kind of order) runs[kind].push(await run(servers[kind]));
  }
  return runs;
}

function count(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${option} must be an integer >= 1, got ${JSON.stringify(value)}`);
  return value;
}

/** Runs the Common TCP suite and returns its figures (each the best, or median, of interleaved rounds). */
export async function runCommonTcp(options: CommonTcpOptions = {}): Promise<SuiteResult> {
  const rounds = count('rounds', options.rounds, 3);
  const how = options.aggregate ?? 'best';
  const sequentialCalls = count('sequentialCalls', options.sequentialCalls, 20_000);
  const pipelinedCalls = count('pipelinedCalls', options.pipelinedCalls, 100_000);
  const connections = count('connections', options.connections, 100);
  const callsEach = count('callsPerConnection', options.callsPerConnection, 500);
  const log = options.log ?? (() => {});
  const started = performance.now();
  const load = loadavg()[0] ?? NaN;
  const script = fileURLToPath(import.meta.url);
  const execArgv = options.serverExecArgv ?? [];

  const figure = (name: string, unit: string, better: 'higher' | 'lower', runs: Runs, pick: (run: Run) => number, target?: Target): Figure => {
    const daeRounds = runs.dae.map(pick);
    const baselineRounds = runs.baseline.map(pick);
    return {
      name, unit, better, rounds: daeRounds, baselineRounds,
      value: aggregate(daeRounds, how, better),
      baseline: aggregate(baselineRounds, how, better),
      ...(target === undefined ? {} : { target }),
    };
  };
  const spread = (name: string, runs: Runs, pick: (run: Run) => number): string =>
    `${name} by round: dae ${runs.dae.map(pick).map(formatNumber).join(', ')} | baseline ${runs.baseline.map(pick).map(formatNumber).join(', ')}`;

  const servers: Partial<Record<ServerKind, ServerChild>> = {};
  try {
    servers.baseline = await spawnServer(script, ['serve', 'baseline'], { label: 'baseline', execArgv });
    servers.dae = await spawnServer(script, ['serve', 'dae'], { label: 'dae', execArgv });
    const both = servers as Record<ServerKind, ServerChild>;
    for (const kind of ['baseline', 'dae'] as const) await probe(kind, both[kind].port);
    log(`servers: baseline pid ${both.baseline.pid} port ${both.baseline.port}, dae pid ${both.dae.pid} port ${both.dae.port}`);

    log('warming up');
    await interleave(1, both, async (server) => {
      await runSequential(server, 2_000);
      await runPipelined(server, 20_000);
      return runConcurrent(server, connections, 50);
    });
    log(`sequential: ${sequentialCalls} calls x ${rounds} rounds`);
    const seq = await interleave(rounds, both, (server) => runSequential(server, sequentialCalls));
    log(`pipelined: ${pipelinedCalls} calls x ${rounds} rounds`);
    const pipe = await interleave(rounds, both, (server) => runPipelined(server, pipelinedCalls));
    log(`concurrent: ${connections} connections x ${callsEach} calls x ${rounds} rounds`);
    const conn = await interleave(rounds, both, (server) => runConcurrent(server, connections, callsEach));

    const rateOf = (run: Run): number => run.callsPerSecond;
    const cpuOf = (run: Run): number => run.cpuPerCall;
    const connName = `${connections} connections`;
    return {
      suite: 'common-tcp',
      baselineName: 'baseline',
      figures: [
        figure('sequential', 'calls/s', 'higher', seq, rateOf, { kind: 'ratio', min: 0.9 }),
        figure('sequential p50', 'µs', 'lower', seq, (run) => run.p50),
        figure('sequential p99', 'µs', 'lower', seq, (run) => run.p99),
        figure('sequential server CPU', 'µs/call', 'lower', seq, cpuOf),
        figure(`pipelined ${pipelinedCalls.toLocaleString('en-US')}`, 'calls/s', 'higher', pipe, rateOf, { kind: 'floor', min: 500_000 }),
        figure('pipelined server CPU', 'µs/call', 'lower', pipe, cpuOf),
        figure(connName, 'calls/s', 'higher', conn, rateOf, { kind: 'ratio', min: 0.9 }),
        figure(`${connName} p99`, 'µs', 'lower', conn, (run) => run.p99),
        figure(`${connName} server CPU`, 'µs/call', 'lower', conn, cpuOf),
      ],
      notes: [
        `${how} of ${rounds} interleaved rounds; servers in child processes, load from this process (same raw client for both)`,
        `load average at start ${load.toFixed(2)} on ${availableParallelism()} cores: other work on the machine slows runs unevenly`,
        spread('sequential calls/s', seq, rateOf),
        spread('pipelined calls/s', pipe, rateOf),
        spread(`${connName} calls/s`, conn, rateOf),
      ],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
  }
}

// `node dist/bench/common-tcp.js` runs this suite alone; `… serve dae|baseline` is a server child.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [mode, kind] = process.argv.slice(2);
  if (mode === 'serve' && kind === 'dae') await serveDae();
  else if (mode === 'serve' && kind === 'baseline') await serveBaseline();
  else if (mode === undefined) console.log(formatSuite(await runCommonTcp({ log: (line) => console.error(line) })));
  else {
    console.error('usage: common-tcp.js [serve dae|baseline]');
    process.exitCode = 2;
  }
}
