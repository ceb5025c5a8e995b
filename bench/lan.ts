// Benchmark of the LAN: 30 needs over three machine managers (each a process of its own, advertising 127.0.0.2, .3
// and .4), with the embedded registry and with etcd: need added → service reachable, one at a time and 30 at once,
// against installs on a standalone Dae measured in the same run; a whole machine crashing (then one freezing) → its
// services reachable elsewhere. Every time ends at a `whois` that names the need and the recorded pid at the advertised
// address. Where the time goes is printed too: per step (claim, install, online, satisfied), the LAN manager's registry
// calls, and the CPU time of the supervising processes.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client, Dae, EmbeddedRegistry, LanManager, LAN_DEFAULTS, type ListEntry, type Need, type Registry, type Service } from '../src/index.js';
import { ETCD_NOT_FOUND, startEtcd, type EtcdMember } from '../test/helpers/etcd.js';
import { spawnServer, type ServerChild } from './lib/child.js';
import { cpuMs, pidsWithEnv, running } from './lib/procfs.js';
import { startRunEnvironment } from './lib/run-env.js';
import { formatNumber, formatSuite, type Figure, type SuiteResult } from './lib/report.js';
import { median, percentile, sorted } from './lib/stats.js';

const KV = fileURLToPath(new URL('../sample/kv.js', import.meta.url));
const MACHINE = fileURLToPath(new URL('./fixtures/lan-machine.js', import.meta.url));
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const TOKEN = randomBytes(16).toString('hex');

// Fixed ports stay below the ephemeral range (32768 up) and away from the tests' 20000–32000: machine i leases from
// 12000 + 300 i (tcp), +100 (http), +200 (ws); the standalone Dae from 13000. The LAN manager and etcd take free ports.
const portRange = (base: number): { tcp: number; http: number; ws: number } => ({ tcp: base, http: base + 100, ws: base + 200 });
const MACHINE_PORTS = (index: number): ReturnType<typeof portRange> => portRange(12000 + 300 * index);
const LOCAL_PORTS = portRange(13000);

const NEEDS = 30;
/** What any wait allows before the suite fails with what it saw. */
const UNTIL_MS = 30_000;
/** 30 node startups at once on two cores take seconds: the default ready timeout (10 s) must not be what is measured. */
const READY_TIMEOUT_MS = 30_000;
const WHOIS_TIMEOUT_MS = 2000;
/** Attempts of a `whois` after the record came (the LAN manager checked the service just before: expected to need 1). */
const WHOIS_ATTEMPTS = 5;
const TARGET_RATIO = 1.5;
const TARGET_LOSS_MS = 3000;

type Backend = 'embedded' | 'etcd';

export interface LanBenchOptions {
  /** Needs per phase (default 30). */
  needs?: number;
  /** Progress lines go here (default: nowhere). */
  log?: (line: string) => void;
}

// ---- small tools ----------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pad = (i: number): string => String(i).padStart(2, '0');
const p = (values: readonly number[], at: number): number => percentile(sorted(values), at);

/**
 * Resolves once `check` returns something, looking again on every change of `registry` (when given) and at least
 * every `everyMs`. For setup and cleanup only: nothing measured waits here.
 */
async function until<T>(what: string, check: () => Promise<T | null | false>, registry?: Registry, everyMs = 50): Promise<T> {
  const deadline = performance.now() + UNTIL_MS;
  let wake: (() => void) | null = null;
  const unwatch = registry?.watch(() => wake?.());
  let last: unknown = null;
  try {
    for (;;) {
      const value = await check().catch((error: Error) => ((last = error.message), null));
      if (value !== null && value !== false) return value;
      if (performance.now() >= deadline) throw new Error(`${what}: not within ${UNTIL_MS} ms${typeof last === 'string' ? ` (last error: ${last})` : ''}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everyMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    unwatch?.();
  }
}

/** `whois` at host:port over a fresh connection. */
async function whois(host: string, port: number): Promise<{ name?: unknown; pid?: unknown }> {
  const client = await Client.connect({ host, port, timeout: WHOIS_TIMEOUT_MS, connectTimeout: WHOIS_TIMEOUT_MS });
  try {
    return ((await client.call('whois')) ?? {}) as { name?: unknown; pid?: unknown };
  } finally {
    client.destroy();
  }
}

// ---- watching needs become reachable services ---------------------------------------------------------

/** One need's way to a reachable service; times are performance.now() (and Date.now() for lining up with logs). */
interface Reached {
  name: string;
  /** When the need was added (or the machine killed). */
  start: number;
  startWall: number;
  /** When the accepted service record arrived through the registry's watch. */
  record: number;
  recordWall: number;
  /** When `whois` at the record's address and tcp port answered the need's name and the recorded pid. */
  reachable: number;
  reachableWall: number;
  service: Service;
  /** `whois` attempts that failed after the record had come. */
  misses: number;
}

interface Pending {
  name: string;
  accept: (service: Service) => boolean;
  start: number;
  startWall: number;
  busy: boolean;
  /** A change came while a look was under way: look again, with that change's time. */
  again: { at: number; wall: number } | null;
  misses: number;
  timer: NodeJS.Timeout | undefined;
  resolve(reached: Reached): void;
  reject(error: Error): void;
}

/** Follows the registry's watch: on each service record of an awaited need, checks it by `whois` at once. */
class Tracker {
  readonly #registry: Registry;
  readonly #pending = new Map<string, Pending>();
  readonly #unwatch: () => void;

  constructor(registry: Registry) {
    this.#registry = registry;
    this.#unwatch = registry.watch((change) => {
      if (change.kind !== 'service' || change.deleted) return;
      const pending = this.#pending.get(change.name);
      if (pending !== undefined) void this.#look(pending, performance.now(), Date.now());
    });
  }

  /** Resolves once a service record of `name` that `accept` takes answers `whois`; call before the change that causes it. */
  expect(name: string, accept: (service: Service) => boolean = () => true, start = performance.now(), startWall = Date.now()): Promise<Reached> {
    if (this.#pending.has(name)) return Promise.reject(new Error(`${name} is awaited already`));
    return new Promise((resolve, reject) => {
      const pending: Pending = { name, accept, start, startWall, busy: false, again: null, misses: 0, timer: undefined, resolve, reject };
      pending.timer = setTimeout(() => void this.#timedOut(pending), UNTIL_MS);
      this.#pending.set(name, pending);
    });
  }

  stop(): void {
    this.#unwatch();
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new Error(`${pending.name}: no longer awaited`));
    }
    this.#pending.clear();
  }

  async #look(pending: Pending, at: number, wall: number): Promise<void> {
    if (pending.busy) {
      pending.again = { at, wall };
      return;
    }
    pending.busy = true;
    try {
      const service = (await this.#registry.listServices()).find((item) => item.instancename === pending.name);
      if (service === undefined || !pending.accept(service) || this.#pending.get(pending.name) !== pending) return;
      if (!(ADDRESSES as readonly string[]).includes(service.machine.address) || service.ports.tcp === undefined) {
        return this.#settle(pending, new Error(`${pending.name}: a service record with no advertised tcp door: ${JSON.stringify(service)}`));
      }
      for (let attempt = 0; attempt < WHOIS_ATTEMPTS; attempt++) {
        const who = await whois(service.machine.address, service.ports.tcp).catch((error: Error) => ({ error: error.message }));
        if ('name' in who && who.name === pending.name && who.pid === service.pid) {
          return this.#settle(pending, null, { ...pending, record: at, recordWall: wall, reachable: performance.now(), reachableWall: Date.now(), service });
        }
        pending.misses++;
      }
    } catch (error) {
      return this.#settle(pending, error as Error);
    } finally {
      pending.busy = false;
      const again = pending.again;
      pending.again = null;
      if (again !== null && this.#pending.get(pending.name) === pending) void this.#look(pending, again.at, again.wall);
    }
  }

  #settle(pending: Pending, error: Error | null, reached?: Reached): void {
    if (this.#pending.get(pending.name) !== pending) return;
    this.#pending.delete(pending.name);
    clearTimeout(pending.timer);
    if (error !== null) pending.reject(error);
    else pending.resolve({
      name: reached!.name, start: reached!.start, startWall: reached!.startWall, record: reached!.record, recordWall: reached!.recordWall,
      reachable: reached!.reachable, reachableWall: reached!.reachableWall, service: reached!.service, misses: pending.misses,
    });
  }

  async #timedOut(pending: Pending): Promise<void> {
    const need = await this.#registry.getNeed(pending.name).catch(() => null);
    const service = (await this.#registry.listServices().catch(() => [])).find((item) => item.instancename === pending.name);
    this.#settle(pending, new Error(`${pending.name}: not reachable within ${UNTIL_MS} ms (need ${JSON.stringify(need?.value ? [need.value.status, need.value.claim, need.value.reason] : null)}; service ${JSON.stringify(service ?? null)}; ${pending.misses} whois misses)`));
  }
}

// ---- counting the LAN manager's registry calls ----------------------------------------------------------

type Calls = Record<string, { calls: number; ms: number }>;

/** `registry` with every method call counted and timed (until its promise settles), for the LAN manager to use. */
function counted(registry: Registry): { registry: Registry; calls: Calls } {
  const calls: Calls = {};
  const proxy = new Proxy(registry, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]): unknown => {
        const entry = (calls[property] ??= { calls: 0, ms: 0 });
        entry.calls++;
        const started = performance.now();
        // Called on the registry itself: its private fields are not the proxy's.
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) return result.finally(() => void (entry.ms += performance.now() - started));
        return result;
      };
    },
  });
  return { registry: proxy, calls };
}

function snapshot(calls: Calls): Calls {
  return structuredClone(calls);
}

/** The calls made since `before`, per `per` (a need): `name count` by count, and the time they took in all. */
function describeCalls(calls: Calls, before: Calls, per = 1): string {
  const rows = Object.entries(calls)
    .map(([name, entry]) => ({ name, calls: entry.calls - (before[name]?.calls ?? 0), ms: entry.ms - (before[name]?.ms ?? 0) }))
    .filter((row) => row.calls > 0 && row.name !== 'watch')
    .sort((a, b) => b.calls - a.calls);
  const total = rows.reduce((sum, row) => sum + row.calls, 0);
  const ms = rows.reduce((sum, row) => sum + row.ms, 0);
  return `${formatNumber(total / per)} (${rows.map((row) => `${row.name} ${formatNumber(row.calls / per)}`).join(', ')}), awaited ${formatNumber(ms / per)} ms in all`;
}

// ---- machines and the LAN -------------------------------------------------------------------------------

interface Machine {
  readonly address: string;
  readonly home: string;
  readonly child: ServerChild;
  /** The control socket (trusted): `list` says which daemons (and pids) the machine runs. */
  readonly control: Client;
  id: string;
  killed: boolean;
}

interface Lan {
  readonly backend: Backend;
  /** The registry as this bench reads it (not counted). */
  readonly registry: Registry;
  readonly manager: LanManager;
  /** The LAN manager's registry calls so far. */
  readonly calls: Calls;
  readonly machines: Machine[];
  readonly tracker: Tracker;
  /** The etcd member's pid (null with the embedded registry). */
  readonly etcdPid: number | null;
  /** The LAN manager's log lines with the time they came (Date.now()). */
  readonly log: { wall: number; line: string }[];
  readonly startedWall: number;
  /** Starts a new machine manager with machine `index`'s address and ports (the old one gone), once it registered. */
  replace(index: number): Promise<Machine>;
  /** Stops everything of this LAN, last started first; homes removed. */
  close(): Promise<void>;
}

async function startMachine(index: number, lanWs: number, dir: string, cleanups: (() => Promise<unknown>)[]): Promise<Machine> {
  const address = ADDRESSES[index]!;
  const home = mkdtempSync(join(dir, 'm-'));
  cleanups.push(async () => rmSync(home, { recursive: true, force: true }));
  const config = {
    port: 0,
    portrangestart: MACHINE_PORTS(index),
    lanmanageraddress: `127.0.0.1:${lanWs}`,
    lantoken: TOKEN,
    advertisedaddress: address,
    allowedscripts: [dirname(KV)],
    readyTimeout: READY_TIMEOUT_MS,
  };
  const child = await spawnServer(MACHINE, [JSON.stringify({ home, config })], { label: `machine ${address}` });
  cleanups.push(() => child.stop());
  const control = await Client.connect({ path: join(home, 'run', 'dae.sock'), timeout: UNTIL_MS });
  cleanups.push(async () => control.destroy());
  return { address, home, child, control, id: '', killed: false };
}

async function openRegistry(backend: Backend, cleanups: (() => Promise<unknown>)[]): Promise<{ registry: Registry; etcd: EtcdMember | null }> {
  if (backend === 'embedded') return { registry: new EmbeddedRegistry(), etcd: null };
  const etcd = await startEtcd();
  cleanups.push(() => etcd.stop());
  // As the LAN manager's CLI loads it: etcd3 only when etcd is used.
  const { EtcdRegistry } = await import('../src/lan/etcd.js');
  const registry = await EtcdRegistry.open({ endpoints: [etcd.endpoint], prefix: `bench-lan-${randomBytes(4).toString('hex')}/` });
  cleanups.push(() => registry.close());
  return { registry, etcd };
}

/** A LAN manager on `backend` (default timings) and three machine managers, every machine registered. */
async function startLan(backend: Backend, dir: string): Promise<Lan> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async (): Promise<void> => {
    const errors: string[] = [];
    for (const step of cleanups.splice(0).reverse()) await step().catch((error: Error) => errors.push(error.message));
    if (errors.length > 0) throw new Error(`closing the ${backend} LAN: ${errors.join('; ')}`);
  };
  try {
    const { registry, etcd } = await openRegistry(backend, cleanups);
    const log: Lan['log'] = [];
    const managed = counted(registry);
    const manager = new LanManager({ registry: managed.registry, token: TOKEN, port: 0, ws: 0, log: (line) => void log.push({ wall: Date.now(), line }) });
    const startedWall = Date.now();
    await manager.start();
    cleanups.push(() => manager.stop());
    const lanWs = manager.identity().ports.ws as number;
    const machines: Machine[] = [];
    for (let i = 0; i < ADDRESSES.length; i++) machines.push(await startMachine(i, lanWs, dir, cleanups));
    const records = await until('three machines registered', async () => {
      const listed = await registry.listMachines();
      return listed.length === ADDRESSES.length ? listed : null;
    }, registry);
    for (const machine of machines) machine.id = records.find((record) => record.address === machine.address)?.id ?? '';
    if (machines.some((machine) => machine.id === '')) throw new Error(`machines registered as ${JSON.stringify(records)}`);
    const tracker = new Tracker(registry);
    cleanups.push(async () => tracker.stop());
    const replace = async (index: number): Promise<Machine> => {
      if (!machines[index]?.killed) throw new Error(`machine ${index} still runs`);
      const machine = await startMachine(index, lanWs, dir, cleanups);
      const record = await until(`the new machine at ${machine.address} registered`, async () => (await registry.listMachines()).find((m) => m.address === machine.address) ?? null, registry);
      machine.id = record.id;
      machines.push(machine);
      return machine;
    };
    return { backend, registry, manager, calls: managed.calls, machines, tracker, etcdPid: etcd?.pid ?? null, log, startedWall, replace, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** What a live machine runs for the LAN. */
async function lanEntries(machine: Machine): Promise<ListEntry[]> {
  return ((await machine.control.call('list')) as ListEntry[]).filter((entry) => entry.lan !== undefined);
}

/** Adds `name` and resolves once it is reachable. */
async function addAndReach(lan: Lan, name: string): Promise<Reached> {
  const start = performance.now();
  const reached = lan.tracker.expect(name, () => true, start, Date.now());
  await lan.manager.addNeed({ instancename: name, script: KV, ready: 'report' });
  return reached;
}

/** Removes `names` and waits until no machine runs anything for the LAN and no service is recorded. */
async function removeAll(lan: Lan, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => lan.manager.removeNeed(name)));
  await until('machines empty after the needs were removed', async () => {
    const counts = await Promise.all(lan.machines.filter((machine) => !machine.killed).map(async (machine) => (await lanEntries(machine)).length));
    return counts.every((count) => count === 0) && (await lan.registry.listServices()).length === 0;
  }, lan.registry);
}

// ---- the standalone Dae (the baseline) ------------------------------------------------------------------

interface LocalInstall {
  start: number;
  /** When `install` resolved (the daemon reported ready). */
  online: number;
  reachable: number;
}

/** `install` on the standalone Dae, then `whois` on the daemon's TCP port. */
async function localInstall(dae: Dae, name: string): Promise<LocalInstall> {
  const start = performance.now();
  // A dae daemon: online when it reports ready (under a burst on 2 cores, `auto` would call it online after readyAfter
  // while it still loads, and the whois that follows would be refused).
  const entry = await dae.install(name, KV, { ready: 'report' });
  const online = performance.now();
  if (entry.status !== 'online' || entry.ports.tcp === undefined) {
    const log = await dae.logs(name, { lines: 10 }).then((lines) => lines.join(' | '), () => '');
    throw new Error(`local install of ${name}: ${entry.status} (${entry.reason}); ports ${JSON.stringify(entry.ports)}; its log ends: ${log}`);
  }
  const who = await whois(dae.config.host, entry.ports.tcp);
  if (who.name !== name || who.pid !== entry.pid) throw new Error(`local ${name}: whois answered ${JSON.stringify(who)}, expected pid ${entry.pid}`);
  return { start, online, reachable: performance.now() };
}

// ---- where the time goes --------------------------------------------------------------------------------

/** Per daemon name, when a machine logged it installed and online (Date.now() ms), first after `sinceWall`. */
function machineEvents(homes: readonly string[], sinceWall: number): Map<string, { installed?: number; online?: number }> {
  const events = new Map<string, { installed?: number; online?: number }>();
  for (const home of homes) {
    let text = '';
    try {
      text = readFileSync(join(home, 'dae.log'), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const installed = /^(\S+) installed ([^:\s]+): /.exec(line);
      const online = /^(\S+) ([^:\s]+): starting -> online/.exec(line);
      const match = installed ?? online;
      if (match === null) continue;
      const wall = Date.parse(match[1]!);
      if (!(wall >= sinceWall)) continue;
      const entry = events.get(match[2]!) ?? {};
      events.set(match[2]!, entry);
      if (installed !== null) entry.installed ??= wall;
      else entry.online ??= wall;
    }
  }
  return events;
}

/** Per need, when the LAN manager logged it satisfied (after its reachability check and the record's put), and how often. */
function managerEvents(log: Lan['log'], sinceWall: number): Map<string, { satisfied: number; times: number }> {
  const events = new Map<string, { satisfied: number; times: number }>();
  for (const { wall, line } of log) {
    const match = /^need (\S+) satisfied by /.exec(line);
    if (match === null || wall < sinceWall) continue;
    const entry = events.get(match[1]!);
    if (entry === undefined) events.set(match[1]!, { satisfied: wall, times: 1 });
    else entry.times++;
  }
  return events;
}

interface Steps {
  addToClaim: number[];
  claimToInstalled: number[];
  installedToOnline: number[];
  onlineToSatisfied: number[];
  satisfiedToWhois: number[];
}

/**
 * Each need's way split at the claim (the need's `claim.at`), the machine's log lines (installed, online) and the LAN
 * manager's (satisfied: reported, checked reachable, recorded); the last step is the watch, the bench's read and whois.
 */
function steps(reached: readonly Reached[], needs: ReadonlyMap<string, Need>, machine: ReturnType<typeof machineEvents>, manager: ReturnType<typeof managerEvents>): Steps {
  const out: Steps = { addToClaim: [], claimToInstalled: [], installedToOnline: [], onlineToSatisfied: [], satisfiedToWhois: [] };
  for (const item of reached) {
    const claimAt = needs.get(item.name)?.claim?.at ?? NaN;
    const logged = machine.get(item.name) ?? {};
    const satisfied = manager.get(item.name)?.satisfied ?? NaN;
    out.addToClaim.push(claimAt - item.startWall);
    out.claimToInstalled.push((logged.installed ?? NaN) - claimAt);
    out.installedToOnline.push((logged.online ?? NaN) - (logged.installed ?? NaN));
    out.onlineToSatisfied.push(satisfied - (logged.online ?? NaN));
    out.satisfiedToWhois.push(item.reachableWall - satisfied);
  }
  return out;
}

const med = (values: readonly number[]): string => formatNumber(median(values.filter((v) => !Number.isNaN(v))));

function describeSteps(s: Steps): string {
  return `add→claim ${med(s.addToClaim)} · claim→installed ${med(s.claimToInstalled)} · installed→online ${med(s.installedToOnline)} · online→satisfied ${med(s.onlineToSatisfied)} · satisfied→whois ${med(s.satisfiedToWhois)}`;
}

/** How many needs the LAN manager declared satisfied more than once (a repeated report), and how many times in all. */
function repeats(manager: ReturnType<typeof managerEvents>): string {
  const again = [...manager.values()].filter((entry) => entry.times > 1);
  return again.length === 0 ? 'each satisfied once' : `${again.length} satisfied more than once (${again.reduce((sum, entry) => sum + entry.times, 0)} times)`;
}

async function needsByName(registry: Registry): Promise<Map<string, Need>> {
  return new Map((await registry.listNeeds()).map((entry) => [entry.value.instancename, entry.value]));
}

/** CPU time (ms) this process has used so far: the LAN manager, the registry client, the standalone Dae, the watching. */
function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU time (ms) used so far by what runs the LAN: this process, the machine managers and etcd (not the daemons). */
function lanCpuMs(lan: Lan): { own: number; machines: number; etcd: number } {
  return {
    own: ownCpuMs(),
    machines: lan.machines.reduce((sum, machine) => sum + (machine.killed ? 0 : cpuMs(machine.child.pid)), 0),
    etcd: lan.etcdPid === null ? 0 : cpuMs(lan.etcdPid),
  };
}

// ---- the phases -----------------------------------------------------------------------------------------

interface BackendResult {
  backend: Backend;
  seq: number[];
  localSeq: number[];
  burst: number[];
  localBurst: number[];
  loss: LossResult;
  freeze: LossResult;
  notes: string[];
}

/** Everything measured on one backend; the standalone Dae's installs interleaved with the LAN's. */
async function runBackend(backend: Backend, local: Dae, needs: number, dir: string, log: (line: string) => void): Promise<BackendResult> {
  const lan = await startLan(backend, dir);
  const notes: string[] = [];
  const homes = (): string[] => lan.machines.map((machine) => machine.home);
  try {
    log(`${backend}: LAN manager and 3 machines up (${lan.machines.map((m) => `${m.address} ${m.id}`).join(', ')}); warm-up`);
    await localInstall(local, 'local-warmup');
    await local.uninstall('local-warmup');
    await addAndReach(lan, 'warmup');
    await removeAll(lan, ['warmup']);

    // 1. One at a time, interleaved with local installs (which keep running, as the LAN's services do).
    log(`${backend}: ${needs} needs one at a time, interleaved with ${needs} local installs`);
    const seqWall = Date.now();
    const seqCalls = snapshot(lan.calls);
    const seq: Reached[] = [];
    const localSeq: LocalInstall[] = [];
    for (let i = 0; i < needs; i++) {
      const lanFirst = i % 2 === 1;
      if (!lanFirst) localSeq.push(await localInstall(local, `local-${pad(i)}`));
      const reached = await addAndReach(lan, `seq-${pad(i)}`);
      seq.push(reached);
      if (lanFirst) localSeq.push(await localInstall(local, `local-${pad(i)}`));
    }
    const seqCallsText = describeCalls(lan.calls, seqCalls, needs);
    const seqManager = managerEvents(lan.log, seqWall);
    const seqSteps = steps(seq, await needsByName(lan.registry), machineEvents(homes(), seqWall), seqManager);
    const spread = (items: readonly Reached[]): string => lan.machines.map((m) => `${m.address} ${items.filter((r) => r.service.machine.id === m.id).length}`).join(', ');
    notes.push(`${backend} one at a time, medians (ms): ${describeSteps(seqSteps)}; ${repeats(seqManager)}; placed ${spread(seq)}; registry calls by the LAN manager per need ${seqCallsText}`);
    notes.push(`${backend} local installs one at a time, medians (ms): install() → online ${formatNumber(median(localSeq.map((l) => l.online - l.start)))} · → whois ${formatNumber(median(localSeq.map((l) => l.reachable - l.online)))}`);
    await Promise.all(localSeq.map((_, i) => local.uninstall(`local-${pad(i)}`)));
    await removeAll(lan, seq.map((item) => item.name));

    // 2. Bursts: 30 local installs at once, then 30 needs at once.
    log(`${backend}: bursts of ${needs}: local installs, then needs`);
    const localCpu = ownCpuMs();
    const localStart = performance.now();
    const localBurst = await Promise.all(Array.from({ length: needs }, (_, i) => localInstall(local, `local-${pad(i)}`)));
    const localBurstAll = performance.now() - localStart;
    const localBurstCpu = ownCpuMs() - localCpu;
    await Promise.all(localBurst.map((_, i) => local.uninstall(`local-${pad(i)}`)));
    const burstWall = Date.now();
    const cpuBefore = lanCpuMs(lan);
    const burstCalls = snapshot(lan.calls);
    const burstStart = performance.now();
    const burst = await Promise.all(Array.from({ length: needs }, (_, i) => addAndReach(lan, `burst-${pad(i)}`)));
    const burstAll = performance.now() - burstStart;
    const cpuAfter = lanCpuMs(lan);
    const burstCallsText = describeCalls(lan.calls, burstCalls, needs);
    const cpu = { own: cpuAfter.own - cpuBefore.own, machines: cpuAfter.machines - cpuBefore.machines, etcd: cpuAfter.etcd - cpuBefore.etcd };
    const burstManager = managerEvents(lan.log, burstWall);
    const burstSteps = steps(burst, await needsByName(lan.registry), machineEvents(homes(), burstWall), burstManager);
    notes.push(`${backend} burst, medians (ms): ${describeSteps(burstSteps)}; all ${needs} reachable after ${formatNumber(burstAll)} ms (local: ${formatNumber(localBurstAll)} ms); ${repeats(burstManager)}; placed ${spread(burst)}; CPU of the supervising processes (not the daemons) over the burst: LAN ${formatNumber(cpu.own + cpu.machines + cpu.etcd)} ms (bench process with the LAN manager ${formatNumber(cpu.own)}, machine managers ${formatNumber(cpu.machines)}${lan.etcdPid === null ? '' : `, etcd ${formatNumber(cpu.etcd)}`}) against ${formatNumber(localBurstCpu)} ms for the local burst (bench process with the standalone Dae); registry calls by the LAN manager per need ${burstCallsText}`);
    // The records name what the machines run: the same pid at the advertised address.
    for (const machine of lan.machines) {
      const entries = new Map((await lanEntries(machine)).map((entry) => [entry.name, entry]));
      for (const item of burst.filter((r) => r.service.machine.id === machine.id)) {
        const entry = entries.get(item.name);
        if (entry?.pid !== item.service.pid || entry.lan?.epoch !== item.service.epoch) throw new Error(`${item.name}: the record says pid ${item.service.pid} on ${machine.address}, the machine lists ${JSON.stringify(entry ?? null)}`);
      }
    }
    const misses = [...seq, ...burst].reduce((sum, item) => sum + item.misses, 0);
    if (misses > 0) notes.push(`WARNING ${backend}: ${misses} whois attempts failed after the service record had come`);

    // 3. A machine crashes: the one running the most services, with all its daemons.
    const loss = await machineLoss(lan, 'crash', notes);
    // 4. A machine takes the crashed one's place (nothing moves to it by itself); then the busiest machine freezes.
    log(`${backend}: a new machine at ${ADDRESSES[lan.machines.indexOf(lan.machines.find((m) => m.killed)!)]}; then the busiest machine freezes`);
    await lan.replace(lan.machines.findIndex((machine) => machine.killed));
    const freeze = await machineLoss(lan, 'freeze', notes);
    return {
      backend, notes,
      seq: seq.map((r) => r.reachable - r.start), localSeq: localSeq.map((l) => l.reachable - l.start),
      burst: burst.map((r) => r.reachable - r.start), localBurst: localBurst.map((l) => l.reachable - l.start),
      loss, freeze,
    };
  } finally {
    log(`${backend}: stopping the LAN`);
    await lan.close();
  }
}

type Loss = 'crash' | 'freeze';

interface LossResult {
  ms: number;
  count: number;
}

/**
 * Takes the live machine running the most services away with all its daemons (SIGKILL of their process groups) and
 * resolves with the ms until every one of its services answers elsewhere. `crash`: its manager is SIGKILLed too, so
 * the kernel closes its connection at once (lostGrace applies). `freeze`: its manager is SIGSTOPped, its connection
 * stays open and silent, as with a machine that lost power or its network (machineTtl applies); SIGKILLed after.
 */
async function machineLoss(lan: Lan, how: Loss, notes: string[]): Promise<LossResult> {
  const services = await lan.registry.listServices();
  const live = lan.machines.filter((machine) => !machine.killed);
  const on = (machine: Machine): Service[] => services.filter((service) => service.machine.id === machine.id);
  const victim = [...live].sort((a, b) => on(b).length - on(a).length)[0]!;
  const names = on(victim).map((service) => service.instancename);
  const pids = (await lanEntries(victim)).map((entry) => entry.pid).filter((pid): pid is number => pid !== null);
  if (pids.length !== names.length) throw new Error(`machine ${victim.address} runs ${pids.length} LAN daemons, the registry says ${names.length}`);
  // The LAN manager declares nobody lost in its first 2 × machineTtl + 1 s (machines re-registering after its restart).
  const grace = 2 * LAN_DEFAULTS.machineTtl + 1000 - (Date.now() - lan.startedWall);
  if (grace > 0) await sleep(grace);
  let deregistered = NaN;
  const unwatch = lan.registry.watch((change) => {
    if (change.kind === 'machine' && change.deleted && change.name === victim.id && Number.isNaN(deregistered)) deregistered = performance.now();
  });
  try {
    victim.control.destroy();
    const start = performance.now();
    const startWall = Date.now();
    const waits = names.map((name) => lan.tracker.expect(name, (service) => service.machine.id !== victim.id, start, startWall));
    victim.killed = true;
    // As a machine goes: its manager and every daemon at once, no goodbye.
    process.kill(victim.child.pid, how === 'crash' ? 'SIGKILL' : 'SIGSTOP');
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const reached = await Promise.all(waits);
    const ms = Math.max(...reached.map((r) => r.reachable)) - start;
    if (how === 'freeze') process.kill(victim.child.pid, 'SIGKILL');
    const survivors = pids.filter((pid) => running(pid));
    if (survivors.length > 0) throw new Error(`daemons ${survivors.join(', ')} of the lost machine still run`);
    const needs = await needsByName(lan.registry);
    const events = machineEvents(lan.machines.map((machine) => machine.home), startWall);
    const released = lan.log.filter((entry) => entry.wall >= startWall && / -> unsatisfied \(machine \S+ was lost\)/.test(entry.line)).map((entry) => entry.wall - startWall);
    const claims = reached.map((r) => (needs.get(r.name)?.claim?.at ?? NaN) - startWall);
    const online = reached.map((r) => (events.get(r.name)?.online ?? NaN) - startWall);
    const span = (values: number[]): string => `${formatNumber(Math.min(...values))}–${formatNumber(Math.max(...values))}`;
    const s = steps(reached, needs, events, managerEvents(lan.log, startWall));
    const before = live.filter((m) => m !== victim).map((m) => `${m.address} ${on(m).length}`).join(', ');
    const after = live.filter((m) => m !== victim).map((m) => `${m.address} +${reached.filter((r) => r.service.machine.id === m.id).length}`).join(', ');
    notes.push(
      `${lan.backend} machine ${how === 'crash' ? 'killed' : 'frozen'} (${victim.address}, ${names.length} services; the others ran ${before}), ms after: registration gone ${formatNumber(deregistered - start)} · needs released ${span(released)} · claimed elsewhere ${span(claims)} · online ${span(online)} · records ${span(reached.map((r) => r.record - start))} · whois ${span(reached.map((r) => r.reachable - start))}; medians claim→installed ${med(s.claimToInstalled)}, installed→online ${med(s.installedToOnline)}, online→satisfied ${med(s.onlineToSatisfied)}; placed ${after}`,
    );
    return { ms, count: names.length };
  } finally {
    unwatch();
  }
}

// ---- the suite ------------------------------------------------------------------------------------------

function figures(result: BackendResult, needs: number): Figure[] {
  const b = result.backend;
  return [
    {
      name: `${b}: need → reachable p50, ${needs} one at a time`, unit: 'ms', better: 'lower',
      value: p(result.seq, 50), baseline: p(result.localSeq, 50), rounds: result.seq, baselineRounds: result.localSeq,
      target: { kind: 'ratio', min: TARGET_RATIO },
    },
    { name: `${b}: need → reachable p90, one at a time`, unit: 'ms', better: 'lower', value: p(result.seq, 90), baseline: p(result.localSeq, 90) },
    {
      name: `${b}: need → reachable p50, burst of ${needs}`, unit: 'ms', better: 'lower',
      value: p(result.burst, 50), baseline: p(result.localBurst, 50), rounds: result.burst, baselineRounds: result.localBurst,
    },
    { name: `${b}: need → reachable p90, burst of ${needs}`, unit: 'ms', better: 'lower', value: p(result.burst, 90), baseline: p(result.localBurst, 90) },
    { name: `${b}: machine killed → its ${result.loss.count} services reachable elsewhere`, unit: 'ms', better: 'lower', value: result.loss.ms, target: { kind: 'floor', min: TARGET_LOSS_MS } },
    { name: `${b}: machine frozen → its ${result.freeze.count} services reachable elsewhere`, unit: 'ms', better: 'lower', value: result.freeze.ms },
  ];
}

function summaryLines(result: BackendResult): string[] {
  const ratio = p(result.seq, 50) / p(result.localSeq, 50);
  return [
    `target ${result.backend}: need → reachable p50 ${formatNumber(p(result.seq, 50))} ms = ${ratio.toFixed(2)}× local install p50 ${formatNumber(p(result.localSeq, 50))} ms (≤ ${TARGET_RATIO}×): ${ratio <= TARGET_RATIO ? 'OK' : 'BELOW'}`,
    `target ${result.backend}: machine killed → ${result.loss.count} services reachable elsewhere in ${formatNumber(result.loss.ms)} ms (≤ ${TARGET_LOSS_MS} ms; machineTtl ${LAN_DEFAULTS.machineTtl}, lostGrace ${LAN_DEFAULTS.lostGrace}): ${result.loss.ms <= TARGET_LOSS_MS ? 'OK' : 'BELOW'}`,
  ];
}

/** Runs the lan suite: the embedded registry, then etcd (one local member with fast elections), in one run. */
export async function runLan(options: LanBenchOptions = {}): Promise<SuiteResult> {
  const needs = options.needs ?? NEEDS;
  if (!Number.isInteger(needs) || needs < 3 || needs > 90) throw new Error(`needs must be an integer from 3 to 90, got ${JSON.stringify(options.needs)}`);
  const started = performance.now();
  const loadStart = loadavg();
  const log = (line: string): void => options.log?.(`${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${line}`);
  // Every process this run starts carries this variable (dae passes it on to its daemons), so the last sweep finds
  // whatever a failed step left behind.
  const environment = startRunEnvironment('lan', { runtime: false });
  const { marker } = environment;
  // Every home of this run lives under one directory (short enough for the unix socket paths inside).
  const runDir = mkdtempSync(join(tmpdir(), 'dae-bench-lan-'));
  const localHome = join(runDir, 'local');
  mkdirSync(localHome, { mode: 0o700 });
  // Interrupted (Ctrl-C): nothing of this run may outlive it, not even the standalone Dae's daemons (own process groups).
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const pid of pidsWithEnv(marker)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(runDir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const local = new Dae({ home: localHome, config: { port: 0, http: null, portrangestart: LOCAL_PORTS, readyTimeout: READY_TIMEOUT_MS } });
  try {
    await local.start();
    const results: BackendResult[] = [];
    const skipped: string[] = [];
    for (const backend of ['embedded', 'etcd'] as const) {
      try {
        results.push(await runBackend(backend, local, needs, runDir, log));
      } catch (error) {
        if (backend === 'etcd' && (error as Error).message === ETCD_NOT_FOUND) skipped.push(`etcd skipped: ${ETCD_NOT_FOUND}`);
        else throw error;
      }
    }
    const loadEnd = loadavg();
    const notes = [
      `need → reachable: from just before addNeed until whois at the service record's address and tcp port names the need and the recorded pid (the record awaited on the registry's watch, whois sent at once); one at a time = each need reachable before the next is added; burst = ${needs} addNeed calls at once, each timed from its own call`,
      `baseline: install(name, sample/kv.js) on a standalone Dae in the bench process until whois on its tcp port answers (one at a time interleaved with the needs, its daemons kept running like the LAN's; burst = ${needs} installs at once)`,
      `LAN: one LanManager in the bench process (ports 0, defaults: machineTtl ${LAN_DEFAULTS.machineTtl}, lostGrace ${LAN_DEFAULTS.lostGrace}, reachTimeout ${LAN_DEFAULTS.reachTimeout}, startupGrace ${2 * LAN_DEFAULTS.machineTtl + 1000} ms); 3 machine managers, each a process of its own (bench/fixtures/lan-machine.ts) advertising ${ADDRESSES.join(', ')}, ports from ${MACHINE_PORTS(0).tcp}/${MACHINE_PORTS(1).tcp}/${MACHINE_PORTS(2).tcp}, readyTimeout ${READY_TIMEOUT_MS} ms; etcd: one member, --heartbeat-interval 10 --election-timeout 100 (test/helpers/etcd.ts)`,
      `machine killed: SIGKILL of the busiest machine manager's process and of each of its daemons' process groups (the kernel closes its connection: lostGrace applies); time until every one of its services is recorded on another machine and answers whois there. machine frozen: then a new machine takes the killed one's address, and the busiest machine manager is SIGSTOPped (its connection stays open and silent, as with power or network lost: machineTtl applies) and its daemons SIGKILLed; no target`,
      `steps: claim = the need's claim.at (set by the LAN manager), installed/online = the machine's dae.log lines (ms resolution), record = the registry watch event in the bench`,
      ...results.flatMap((result) => result.notes),
      ...skipped,
      ...results.flatMap(summaryLines),
      `load average ${loadStart.map((v) => v.toFixed(2)).join(' ')} at start, ${loadEnd.map((v) => v.toFixed(2)).join(' ')} at the end, on ${availableParallelism()} cores: other work on the machine slows runs unevenly`,
    ];
    return { suite: 'lan', baselineName: 'local install', figures: results.flatMap((result) => figures(result, needs)), notes, seconds: (performance.now() - started) / 1000 };
  } finally {
    await local.stop().catch((error: Error) => log(`cleanup: ${error.message}`));
    await environment.end(log);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(runDir, { recursive: true, force: true });
  }
}

// `node dist/bench/lan.js` runs this suite alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(formatSuite(await runLan({ log: (line) => console.error(line) })));
}
