// Benchmark of a daemon's four doors on the same sync `get`: one daemon child with TCP, unix socket, HTTP and WebSocket
// open (bench/fixtures/doors-daemon.ts), load from this process; each door is compared with the TCP door.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type NetConnectOpts, type Socket } from 'node:net';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocket } from 'ws';
import { spawnServer, type ServerChild } from './lib/child.js';
import { closeRaw, drive, exchange, openRaw, pipelined, sequential } from './lib/raw-load.js';
import { formatNumber, formatSuite, type Figure, type SuiteResult, type Target } from './lib/report.js';
import { aggregate, percentile, rate, sorted, type Aggregate } from './lib/stats.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/doors-daemon.js', import.meta.url));
const REQUEST = Buffer.from('get ["a"]\n');
// A WebSocket message is one packet: no newline.
const WS_REQUEST = Buffer.from('get ["a"]');
const WS_SEND = { binary: false } as const;
const HTTP_BODY = Buffer.from('["a"]');
// Every door must give these answers, or the comparison means nothing.
const PROBE = 'get ["a"]\nget ["missing"]\n';
const PROBE_REPLY = 'get [1]\nget [null]\n';
const RUN_DEADLINE_MS = 20_000;
const CONNECT_TIMEOUT_MS = 5_000;

export type DoorKind = 'tcp' | 'unix' | 'http' | 'ws';
const SEQUENTIAL_DOORS: readonly DoorKind[] = ['tcp', 'unix', 'http', 'ws'];
const PIPELINED_DOORS: readonly DoorKind[] = ['tcp', 'unix', 'ws'];

export interface DoorsOptions {
  /** Measured rounds per figure and door, interleaved (default 5). */
  rounds?: number;
  /** How rounds sum up (default `best`, as common-tcp: on a shared machine, noise only ever slows a run down). */
  aggregate?: Aggregate;
  sequentialCalls?: number;
  pipelinedCalls?: number;
  /** Extra node flags for the daemon child (e.g. `--cpu-prof`). */
  serverExecArgv?: readonly string[];
  /** Progress lines go here (default: nowhere). */
  log?: (line: string) => void;
}

/** Where the daemon's doors are, as its `whois` says. */
interface Doors {
  tcp: number;
  unix: string;
  http: number;
  ws: number;
}

// ---- clients, one connection each ------------------------------------------------------------------------

/** One open connection through one door: sequential round trips, pipelined calls (stream and ws doors), close. */
interface Connection {
  /** `calls` round trips one at a time; latencies (µs) into `latencies`. */
  sequential(calls: number, latencies: Float64Array): Promise<void>;
  /** `calls` requests written without waiting; resolves with the ms until the last reply. */
  pipelined(calls: number): Promise<number>;
  close(): Promise<void>;
}

// TCP and unix: the raw load generator of common-tcp, unchanged, on either kind of socket.
function streamConnection(socket: Socket): Connection {
  return {
    sequential: (calls, latencies) => sequential(socket, REQUEST, calls, latencies, 0, RUN_DEADLINE_MS),
    pipelined: (calls) => pipelined(socket, REQUEST, calls, 4096, RUN_DEADLINE_MS),
    close: () => closeRaw(socket),
  };
}

// One POST /get; resolves with whether the agent reused its socket, rejects on anything but 200 `expected`.
function httpCall(agent: Agent, port: number, body = HTTP_BODY, expected = '1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/get', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          if (res.statusCode === 200 && text === expected) resolve(req.reusedSocket);
          else reject(new Error(`http: POST /get ${body} answered ${res.statusCode} ${JSON.stringify(text)}, expected 200 ${JSON.stringify(expected)}`));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// HTTP/1.1 with keep-alive on ONE connection, from a raw socket sending fixed request bytes: like the raw TCP load,
// it measures the server, not Node's client (http.request alone costs ~115 µs of client CPU per call here).
function httpConnection(port: number): Connection {
  const request = Buffer.from(
    `POST /get HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${HTTP_BODY.length}\r\nConnection: keep-alive\r\n\r\n${HTTP_BODY.toString()}`,
  );
  let socket: Socket | null = null;
  return {
    async sequential(calls, latencies) {
      socket ??= await openRaw(port);
      const raw = socket;
      await new Promise<void>((resolve, reject) => {
        let buffered: Buffer = Buffer.alloc(0);
        let done = 0;
        let start = performance.now();
        const timer = setTimeout(() => finish(new Error(`http sequential: no end after ${RUN_DEADLINE_MS} ms`)), RUN_DEADLINE_MS);
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          raw.off('data', onData);
          raw.off('close', onClose);
          if (error) reject(error);
          else resolve();
        };
        const onClose = (): void => finish(new Error('http sequential: the server closed the keep-alive connection'));
        const onData = (chunk: Buffer): void => {
          buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
          for (;;) {
            const head = buffered.indexOf('\r\n\r\n');
            if (head === -1) return;
            const headers = buffered.subarray(0, head).toString('latin1');
            if (!headers.startsWith('HTTP/1.1 200')) return finish(new Error(`http sequential: ${headers.split('\r\n')[0]}`));
            const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? NaN);
            if (buffered.length < head + 4 + length) return;
            buffered = buffered.subarray(head + 4 + length);
            latencies[done] = (performance.now() - start) * 1000;
            if (++done === calls) return finish();
            start = performance.now();
            raw.write(request);
          }
        };
        raw.on('data', onData);
        raw.on('close', onClose);
        raw.write(request);
      });
    },
    pipelined: () => Promise.reject(new Error('http has no pipelined run')),
    close: async () => {
      if (socket) await closeRaw(socket);
    },
  };
}

// Runs `body` on each message of `ws`, rejecting if it fails, closes early or the deadline passes.
function driveWs(ws: WebSocket, what: string, body: (finish: () => void) => (data: Buffer) => void): Promise<void> {
  return drive(ws, 'message', () => ws.terminate(), RUN_DEADLINE_MS, what, body);
}

// The `ws` package's client. `socket` is its TCP socket (captured at connect), corked around a pipelined batch so
// that a batch goes out in one write, as the stream doors' batches do.
function wsConnection(ws: WebSocket, socket: Socket): Connection {
  return {
    sequential(calls, latencies) {
      let done = 0;
      let start = 0;
      const promise = driveWs(ws, 'ws sequential', (finish) => () => {
        latencies[done++] = (performance.now() - start) * 1000;
        if (done === calls) return finish();
        start = performance.now();
        ws.send(WS_REQUEST, WS_SEND);
      });
      start = performance.now();
      ws.send(WS_REQUEST, WS_SEND);
      return promise;
    },
    async pipelined(calls) {
      let done = 0;
      let end = 0;
      const promise = driveWs(ws, 'ws pipelined', (finish) => () => {
        if (++done < calls) return;
        end = performance.now();
        finish();
      });
      const start = performance.now();
      for (let left = calls; left > 0; left -= 4096) {
        socket.cork();
        for (let i = Math.min(left, 4096); i > 0; i--) ws.send(WS_REQUEST, WS_SEND);
        socket.uncork();
      }
      await promise;
      return end - start;
    },
    close: () => closeWs(ws),
  };
}

// A close handshake, then terminate after `graceMs`; resolves once closed.
function closeWs(ws: WebSocket, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => ws.terminate(), graceMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.on('error', () => ws.terminate());
    ws.close(1000);
  });
}

async function openWs(port: number): Promise<{ ws: WebSocket; socket: Socket }> {
  let socket: Socket | undefined;
  const capture = (options: NetConnectOpts): Socket => (socket = connect(options));
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false, handshakeTimeout: CONNECT_TIMEOUT_MS, createConnection: capture as typeof connect });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      ws.off('error', reject);
      resolve();
    });
    ws.once('error', reject);
  });
  if (socket === undefined) throw new Error('ws: the client did not connect through createConnection');
  return { ws, socket };
}

async function open(door: DoorKind, doors: Doors): Promise<Connection> {
  switch (door) {
    case 'tcp':
      return streamConnection(await openRaw(doors.tcp, CONNECT_TIMEOUT_MS));
    case 'unix':
      return streamConnection(await openRaw(doors.unix, CONNECT_TIMEOUT_MS));
    case 'http':
      return httpConnection(doors.http);
    case 'ws': {
      const { ws, socket } = await openWs(doors.ws);
      return wsConnection(ws, socket);
    }
  }
}

// ---- probing the daemon --------------------------------------------------------------------------------

// The doors from `whois` on the TCP door (the child reports its TCP port only).
async function findDoors(port: number): Promise<Doors> {
  const socket = await openRaw(port, CONNECT_TIMEOUT_MS);
  try {
    const reply = await exchange(socket, 'whois\n');
    const space = reply.indexOf(' ');
    const [identity] = JSON.parse(reply.slice(space + 1)) as [{ ports?: Record<string, unknown> }];
    const ports = identity.ports ?? {};
    const { tcp, unix, http, ws } = ports;
    if (typeof tcp !== 'number' || typeof unix !== 'string' || typeof http !== 'number' || typeof ws !== 'number') {
      throw new Error(`whois shows doors ${JSON.stringify(ports)}; expected tcp, unix, http and ws`);
    }
    return { tcp, unix, http, ws };
  } finally {
    await closeRaw(socket);
  }
}

// Every door answers the same two calls the same way.
async function probe(doors: Doors): Promise<void> {
  for (const socket of [await openRaw(doors.tcp, CONNECT_TIMEOUT_MS), await openRaw(doors.unix, CONNECT_TIMEOUT_MS)]) {
    try {
      const reply = await exchange(socket, PROBE);
      if (reply !== PROBE_REPLY) throw new Error(`a stream door answered ${JSON.stringify(reply)}, expected ${JSON.stringify(PROBE_REPLY)}`);
    } finally {
      await closeRaw(socket);
    }
  }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await httpCall(agent, doors.http);
    await httpCall(agent, doors.http, Buffer.from('["missing"]'), 'null');
  } finally {
    agent.destroy();
  }
  const { ws } = await openWs(doors.ws);
  try {
    const replies: string[] = [];
    const done = driveWs(ws, 'ws probe', (finish) => (data) => {
      replies.push(data.toString('utf8'));
      if (replies.length === 2) finish();
    });
    for (const packet of PROBE.split('\n').slice(0, -1)) ws.send(packet);
    await done;
    if (`${replies.join('\n')}\n` !== PROBE_REPLY) throw new Error(`ws answered ${JSON.stringify(replies)}, expected ${JSON.stringify(PROBE_REPLY)} as messages`);
  } finally {
    await closeWs(ws);
  }
}

// ---- measurements ----------------------------------------------------------------------------------------

interface Run {
  callsPerSecond: number;
  /** Latency percentiles (µs); NaN where not measured. */
  p50: number;
  p99: number;
  /** The daemon process's CPU time per call (µs). */
  cpuPerCall: number;
  /** This process's CPU time per call (µs): the load generator's own cost, which bounds what a door can show. */
  benchCpuPerCall: number;
}

// Opens a connection through `door`, runs `body` on it inside the daemon's CPU clock, closes it.
async function measured(server: ServerChild, doors: Doors, door: DoorKind, calls: number, body: (connection: Connection) => Promise<{ ms: number; latencies?: Float64Array }>): Promise<Run> {
  const connection = await open(door, doors);
  try {
    const before = await server.cpuUsage();
    const ownBefore = process.cpuUsage();
    const { ms, latencies } = await body(connection);
    const own = process.cpuUsage(ownBefore);
    const after = await server.cpuUsage();
    const cpu = after.user + after.system - before.user - before.system;
    const s = latencies === undefined ? undefined : sorted(latencies);
    return {
      callsPerSecond: rate(calls, ms),
      p50: s === undefined ? NaN : percentile(s, 50),
      p99: s === undefined ? NaN : percentile(s, 99),
      cpuPerCall: cpu / calls,
      benchCpuPerCall: (own.user + own.system) / calls,
    };
  } finally {
    await connection.close();
  }
}

function runSequential(server: ServerChild, doors: Doors, door: DoorKind, calls: number): Promise<Run> {
  return measured(server, doors, door, calls, async (connection) => {
    const latencies = new Float64Array(calls);
    const started = performance.now();
    await connection.sequential(calls, latencies);
    return { ms: performance.now() - started, latencies };
  });
}

function runPipelined(server: ServerChild, doors: Doors, door: DoorKind, calls: number): Promise<Run> {
  return measured(server, doors, door, calls, async (connection) => ({ ms: await connection.pipelined(calls) }));
}

type Runs = Record<DoorKind, Run[]>;

// Interleaves doors, rotating the order each round, so slow drift on a shared machine hits every door alike.
async function interleave(rounds: number, doors: readonly DoorKind[], run: (door: DoorKind) => Promise<Run>): Promise<Runs> {
  const runs: Runs = { tcp: [], unix: [], http: [], ws: [] };
  for (let round = 0; round < rounds; round++) {
    const shift = round % doors.length;
    for (const door of [...doors.slice(shift), ...doors.slice(0, shift)]) runs[door].push(await run(door));
  }
  return runs;
}

function count(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${option} must be an integer >= 1, got ${JSON.stringify(value)}`);
  return value;
}

// ---- the suite -------------------------------------------------------------------------------------------

/** Runs the doors suite: each door's figures (best, or median, of interleaved rounds) against the TCP door's. */
export async function runDoors(options: DoorsOptions = {}): Promise<SuiteResult> {
  const rounds = count('rounds', options.rounds, 5);
  const how = options.aggregate ?? 'best';
  const sequentialCalls = count('sequentialCalls', options.sequentialCalls, 10_000);
  const pipelinedCalls = count('pipelinedCalls', options.pipelinedCalls, 100_000);
  const log = options.log ?? (() => {});
  const started = performance.now();
  const load = loadavg()[0] ?? NaN;

  // Figures of `door`, with the TCP door's as baseline (the TCP rows have none: they are the baseline).
  const figure = (door: DoorKind, what: string, unit: string, better: 'higher' | 'lower', runs: Runs, pick: (run: Run) => number, target?: Target): Figure => {
    const values = runs[door].map(pick);
    const base = { name: `${what} ${door}`, unit, better, rounds: values, value: aggregate(values, how, better) };
    if (door === 'tcp') return base;
    const tcp = runs.tcp.map(pick);
    return { ...base, baseline: aggregate(tcp, how, better), baselineRounds: tcp, ...(target === undefined ? {} : { target }) };
  };
  const spread = (what: string, doors: readonly DoorKind[], runs: Runs, pick: (run: Run) => number): string =>
    `${what} by round: ${doors.map((door) => `${door} ${runs[door].map(pick).map(formatNumber).join(', ')}`).join(' | ')}`;

  // The unix socket in a directory of this run's own, removed at the end even if the daemon had to be killed.
  const dir = mkdtempSync(join(tmpdir(), 'dae-bench-doors-'));
  let child: ServerChild | undefined;
  try {
    const server = await spawnServer(FIXTURE, [join(dir, 'doors.sock')], { label: 'doors', execArgv: options.serverExecArgv ?? [] });
    child = server;
    const doors = await findDoors(server.port);
    await probe(doors);
    log(`daemon pid ${server.pid}: tcp ${doors.tcp}, unix ${doors.unix}, http ${doors.http}, ws ${doors.ws}`);

    log('warming up');
    for (const door of SEQUENTIAL_DOORS) await runSequential(server, doors, door, 2_000);
    for (const door of PIPELINED_DOORS) await runPipelined(server, doors, door, 20_000);
    log(`sequential: ${sequentialCalls} calls x ${rounds} rounds x ${SEQUENTIAL_DOORS.join(', ')}`);
    const seq = await interleave(rounds, SEQUENTIAL_DOORS, (door) => runSequential(server, doors, door, sequentialCalls));
    log(`pipelined: ${pipelinedCalls} calls x ${rounds} rounds x ${PIPELINED_DOORS.join(', ')}`);
    const pipe = await interleave(rounds, PIPELINED_DOORS, (door) => runPipelined(server, doors, door, pipelinedCalls));

    const rateOf = (run: Run): number => run.callsPerSecond;
    const cpuOf = (run: Run): number => run.cpuPerCall;
    const benchCpuOf = (run: Run): number => run.benchCpuPerCall;
    const targets: Partial<Record<DoorKind, Target>> = {
      unix: { kind: 'ratio', min: 1.0 },
      http: { kind: 'floor', min: 10_000 },
      ws: { kind: 'ratio', min: 0.7 },
    };
    const pipeName = `pipelined ${pipelinedCalls.toLocaleString('en-US')}`;
    return {
      suite: 'doors',
      baselineName: 'tcp',
      figures: [
        ...SEQUENTIAL_DOORS.map((door) => figure(door, 'sequential', 'calls/s', 'higher', seq, rateOf, targets[door])),
        ...SEQUENTIAL_DOORS.map((door) => figure(door, 'sequential p50', 'µs', 'lower', seq, (run) => run.p50)),
        ...SEQUENTIAL_DOORS.map((door) => figure(door, 'sequential p99', 'µs', 'lower', seq, (run) => run.p99)),
        ...SEQUENTIAL_DOORS.map((door) => figure(door, 'sequential server CPU', 'µs/call', 'lower', seq, cpuOf)),
        ...SEQUENTIAL_DOORS.map((door) => figure(door, 'sequential client CPU', 'µs/call', 'lower', seq, benchCpuOf)),
        ...PIPELINED_DOORS.map((door) => figure(door, pipeName, 'calls/s', 'higher', pipe, rateOf)),
        ...PIPELINED_DOORS.map((door) => figure(door, 'pipelined server CPU', 'µs/call', 'lower', pipe, cpuOf)),
        ...PIPELINED_DOORS.map((door) => figure(door, 'pipelined client CPU', 'µs/call', 'lower', pipe, benchCpuOf)),
      ],
      notes: [
        `the "dae" column is the door named on the row, "tcp" the TCP door of the same daemon in the same rounds; ${how} of ${rounds} rounds, door order rotated each round`,
        'one daemon child (bench/fixtures/doors-daemon.ts, sync `get`); load from this process, one connection per run: raw sockets (tcp, unix; http: fixed HTTP/1.1 keep-alive request bytes), `ws` client; "client CPU" is this (load) process',
        `load average at start ${load.toFixed(2)} on ${availableParallelism()} cores: other work on the machine slows runs unevenly`,
        spread('sequential calls/s', SEQUENTIAL_DOORS, seq, rateOf),
        spread('pipelined calls/s', PIPELINED_DOORS, pipe, rateOf),
      ],
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await child?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/doors.js` runs this suite alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatSuite(await runDoors({ log: (line) => console.error(line) })));
}
