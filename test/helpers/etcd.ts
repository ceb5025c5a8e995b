// Throw-away etcd members on loopback for tests: free ports, temporary data directories, fast elections.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long a cluster may take until every member answers `/health` with `{"health":"true"}`. */
const READY_TIMEOUT_MS = 15_000;
/** Pause between two readiness requests: etcd signals readiness by no event, so it is polled. */
const POLL_PAUSE_MS = 20;
/** Deadline of one readiness request; etcd holds a request until it can answer, so this is generous. */
const REQUEST_TIMEOUT_MS = 2_000;
/** SIGTERM first; SIGKILL if etcd has not exited after this long. */
const STOP_GRACE_MS = 3_000;
/** Launch attempts when a chosen port was taken before etcd could bind it. */
const PORT_ATTEMPTS = 5;
const STDERR_TAIL_LINES = 40;
const HEALTH_BODY_LIMIT = 4_096;

export const ETCD_NOT_FOUND = 'etcd not found: run npm run test:all, which installs etcd-server';

/** One etcd process of a test cluster. */
export interface EtcdMember {
  readonly name: string;
  /** Client URL, `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** Pid of the current (or last) etcd process. */
  readonly pid: number;
  readonly running: boolean;
  /** Sends `signal` (SIGKILL by default) and resolves once the process has exited; keeps the data directory. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the member if it runs, starts it again on the same ports and data directory, and waits for health. */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period; deletes the data directory. */
  stop(): Promise<void>;
  /** The last lines etcd wrote to stderr. */
  stderrTail(): string;
}

export interface EtcdCluster {
  readonly endpoints: string[];
  readonly members: EtcdMember[];
  stop(): Promise<void>;
}

interface MemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  initialCluster: string;
  token: string;
}

/** Command-line arguments of one member (pure). */
export function etcdArgs(spec: MemberSpec): string[] {
  const client = `http://127.0.0.1:${spec.clientPort}`;
  const peer = `http://127.0.0.1:${spec.peerPort}`;
  return [
    '--name', spec.name,
    '--data-dir', spec.dataDir,
    '--listen-client-urls', client,
    '--advertise-client-urls', client,
    '--listen-peer-urls', peer,
    '--initial-advertise-peer-urls', peer,
    '--initial-cluster', spec.initialCluster,
    '--initial-cluster-state', 'new',
    '--initial-cluster-token', spec.token,
    '--heartbeat-interval', '10',
    '--election-timeout', '100',
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ];
}

/** The environment without any ETCD* variable: one duplicating a flag makes etcd exit 1. */
export function etcdEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.toUpperCase().startsWith('ETCD')));
}

/** Absolute path of the etcd binary on PATH; throws a clear error when it is missing. */
export function findEtcd(): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'etcd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw Object.assign(new Error(ETCD_NOT_FOUND), { code: 'ERR_ETCD_NOT_FOUND' });
}

// Every live etcd process and data directory of this test process, reaped on exit even after a crash.
const live = new Set<ChildProcess>();
const dataDirs = new Set<string>();
let hooked = false;

function reapAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  dataDirs.clear();
}

function onFatalSignal(signal: NodeJS.Signals): void {
  reapAll();
  // Let the default action (death by this signal) happen unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', reapAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, onFatalSignal);
}

/** Distinct free loopback ports, found by binding 127.0.0.1:0 (all held open together so none repeats). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port from 127.0.0.1:0');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** Whether an answer (status code and body) is the one waited for. */
type Accept = (status: number | undefined, body: string) => boolean;

/** `{"health":"true"}`: the member has a leader and serves linearizable reads. */
const isHealthy: Accept = (status, body) => {
  try {
    return status === 200 && (JSON.parse(body) as { health?: unknown }).health === 'true';
  } catch {
    return false;
  }
};

/** Any 200: the peer listener serves HTTP. */
const isServing: Accept = (status) => status === 200;

/** One `GET url`: whether `accept` takes its answer; false on failure. */
function answers(url: string, accept: Accept, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(url, { agent: false, signal }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > HEALTH_BODY_LIMIT) response.destroy();
      });
      response.on('error', () => resolve(false));
      response.on('close', () => resolve(response.complete && accept(response.statusCode, body)));
    });
    request.on('error', () => resolve(false));
  });
}

/** etcd exited before it was healthy. */
class EarlyExit extends Error {
  constructor(
    readonly member: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(`etcd ${member} exited before it was healthy (code ${exitCode}, signal ${signal}); stderr tail:\n${stderr}`);
    this.name = 'EarlyExit';
  }

  get portTaken(): boolean {
    return /address already in use/i.test(this.stderr);
  }
}

class Member implements EtcdMember {
  readonly name: string;
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly #binary: string;
  readonly #args: string[];
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #pid = 0;
  #tail: string[] = [];
  #partial = '';
  #removed = false;

  constructor(binary: string, spec: MemberSpec) {
    this.#binary = binary;
    this.#args = etcdArgs(spec);
    this.name = spec.name;
    this.endpoint = `http://127.0.0.1:${spec.clientPort}`;
    this.peerUrl = `http://127.0.0.1:${spec.peerPort}`;
    this.dataDir = spec.dataDir;
  }

  get pid(): number {
    return this.#pid;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  stderrTail(): string {
    return [...this.#tail, this.#partial].join('\n').trim();
  }

  /** Spawns etcd; `ready()` then waits for health. */
  spawn(): void {
    if (this.#child) throw new Error(`etcd ${this.name} is already running`);
    if (this.#removed) throw new Error(`etcd ${this.name} was stopped and its data directory deleted`);
    hookExit();
    this.#tail = [];
    this.#partial = '';
    const child = spawn(this.#binary, this.#args, { env: etcdEnv(process.env), stdio: ['ignore', 'ignore', 'pipe'] });
    this.#child = child;
    this.#pid = child.pid ?? 0;
    live.add(child);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.#remember(chunk));
    this.#exited = new Promise((resolve) => {
      const done = (): void => {
        live.delete(child);
        if (this.#child === child) this.#child = null;
        resolve();
      };
      // 'close' rather than 'exit': the stderr tail is complete by then. 'error' alone means it never ran.
      child.once('close', done);
      child.once('error', (error) => {
        this.#remember(`spawn failed: ${error.message}`);
        if (child.pid === undefined) done();
      });
    });
  }

  #remember(chunk: string): void {
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = lines.pop() ?? '';
    this.#tail.push(...lines);
    if (this.#tail.length > STDERR_TAIL_LINES) this.#tail.splice(0, this.#tail.length - STDERR_TAIL_LINES);
  }

  /** Resolves once the peer listener serves HTTP; the next member's bootstrap check needs an answer from it. */
  serving(deadline: number): Promise<void> {
    return this.#until(`${this.peerUrl}/version`, isServing, deadline, 'serving peers');
  }

  /** Resolves once `/health` says true. */
  ready(deadline: number): Promise<void> {
    return this.#until(`${this.endpoint}/health`, isHealthy, deadline, 'healthy');
  }

  /** Polls `url` until `accept` takes the answer, racing etcd's exit and `deadline` (epoch ms). */
  async #until(url: string, accept: Accept, deadline: number, what: string): Promise<void> {
    const child = this.#child;
    if (!child) throw new EarlyExit(this.name, null, null, this.stderrTail());
    const stop = new AbortController();
    const exited = this.#exited.then(() => {
      stop.abort();
      throw new EarlyExit(this.name, child.exitCode, child.signalCode, this.stderrTail());
    });
    const poll = async (): Promise<void> => {
      for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
        const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(Math.min(REQUEST_TIMEOUT_MS, left))]);
        if (await answers(url, accept, signal)) return;
        if (stop.signal.aborted) return;
        await sleep(POLL_PAUSE_MS, undefined, { signal: stop.signal }).catch(() => undefined);
      }
      throw new Error(`etcd ${this.name} (${url}) not ${what} within ${READY_TIMEOUT_MS} ms; stderr tail:\n${this.stderrTail()}`);
    };
    exited.catch(() => undefined);
    try {
      await Promise.race([poll(), exited]);
    } finally {
      stop.abort();
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.#child?.kill(signal);
    await this.#exited;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once exited. */
  async halt(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await this.kill('SIGTERM');
    } finally {
      clearTimeout(force);
    }
  }

  async restart(): Promise<void> {
    await this.halt();
    this.spawn();
    try {
      await this.ready(Date.now() + READY_TIMEOUT_MS);
    } catch (error) {
      await this.halt();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.halt();
    this.#removed = true;
    rmSync(this.dataDir, { recursive: true, force: true });
    dataDirs.delete(this.dataDir);
  }
}

/**
 * Stops members one at a time: stopped together, a leader tries to hand leadership to a follower that is stopping
 * too and only the SIGKILL after the grace period ends it.
 */
async function stopAll(members: Member[]): Promise<void> {
  for (const member of members) await member.stop();
}

/** Starts `size` members that form one new cluster, retrying with fresh ports when one was taken. */
async function launch(size: number): Promise<Member[]> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size: expected a positive integer, received ${size}`);
  const binary = findEtcd();
  hookExit();
  for (let attempt = 1; ; attempt++) {
    const ports = await freePorts(2 * size);
    const token = `dae-test-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const names = Array.from({ length: size }, (_, i) => `m${i}`);
    const initialCluster = names.map((name, i) => `${name}=http://127.0.0.1:${ports[2 * i + 1]}`).join(',');
    const members = names.map((name, i) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'dae-etcd-'));
      dataDirs.add(dataDir);
      return new Member(binary, {
        name, clientPort: ports[2 * i]!, peerPort: ports[2 * i + 1]!, dataDir, initialCluster, token,
      });
    });
    try {
      // One at a time: a new member asks every peer whether it was bootstrapped already, and a peer that is bound but
      // not serving yet holds that request until etcd's 1 s bootstrap timeout, per peer.
      const deadline = Date.now() + READY_TIMEOUT_MS;
      for (const member of members) {
        member.spawn();
        await member.serving(deadline);
      }
      await Promise.all(members.map((member) => member.ready(deadline)));
      return members;
    } catch (error) {
      await stopAll(members);
      if (!(error instanceof EarlyExit && error.portTaken && attempt < PORT_ATTEMPTS)) throw error;
    }
  }
}

/** A single healthy etcd member on free loopback ports with a temporary data directory. */
export async function startEtcd(): Promise<EtcdMember> {
  const [member] = await launch(1);
  return member!;
}

/** A healthy cluster of `size` members (3 by default) on loopback. */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const members = await launch(size);
  return {
    endpoints: members.map((member) => member.endpoint),
    members,
    stop: () => stopAll(members),
  };
}
