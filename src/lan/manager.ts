// `LanManager`: the registry of needs and services for a LAN. Machine managers register, follow the needs, claim
// them, and report what they run; the LAN manager checks every report itself before a need counts as satisfied.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Daemon } from '../daemon/daemon.js';
import type { Guest } from '../daemon/session.js';
import { DaeError } from '../errors.js';
import { createDebug } from '../debug.js';
import { DEFAULT_POLICY, type ExitFacts, type RestartPolicy } from '../supervisor/policy.js';
import { AUTH_DEADLINE_MS } from '../daemon/gate.js';
import { checkName, checkPortMap } from '../supervisor/spec.js';
import { LAN_DEFAULTS } from './defaults.js';
import { canServe } from './placement.js';
import { checkReachable } from './reach.js';
import { bad, checkNeed, isObject, type Need, type Service } from './records.js';
import type { MachineLease, MachineRecord, Registry } from './registry.js';
import { claimNeed, failNeed, holdsClaim, isClaimable, releaseNeed, satisfyNeed, sweepNeed, waitsFor } from './transitions.js';
import { parseReady } from '../supervisor/readiness.js';
import { probeHttp, probePort } from '../supervisor/probe.js';

const debug = createDebug('lan');


export interface LanManagerOptions {
  registry: Registry;
  /** The cluster token: machine managers and anyone changing needs present it. */
  token: string;
  host?: string;
  port?: number;
  ws?: number;
  machineTtl?: number;
  lostGrace?: number;
  reachTimeout?: number;
  /** How long after start nobody is declared lost (machines re-register); default 2 × machineTtl + 1 s. */
  startupGrace?: number;
  /** The restart policy applied per need. */
  policy?: Partial<RestartPolicy>;
  /** Where log lines go (default: nowhere). */
  log?: (line: string) => void;
  /** A unix socket (0600) whose connections start authenticated: the local CLI's door. */
  control?: string;
  /** Host names machine managers may use in the WebSocket `Host` header besides loopback ones; default: any name
   * when bound beyond loopback (browsers are still refused by their Origin). */
  allowHosts?: string[];
}

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|::1|localhost)$/;
/** Longest timer Node keeps (ms); anything longer fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const SWEEP_RETRY_MS = 1000;
/** Writes the store did not answer (an etcd leader election) are tried this many times in all. */
const WRITE_ATTEMPTS = 3;

/** True for an error worth another try: the store did not answer, and tries are left. */
function isTransient(error: unknown, attempt: number): boolean {
  const code = (error as DaeError).code;
  return (code === 'ERR_TIMEOUT' || code === 'ERR_CONNECTION_FAILED') && attempt + 1 < WRITE_ATTEMPTS;
}

/** What a machine runs for the LAN, as it tells on `register`. */
interface RunningCopy {
  instancename: string;
  epoch: number;
  pid: number | null;
  ports: Service['ports'];
  since?: string;
  /** The copy sent a dae ready report (a dae daemon: `whois` proves it). */
  reported?: boolean;
}

/** What a machine reports when a run it placed has ended (or never came up). */
interface ExitReport {
  instancename: string;
  epoch: number;
  exitCode: number | null;
  signal: string | null;
  /** ms the run lasted (0 when it never came online). */
  uptime: number;
  reason?: string;
}

interface MachineSession {
  record: MachineRecord;
  lease: MachineLease;
  /** When it registered or last sent a heartbeat (ISO 8601). */
  heartbeat: string;
}

/** A machine as `machines` answers. */
type ShownMachine = MachineRecord & { heartbeat: string | null; clone?: { address: string; remote: string; at: string } };

function checkMachine(input: unknown): MachineRecord & { running: RunningCopy[]; key: string } {
  if (!isObject(input)) throw bad('register takes {id, key, address, allowedscripts, running}');
  const { id, key, address, allowedscripts, running = [], nonce } = input;
  if (typeof key !== 'string' || key.length < 32 || key.length > 256) throw bad('key must be the machine\'s secret key, 32 to 256 characters');
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw bad(`machine id must be 1-64 of A-Z a-z 0-9 . _ -, got ${JSON.stringify(id)}`);
  if (typeof address !== 'string' || address === '' || address.length > 253 || /\s/.test(address)) throw bad(`address must be a host name or IP, got ${JSON.stringify(address)}`);
  if (!Array.isArray(allowedscripts) || !allowedscripts.every((dir) => typeof dir === 'string' && dir.startsWith('/'))) {
    throw bad(`allowedscripts must be a list of absolute directories, got ${JSON.stringify(allowedscripts)}`);
  }
  if (!Array.isArray(running)) throw bad('running must be a list');
  if (nonce !== undefined && (typeof nonce !== 'string' || !/^[0-9a-f]{8,64}$/.test(nonce))) throw bad('nonce must be 8-64 hex digits');
  const record: MachineRecord & { running: RunningCopy[]; key: string } = { id, key, address, allowedscripts: allowedscripts as string[], running: running.map(checkCopy) };
  if (nonce !== undefined) record.nonce = nonce;
  return record;
}

function checkCopy(input: unknown): RunningCopy {
  if (!isObject(input)) throw bad('a running copy is {instancename, epoch, pid, ports}');
  const { instancename, epoch, pid, ports } = input;
  checkName(instancename);
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 1) throw bad(`epoch must be a whole number >= 1, got ${JSON.stringify(epoch)}`);
  if (pid !== null && (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1)) throw bad(`pid must be a process id, got ${JSON.stringify(pid)}`);
  return {
    instancename: instancename as string, epoch, pid: pid as number | null, ports: checkPortMap(ports, 'ports'),
    since: typeof input.since === 'string' ? input.since : undefined, reported: input.reported === true,
  };
}

/** How the LAN manager checks a reported copy: `whois` (a dae daemon), a probe (the need's `ready` port or http mode),
 * or the machine's word (`none`, or `auto` for a program that never sent a ready report). */
type ReachCheck = 'whois' | 'trust' | string;

function reachCheck(ready: string | undefined, reported: boolean): ReachCheck {
  const mode = parseReady(ready ?? 'auto');
  if (mode.kind === 'report' || (mode.kind === 'auto' && reported)) return 'whois';
  if (mode.kind === 'port' || mode.kind === 'http') return ready!;
  return 'trust';
}

function checkExit(input: unknown): ExitReport {
  if (!isObject(input)) throw bad('exited takes {instancename, epoch, exitCode, signal, uptime, reason}');
  const { instancename, epoch, exitCode = null, signal = null, uptime = 0, reason } = input;
  checkName(instancename);
  if (typeof epoch !== 'number' || !Number.isInteger(epoch)) throw bad(`epoch must be a whole number, got ${JSON.stringify(epoch)}`);
  if (exitCode !== null && typeof exitCode !== 'number') throw bad('exitCode must be a number or null');
  if (signal !== null && typeof signal !== 'string') throw bad('signal must be a string or null');
  if (typeof uptime !== 'number' || uptime < 0) throw bad('uptime must be ms >= 0');
  if (reason !== undefined && typeof reason !== 'string') throw bad('reason must be a string');
  return { instancename: instancename as string, epoch, exitCode: exitCode as number | null, signal: signal as string | null, uptime, reason: reason as string | undefined };
}

/** What machines follow: every need by name, and the ids of the machines registered (to tell how busy each one is). */
type Picture = [Need[], string[]];

function byName(needs: Need[]): Need[] {
  return [...needs].sort((a, b) => a.instancename.localeCompare(b.instancename));
}

function picture(needs: Need[], machines: string[]): Picture {
  return [byName(needs), [...machines].sort()];
}

/** The LAN manager daemon. `new LanManager({registry, token}).start()`. */
export class LanManager extends Daemon {
  override name = 'LanManager';
  readonly registry: Registry;
  readonly #options: { machineTtl: number; lostGrace: number; reachTimeout: number; startupGrace: number; policy: RestartPolicy };
  readonly #sessions = new Map<Guest, MachineSession>();
  /** Which connection speaks for a machine id on this LAN manager now. */
  readonly #byMachine = new Map<string, Guest>();
  /** The registration of a machine whose connection here closed: a new process may take over while it is still that one. */
  readonly #leftHere = new Map<string, string | undefined>();
  /** Second processes refused for a machine id (cloned homes), as `machines` shows them. */
  readonly #clones = new Map<string, { address: string; remote: string; at: string; holder: string }>();
  readonly #registering = new Set<Guest>();
  readonly #graceTimers = new Set<NodeJS.Timeout>();
  readonly #log: (line: string) => void;
  #unwatch: (() => void) | null = null;
  #startedAt = 0;
  #sweeping: Promise<void> | null = null;
  #sweepAgain = false;
  #wake: NodeJS.Timeout | null = null;
  #stopping = false;
  #lastPushed = '';
  readonly #control: string | undefined;

  constructor(options: LanManagerOptions) {
    const host = options.host ?? LAN_DEFAULTS.host;
    super({
      name: 'LanManager', host, port: options.port ?? LAN_DEFAULTS.port, ws: options.ws ?? LAN_DEFAULTS.ws,
      token: options.token, socket: false, env: {}, allowHosts: options.allowHosts ?? (LOOPBACK.test(host) ? [] : ['*']),
      limits: { authTimeout: AUTH_DEADLINE_MS },
    });
    this.registry = options.registry;
    const machineTtl = options.machineTtl ?? LAN_DEFAULTS.machineTtl;
    this.#options = {
      machineTtl,
      lostGrace: options.lostGrace ?? LAN_DEFAULTS.lostGrace,
      reachTimeout: options.reachTimeout ?? LAN_DEFAULTS.reachTimeout,
      startupGrace: options.startupGrace ?? 2 * machineTtl + 1000,
      policy: { ...DEFAULT_POLICY, ...options.policy },
    };
    this.#log = options.log ?? (() => undefined);
    this.#control = options.control;
  }

  commands = {
    'need.add': { protected: true, run: (need: unknown) => this.addNeed(need) },
    'need.rm': { protected: true, run: (name: string) => this.removeNeed(name) },
    needs: { protected: true, run: () => this.needs() },
    services: () => this.registry.listServices(),
    machines: { protected: true, run: () => this.machines() },
    register: { protected: true, guest: true, run: (guest: Guest, machine: unknown) => this.#register(guest, machine) },
    heartbeat: { protected: true, guest: true, run: (guest: Guest) => this.#heartbeat(guest) },
    claim: { protected: true, guest: true, run: (guest: Guest, name: string) => this.#claim(guest, name) },
    report: { protected: true, guest: true, run: (guest: Guest, copy: unknown) => this.#report(guest, copy) },
    exited: { protected: true, guest: true, run: (guest: Guest, exit: unknown) => this.#exited(guest, exit) },
    decline: { protected: true, guest: true, run: (guest: Guest, name: string, reason: string) => this.#decline(guest, name, reason) },
  };

  override async start(): Promise<void> {
    this.#startedAt = Date.now();
    await super.start();
    this.#unwatch = this.registry.watch(() => this.#sweep());
    this.#log(`LAN manager pid ${process.pid} on ${this.identity().ports.tcp} (tcp) and ${this.identity().ports.ws} (ws)`);
    this.#sweep();
  }

  override async stop(): Promise<void> {
    this.#stopping = true;
    this.#unwatch?.();
    await this.#sweeping;
    if (this.#wake) clearTimeout(this.#wake);
    for (const timer of this.#graceTimers) clearTimeout(timer);
    await super.stop();
  }

  protected override async openDoors(): Promise<void> {
    if (this.#control !== undefined) await this.listenUnix(this.#control, true);
  }

  protected override doors(): Record<string, number | string> {
    return this.#control === undefined ? super.doors() : { ...super.doors(), unix: this.#control };
  }

  async addNeed(input: unknown): Promise<Need> {
    const need = checkNeed(input);
    for (let attempt = 0; ; attempt++) {
      try {
        if (await this.registry.createNeed(need)) break;
        // After a write that timed out, finding our own record means that write landed.
        const stored = attempt > 0 ? await this.registry.getNeed(need.instancename) : null;
        if (stored !== null && isDeepStrictEqual(stored.value, need)) break;
        throw new DaeError('ERR_NEED_EXISTS', `a need named ${need.instancename} exists (need rm it first)`);
      } catch (error) {
        if (!isTransient(error, attempt)) throw error;
      }
    }
    this.#log(`need ${need.instancename} added: ${need.script}`);
    return need;
  }

  async removeNeed(name: string): Promise<{ instancename: string; removed: true }> {
    checkName(name);
    for (let attempt = 0; ; attempt++) {
      try {
        // After a delete that timed out, finding nothing means that delete landed.
        if (!(await this.registry.deleteNeed(name)) && attempt === 0) throw new DaeError('ERR_NO_SUCH_NEED', `no need named ${name}`);
        break;
      } catch (error) {
        if (!isTransient(error, attempt)) throw error;
      }
    }
    this.#log(`need ${name} removed`);
    return { instancename: name, removed: true };
  }

  /** The registered machines, each with when it was last heard from if it is connected to this manager (`heartbeat`,
   * else null) and the second process refused for its id, when there was one (a cloned home). */
  async machines(): Promise<ShownMachine[]> {
    return (await this.registry.listMachines()).map((machine) => {
      const clone = this.#clones.get(machine.id);
      const guest = this.#byMachine.get(machine.id);
      const heartbeat = guest === undefined ? null : (this.#sessions.get(guest)?.heartbeat ?? null);
      const shown: ShownMachine = { id: machine.id, address: machine.address, allowedscripts: machine.allowedscripts, heartbeat };
      if (clone !== undefined) shown.clone = { address: clone.address, remote: clone.remote, at: clone.at };
      return shown;
    });
  }

  async needs(): Promise<Need[]> {
    return byName((await this.registry.listNeeds()).map((entry) => entry.value));
  }

  #session(guest: Guest): MachineSession {
    const session = this.#sessions.get(guest);
    if (session === undefined) throw new DaeError('ERR_NOT_REGISTERED', 'register this machine first');
    return session;
  }

  // A machine (re)joins: it is told which of the copies it still runs hold their claim; it stops the rest.
  async #register(guest: Guest, input: unknown): Promise<{ ttl: number; keep: string[]; stop: string[] }> {
    const { running, key, ...record } = checkMachine(input);
    if (this.#registering.has(guest) || this.#sessions.has(guest)) throw new DaeError('ERR_CONFLICT', 'this connection has registered already');
    this.#registering.add(guest);
    let lease: MachineLease;
    // Read before the lease starts to run: a slow store cannot make the registration lapse before it is answered.
    const needs = new Map((await this.registry.listNeeds()).map(({ value }) => [value.instancename, value]));
    try {
      await this.#checkMachineKey(record.id, key);
      await this.#checkOneProcess(guest, record);
      record.session = randomBytes(8).toString('hex');
      this.#leftHere.delete(record.id);
      lease = await this.registry.registerMachine(record, this.#options.machineTtl);
    } finally {
      this.#registering.delete(guest);
    }
    const session: MachineSession = { record, lease, heartbeat: new Date().toISOString() };
    this.#sessions.set(guest, session);
    this.#byMachine.set(record.id, guest);
    guest.once('close', () => this.#closed(guest, session));
    if (guest.closed) this.#closed(guest, session);
    void lease.lost.then(() => {
      // Lapsed while connected (missed heartbeats): the machine must register again and learn what it lost.
      if (this.#sessions.get(guest) === session) guest.close();
    });
    const keep: string[] = [];
    const stop: string[] = [];
    for (const copy of running) {
      const need = needs.get(copy.instancename);
      if (need === undefined || !holdsClaim(need, record.id, copy.epoch)) {
        stop.push(copy.instancename);
        continue;
      }
      keep.push(copy.instancename);
      // Trusted as announced: it was checked reachable when it was reported, and has not exited since.
      if (need.status === 'satisfied' && copy.pid !== null && copy.ports.tcp !== undefined) {
        await this.registry.putService(lease, this.#service(record, copy));
      }
    }
    // Claims this machine holds but no longer runs (a copy that ended while it was away): back to needs.
    const runs = new Set(running.map((copy) => copy.instancename));
    for (const need of needs.values()) {
      if (need.claim?.machine !== record.id || runs.has(need.instancename)) continue;
      const epoch = need.claim.epoch;
      const released = await this.#mutate(need.instancename, (now) => (holdsClaim(now, record.id, epoch) ? releaseNeed(now, `machine ${record.id} no longer runs it`) : null));
      if (released !== null) await this.registry.deleteService(need.instancename, epoch);
    }
    await lease.keepAlive().catch(() => undefined);
    this.#log(`machine ${record.id} registered from ${record.address}: keeps ${keep.length}, stops ${stop.length}`);
    setImmediate(() => this.#pushTo(guest));
    return { ttl: this.#options.machineTtl, keep, stop };
  }

  // One live process per machine id. The same process reconnecting (same nonce) replaces its old connection; a process
  // taking over from one whose connection here closed (a restart) is let in; any other while the registration lives is a
  // second copy of the machine's home, refused, so two of them never knock each other off in turn.
  async #checkOneProcess(guest: Guest, record: MachineRecord): Promise<void> {
    const current = (await this.registry.listMachines()).find((machine) => machine.id === record.id);
    const old = this.#byMachine.get(record.id);
    if (current === undefined || current.nonce === undefined || record.nonce === undefined || current.nonce === record.nonce) {
      if (old !== undefined && old !== guest) old.close();
      this.#clones.delete(record.id);
      return;
    }
    // The holder's connection closed here and its registration is still that one (not renewed through another LAN manager
    // since): the holder is gone or restarting; this process takes over.
    if (old === undefined && current.session !== undefined && this.#leftHere.get(record.id) === current.session) return;
    const host = (remote: string): string => remote.replace(/:\d+$/, '');
    const holder = `${current.address}${old ? ` (connection from ${host(old.remote)})` : ''}`;
    const remote = host(guest.remote);
    const seen = this.#clones.get(record.id);
    if (seen === undefined || seen.remote !== remote || seen.holder !== holder) {
      this.#log(`machine ${record.id}: refused a second live process at ${record.address} (connection from ${remote}); the machine runs at ${holder}: a cloned home?`);
    }
    this.#clones.set(record.id, { address: record.address, remote, at: new Date().toISOString(), holder });
    throw new DaeError('ERR_MACHINE_CLONED', `machine ${record.id} is registered by another live process at ${holder}; this one is at ${record.address} (connection from ${remote}): a cloned home? Give one of them a fresh machine-id and machine-key`);
  }

  // A machine id belongs to the key it first registered with: another token holder cannot speak for it.
  async #checkMachineKey(id: string, key: string): Promise<void> {
    const digest = createHash('sha256').update(key).digest('hex');
    const known = (await this.registry.machineKey(id)) ?? ((await this.registry.setMachineKey(id, digest)) ? digest : await this.registry.machineKey(id));
    if (known === null || !timingSafeEqual(Buffer.from(known), Buffer.from(digest))) {
      throw new DaeError('ERR_AUTH_FAILED', `machine ${id} registered before with another key`);
    }
  }

  #service(record: MachineRecord, copy: RunningCopy): Service {
    return {
      instancename: copy.instancename, machine: { id: record.id, address: record.address }, pid: copy.pid!,
      ports: copy.ports, since: copy.since ?? new Date().toISOString(), epoch: copy.epoch,
    };
  }

  // A connection is gone: unless the machine is back within the grace, its registration (and services) go.
  #closed(guest: Guest, session: MachineSession): void {
    this.#sessions.delete(guest);
    if (this.#byMachine.get(session.record.id) !== guest) return;
    this.#byMachine.delete(session.record.id);
    this.#leftHere.set(session.record.id, session.record.session);
    if (this.#stopping) return;
    const timer = setTimeout(() => {
      this.#graceTimers.delete(timer);
      if (this.#byMachine.has(session.record.id)) return;
      this.#log(`machine ${session.record.id}: connection lost and not back within ${this.#options.lostGrace} ms`);
      session.lease.revoke().catch((error: unknown) => this.#log(`revoking machine ${session.record.id}: ${(error as Error).message}`));
    }, this.#options.lostGrace);
    this.#graceTimers.add(timer);
  }

  // Only a lapsed registration fails a heartbeat; a store that cannot be reached for a moment does not.
  async #heartbeat(guest: Guest): Promise<boolean> {
    try {
      const session = this.#session(guest);
      await session.lease.keepAlive();
      session.heartbeat = new Date().toISOString();
      return true;
    } catch (error) {
      if ((error as DaeError).code === 'ERR_NOT_RUNNING' || (error as DaeError).code === 'ERR_NOT_REGISTERED') throw error;
      this.#log(`heartbeat of ${this.#sessions.get(guest)?.record.id}: ${(error as Error).message}`);
      return false;
    }
  }

  // Compare-and-set with retries: `change` sees the current need and returns the next one, or null for no change.
  async #mutate(name: string, change: (need: Need) => Need | null): Promise<Need | null> {
    let failures = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.registry.getNeed(name);
      if (entry === null) throw new DaeError('ERR_NO_SUCH_NEED', `no need named ${name}`);
      const next = change(entry.value);
      if (next === null) return null;
      try {
        if (await this.registry.updateNeed(name, entry.version, next)) return next;
      } catch (error) {
        if (!isTransient(error, failures++)) throw error;
        // The write may have landed before the answer was lost: then the need is ours as we wrote it.
        const now = await this.registry.getNeed(name);
        if (now !== null && isDeepStrictEqual(now.value, next)) return next;
      }
    }
    throw new DaeError('ERR_CONFLICT', `need ${name} kept changing under 20 attempts`);
  }

  async #claim(guest: Guest, name: string): Promise<{ instancename: string; epoch: number; need: Need }> {
    const { record } = this.#session(guest);
    const entry = await this.registry.getNeed(checkName(name));
    if (entry === null) throw new DaeError('ERR_NO_SUCH_NEED', `no need named ${name}`);
    const need = entry.value;
    if (!isClaimable(need, Date.now())) throw new DaeError('ERR_CONFLICT', `need ${name} is ${need.status}${need.claim ? ` (machine ${need.claim.machine})` : ''}`);
    if (need.after !== undefined) {
      const all = new Map((await this.registry.listNeeds()).map(({ value }) => [value.instancename, value]));
      const first = waitsFor(need, all);
      if (first !== null) throw new DaeError('ERR_CONFLICT', `need ${name} waits for need ${first} to be satisfied`);
    }
    const verdict = canServe(need, record);
    if (!verdict.ok) {
      await this.#decline(guest, name, verdict.reason);
      throw new DaeError('ERR_PLACEMENT', verdict.reason);
    }
    // Compare-and-set (retried when the store did not answer): of racing machines exactly one gets the claim.
    const next = await this.#mutate(name, (current) => (isClaimable(current, Date.now()) && canServe(current, record).ok ? claimNeed(current, record.id, Date.now()) : null));
    if (next === null) throw new DaeError('ERR_CONFLICT', `need ${name} was claimed by another machine first`);
    debug('%s claimed %s (epoch %d)', record.id, name, next.epoch);
    return { instancename: name, epoch: next.epoch, need: next };
  }

  // The claimer says its copy is online: reachable at the advertised address with the right name and pid, or released.
  async #report(guest: Guest, input: unknown): Promise<Service> {
    const { record, lease } = this.#session(guest);
    const copy = checkCopy(input);
    const current = await this.registry.getNeed(copy.instancename);
    if (current === null || !holdsClaim(current.value, record.id, copy.epoch)) {
      throw new DaeError('ERR_CONFLICT', `the claim on ${copy.instancename} (epoch ${copy.epoch}) is no longer this machine's: stop that copy`);
    }
    const check = reachCheck(current.value.ready, copy.reported === true);
    const why = copy.pid === null || copy.ports.tcp === undefined
      ? (check === 'trust' && copy.pid !== null ? null : 'no pid or tcp port was reported')
      : await this.#reach(check, record.address, copy.ports.tcp, copy.instancename, copy.pid);
    if (why !== null) {
      const reason = `unreachable: ${why}`;
      await this.#mutate(copy.instancename, (need) => holdsClaim(need, record.id, copy.epoch)
        ? failNeed(need, this.#options.policy, { exitCode: null, signal: null, uptime: 0 }, reason, Date.now())
        : null);
      this.#log(`need ${copy.instancename} on ${record.id}: ${reason}`);
      throw new DaeError('ERR_UNREACHABLE', reason);
    }
    // Satisfied already (a report repeated) changes nothing; a claim that ended meanwhile is refused.
    await this.#mutate(copy.instancename, (need) => {
      if (!holdsClaim(need, record.id, copy.epoch)) throw new DaeError('ERR_CONFLICT', `the claim on ${copy.instancename} ended while it was checked: stop that copy`);
      return need.status === 'claimed' ? satisfyNeed(need, check === 'trust' ? `on machine ${record.id}'s word: ready ${need.ready ?? 'auto'} without a dae ready report, not checked` : null) : null;
    });
    const service = this.#service(record, copy);
    await this.registry.putService(lease, service);
    this.#log(`need ${copy.instancename} satisfied by ${record.id} pid ${copy.pid} at ${record.address}:${copy.ports.tcp}`);
    return service;
  }

  // The LAN manager's own check of a reported copy, by its need's `ready` mode.
  #reach(check: ReachCheck, address: string, port: number, name: string, pid: number): Promise<string | null> {
    const timeout = this.#options.reachTimeout;
    if (check === 'whois') return checkReachable({ address, port, name, pid }, timeout);
    if (check === 'trust') return Promise.resolve(null);
    const mode = parseReady(check);
    if (mode.kind === 'http') return probeHttp(address, mode.port ?? port, mode.path, timeout);
    return probePort(address, mode.kind === 'port' && mode.port !== null ? mode.port : port, timeout);
  }

  // A copy ended: its service record goes and the need comes back under the restart policy.
  async #exited(guest: Guest, input: unknown): Promise<Need | null> {
    const { record } = this.#session(guest);
    const exit = checkExit(input);
    const facts: ExitFacts = { exitCode: exit.exitCode, signal: exit.signal, uptime: exit.uptime };
    const what = exit.reason ?? (exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.exitCode}`);
    const next = await this.#mutate(exit.instancename, (need) => holdsClaim(need, record.id, exit.epoch)
      ? failNeed(need, this.#options.policy, facts, `${what} on ${record.id}`, Date.now())
      : null);
    if (next === null) return null; // not this machine's claim (any more): nothing of anyone else's is touched
    await this.registry.deleteService(exit.instancename, exit.epoch);
    this.#log(`need ${exit.instancename}: ${next.status} (${next.reason})`);
    return next;
  }

  // A machine cannot take a need: the reason is kept on the need for `dae needs` to show.
  async #decline(guest: Guest, name: string, reason: string): Promise<true> {
    const { record } = this.#session(guest);
    if (typeof reason !== 'string' || reason.length > 1000) throw bad('reason must be a string of at most 1000 characters');
    const text = `machine ${record.id}: ${reason}`;
    await this.#mutate(checkName(name), (need) => (need.status === 'unsatisfied' && need.reason !== text ? { ...need, reason: text } : null));
    return true;
  }

  // One sweep at a time: timers of every need, then the needs list to every machine when it changed.
  #sweep(): void {
    if (this.#stopping) return;
    if (this.#sweeping) {
      this.#sweepAgain = true;
      return;
    }
    this.#sweeping = this.#sweepOnce()
      .catch((error: unknown) => this.#log(`sweep failed: ${(error as Error).message}`))
      .finally(() => {
        this.#sweeping = null;
        if (this.#sweepAgain) {
          this.#sweepAgain = false;
          this.#sweep();
        }
      });
  }

  async #sweepOnce(): Promise<void> {
    const now = Date.now();
    let wakeAt = now + SWEEP_RETRY_MS; // a store that failed us is asked again
    try {
      const machines = new Set((await this.registry.listMachines()).map((machine) => machine.id));
      const listed = await this.registry.listNeeds();
      const needs = new Map(listed.map(({ value }) => [value.instancename, value]));
      const facts = { now, machines, mayDeclareLost: now - this.#startedAt >= this.#options.startupGrace, policy: this.#options.policy, needs };
      wakeAt = facts.mayDeclareLost ? Infinity : this.#startedAt + this.#options.startupGrace;
      let changed = false;
      for (const { value: need, version } of listed) {
        const sweep = sweepNeed(need, facts);
        if (sweep.wakeAt !== null) wakeAt = Math.min(wakeAt, sweep.wakeAt);
        if (sweep.next === null) continue;
        try {
          if (!(await this.registry.updateNeed(need.instancename, version, sweep.next))) continue;
          changed = true;
          this.#log(`need ${need.instancename}: ${need.status} -> ${sweep.next.status}${sweep.next.reason ? ` (${sweep.next.reason})` : ''}`);
          if (need.claim !== null) await this.registry.deleteService(need.instancename, need.claim.epoch);
        } catch (error) {
          wakeAt = Math.min(wakeAt, now + SWEEP_RETRY_MS);
          this.#log(`sweep of need ${need.instancename}: ${(error as Error).message}`);
        }
      }
      // Our own writes come back through the watch and sweep again; push what is current then.
      if (!changed) this.#pushAll(picture(listed.map((entry) => entry.value), [...machines]));
    } finally {
      if (this.#wake) clearTimeout(this.#wake);
      this.#wake = null;
      if (!this.#stopping && wakeAt !== Infinity) {
        this.#wake = setTimeout(() => this.#sweep(), Math.min(MAX_TIMER_MS, Math.max(0, wakeAt - Date.now()) + 5));
        this.#wake.unref();
      }
    }
  }

  #pushAll(current: Picture): void {
    const text = JSON.stringify(current);
    if (text === this.#lastPushed) return;
    this.#lastPushed = text;
    for (const guest of this.#sessions.keys()) guest.push('lan.needs', ...current);
  }

  #pushTo(guest: Guest): void {
    if (!this.#sessions.has(guest)) return;
    Promise.all([this.registry.listNeeds(), this.registry.listMachines()]).then(
      ([needs, machines]) => guest.push('lan.needs', ...picture(needs.map((entry) => entry.value), machines.map((machine) => machine.id))),
      (error: unknown) => this.#log(`cannot list needs: ${(error as Error).message}`),
    );
  }
}
