// A machine manager's link to its LAN managers: register, follow the needs, claim what this machine can serve,
// run it through the normal install path, report it, and report its exit. Stale copies are stopped.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { existsSync, realpathSync } from 'node:fs';
import { Client } from '../client/client.js';
import { DaeError } from '../errors.js';
import { createDebug } from '../debug.js';
import { canServe, isAllowedScript } from '../lan/placement.js';
import type { Need } from '../lan/records.js';
import type { MachineRecord } from '../lan/registry.js';
import { holdsClaim, waitsFor } from '../lan/transitions.js';
import type { ListEntry, StatusEvent } from './managed.js';
import { PROTOCOLS } from './config.js';
import type { InstallOptions, LanPlacement } from './spec.js';

const debug = createDebug('lan-link');

/** Each daemon this machine runs beyond the least busy machine's count delays its next claim this long (ms). */
const CLAIM_STAGGER_MS = 15;
const RECONNECT_MAX_MS = 2000;
const CALL_TIMEOUT_MS = 10_000;

/** What the link needs of its supervisor (a `Dae`): its daemons, and installing and removing the LAN's. */
export interface LanHost {
  list(): ListEntry[];
  installPlaced(name: string, script: string, options: InstallOptions, placement: { host: string; lan: LanPlacement }): Promise<ListEntry>;
  uninstall(name: string): Promise<unknown>;
  portAvailable(port: number, host: string): Promise<boolean>;
  /** The daemon's current run sent a dae ready report (the LAN manager then checks it with `whois`). */
  hasReported(name: string): boolean;
  on(event: 'daemon-status', listener: (event: StatusEvent) => void): unknown;
  off(event: 'daemon-status', listener: (event: StatusEvent) => void): unknown;
}

export interface LanLinkOptions {
  /** `host:port` of each LAN manager's WebSocket door. */
  addresses: string[];
  token: string;
  /** Proves `machine.id`: the LAN manager keeps the id for the key it first registered with. */
  key: string;
  machine: MachineRecord;
  log: (line: string) => void;
}

type LanEntry = ListEntry & { lan: { need: string; epoch: number } };

function isLan(entry: ListEntry): entry is LanEntry {
  return entry.lan !== undefined;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export class LanLink {
  readonly #dae: LanHost;
  /** This process's own mark: a reconnect of the same process replaces its old connection, another process with the
   * same machine id (a cloned home) is refused. */
  readonly #nonce = randomBytes(12).toString('hex');
  readonly #options: LanLinkOptions;
  readonly #abort = (() => {
    const controller = new AbortController();
    // Every staggered claim waits on it: many listeners are expected.
    setMaxListeners(0, controller.signal);
    return controller;
  })();
  /** The registered connection, through which claims and reports go. */
  #client: Client | null = null;
  /** The connection being set up or in use: `stop()` ends it wherever it is. */
  #current: Client | null = null;
  #loop: Promise<void> = Promise.resolve();
  /** Needs being claimed, installed or reported here right now. */
  readonly #busy = new Set<string>();
  /** The pid of each copy reported to the LAN manager on this registration (a run not among them is reported). */
  #reported = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Copies being stopped on purpose: their exit is not news. */
  readonly #releasing = new Set<string>();
  readonly #onlineAt = new Map<string, number>();
  /** What was declined, so a refusal is said once per need as it stands. */
  readonly #declined = new Map<string, string>();
  #latest: Need[] = [];
  /** The machines registered with the LAN, as last heard. */
  #machines: string[] = [];
  /** A copy was stopped: look at the needs again once the work in hand is done (this machine may take one back). */
  #rescan = false;
  #relookQueued = false;
  readonly #onStatus = (event: StatusEvent): void => this.#statusChanged(event);

  constructor(dae: LanHost, options: LanLinkOptions) {
    this.#dae = dae;
    this.#options = options;
  }

  start(): void {
    for (const entry of this.#dae.list()) if (isLan(entry) && entry.status === 'online') this.#onlineAt.set(entry.name, Date.now() - entry.uptime * 1000);
    this.#dae.on('daemon-status', this.#onStatus);
    this.#loop = this.#run();
  }

  /** Leaves the LAN (the daemons keep running; the LAN manager re-places them once this machine is gone). */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#dae.off('daemon-status', this.#onStatus);
    this.#current?.destroy();
    await this.#loop;
    // An install under way finishes (and is then stopped with the rest by the supervisor).
    await Promise.allSettled([...this.#inFlight]);
  }

  async #run(): Promise<void> {
    const { addresses } = this.#options;
    let failures = 0;
    // The LAN manager that answered last is tried first again; a failure moves on to the next one.
    let next = 0;
    // The same failure again and again (a LAN manager down, a clone refused) is logged once.
    let said = '';
    while (!this.#abort.signal.aborted) {
      const address = addresses[next % addresses.length]!;
      try {
        await this.#session(address);
        failures = 0;
        said = '';
      } catch (error) {
        failures++;
        next++;
        debug('LAN manager %s: %s', address, (error as Error).message);
        const code = (error as DaeError).code;
        const line = `LAN manager ${addresses.join(', ')}: ${code ? `${code}: ` : ''}${(error as Error).message}`;
        if (failures % addresses.length === 0 && line !== said) {
          this.#options.log(line);
          said = line;
        }
      }
      // Every address once at once, then backing off.
      const rounds = Math.floor(failures / addresses.length);
      await wait(failures % addresses.length !== 0 ? 0 : Math.min(50 * 2 ** rounds, RECONNECT_MAX_MS), this.#abort.signal);
    }
  }

  // One connection's life: auth, register, heartbeats and needs until it closes.
  async #session(address: string): Promise<void> {
    const client = await Client.connect({ url: `ws://${address}`, timeout: CALL_TIMEOUT_MS, connectTimeout: 2000 });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    this.#current = client;
    let heartbeat: NodeJS.Timeout | null = null;
    try {
      if (this.#abort.signal.aborted) return;
      client.on('push', (name: string, args: unknown[]) => {
        if (name === 'lan.needs' && Array.isArray(args[0])) this.#needs(args[0] as Need[], Array.isArray(args[1]) ? (args[1] as string[]) : []);
      });
      await client.call('auth', this.#options.token);
      const running = this.#dae.list().filter(isLan).map((entry) => ({
        instancename: entry.name, epoch: entry.lan.epoch, pid: entry.pid, ports: entry.ports, since: this.#since(entry.name),
      }));
      let answer: { ttl: number; keep: string[]; stop: string[] };
      try {
        answer = (await client.call('register', { ...this.#options.machine, key: this.#options.key, nonce: this.#nonce, running })) as typeof answer;
      } catch (error) {
        if ((error as DaeError).code === 'ERR_MACHINE_CLONED') this.#cloned(running.map((copy) => copy.instancename));
        throw error;
      }
      this.#client = client;
      // The LAN manager has a service for each kept copy that had a pid; any other online copy is reported again.
      this.#reported = new Map(running.filter((copy) => copy.pid !== null && answer.keep.includes(copy.instancename)).map((copy) => [copy.instancename, copy.pid!]));
      // Needs that arrived before the answer to `register` are acted on now.
      this.#needs(this.#latest, this.#machines);
      this.#options.log(`LAN: machine ${this.#options.machine.id} registered with ${address} (keeps ${answer.keep.length}, stops ${answer.stop.length})`);
      for (const name of answer.stop) void this.#release(name, 'placed elsewhere while this machine was away');
      heartbeat = setInterval(() => {
        // A lapsed registration is refused: connect and register again. (A false answer: the store is slow; go on.)
        client.call('heartbeat').catch(() => client.destroy());
        // And a look at the needs as last heard: whatever became free and was missed is claimed within this period.
        this.#needs(this.#latest, this.#machines);
      }, Math.max(50, Math.floor(answer.ttl / 3)));
      await closed;
      if (!this.#abort.signal.aborted) this.#options.log(`LAN: connection to ${address} closed`);
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      if (this.#client === client) this.#client = null;
      if (this.#current === client) this.#current = null;
      client.destroy();
    }
  }

  /** A read of the LAN manager (`needs`, `services`, `machines`) as this machine, for the dashboard's LAN view. */
  read(name: 'needs' | 'services' | 'machines'): Promise<unknown> {
    return this.#call(name);
  }

  #call(name: string, ...args: unknown[]): Promise<unknown> {
    if (this.#client === null) return Promise.reject(new DaeError('ERR_CONNECTION_CLOSED', 'not connected to a LAN manager'));
    return this.#client.call(name, ...args);
  }

  // The needs as they stand: stop copies whose claim moved on, report online ones, claim what is free.
  #needs(needs: Need[], machines: string[]): void {
    this.#latest = needs;
    this.#machines = machines;
    if (this.#client === null) return; // not registered yet: looked at once it is
    const byName = new Map(needs.map((need) => [need.instancename, need]));
    const me = this.#options.machine.id;
    const local = new Map(this.#dae.list().map((entry) => [entry.name, entry]));
    for (const entry of local.values()) {
      if (!isLan(entry) || this.#busy.has(entry.name) || this.#releasing.has(entry.name)) continue;
      const need = byName.get(entry.lan.need);
      if (need !== undefined && need.epoch < entry.lan.epoch) continue; // an older picture than our claim
      if (need === undefined) void this.#release(entry.name, 'its need was removed');
      else if (!holdsClaim(need, me, entry.lan.epoch)) void this.#release(entry.name, `its claim ended (${need.status}${need.reason ? `: ${need.reason}` : ''})`);
      // A satisfied need whose copy here is a run this session never reported (it started again with the supervisor,
      // after the LAN manager had lost its services) is reported too: the LAN manager checks it and has its service.
      else if (entry.status === 'online' && (need.status === 'claimed' || (need.status === 'satisfied' && this.#reported.get(entry.name) !== entry.pid))) void this.#guard(entry.name, () => this.#report(entry));
      else if (entry.status === 'stopped' || entry.status === 'errored') void this.#guard(entry.name, () => this.#down(entry, entry.reason));
    }
    // Load spreads: the least busy machine claims at once, busier ones a little later (the claims tell who holds what).
    let load = [...local.values()].filter(isLan).length + this.#busy.size;
    const held = new Map<string, number>(machines.filter((id) => id !== me).map((id) => [id, 0]));
    for (const need of needs) if (need.claim !== null && need.claim.machine !== me) held.set(need.claim.machine, (held.get(need.claim.machine) ?? 0) + 1);
    const least = Math.min(load, ...held.values());
    // Machines look at the free needs in different orders, so a burst of needs spreads instead of racing.
    for (const need of shuffled(needs)) {
      if (need.status !== 'unsatisfied' || this.#busy.has(need.instancename) || waitsFor(need, byName) !== null) continue;
      if (local.has(need.instancename)) {
        if (!isLan(local.get(need.instancename)!)) void this.#decline(need, `a daemon named ${need.instancename} is installed here by hand`);
        continue;
      }
      const delay = (load++ - least) * CLAIM_STAGGER_MS;
      void this.#guard(need.instancename, () => this.#take(need, delay));
    }
  }

  async #guard(name: string, work: () => Promise<void>): Promise<void> {
    if (this.#busy.has(name) || this.#abort.signal.aborted) return;
    this.#busy.add(name);
    const done = work();
    this.#inFlight.add(done);
    try {
      await done;
    } catch (error) {
      debug('%s: %s', name, (error as Error).message);
    } finally {
      this.#inFlight.delete(done);
      this.#busy.delete(name);
      if (this.#rescan) this.#relook();
    }
  }

  // Why this machine cannot run the need, or null.
  async #refusal(need: Need): Promise<string | null> {
    const verdict = canServe(need, this.#options.machine);
    if (!verdict.ok) return verdict.reason;
    if (!existsSync(need.script)) return `${need.script} does not exist on this machine`;
    // A symbolic link inside an allowed directory must not lead outside them.
    const real = realpathSync(need.script);
    const dirs = this.#options.machine.allowedscripts.map((dir) => (existsSync(dir) ? realpathSync(dir) : dir));
    if (!isAllowedScript(real, dirs)) return `${need.script} leads to ${real}, outside allowedscripts`;
    if (need.interpreter !== undefined && need.interpreter !== 'none') {
      if (!existsSync(need.interpreter)) return `interpreter ${need.interpreter} does not exist on this machine`;
      const runner = realpathSync(need.interpreter);
      if (!isAllowedScript(runner, dirs)) return `interpreter ${need.interpreter} leads to ${runner}, outside allowedscripts`;
    }
    for (const protocol of PROTOCOLS) {
      const port = need.ports[protocol];
      if (port !== undefined && !(await this.#dae.portAvailable(port, this.#options.machine.address))) {
        return `${protocol} port ${port} is taken on ${this.#options.machine.address}`;
      }
    }
    return null;
  }

  async #decline(need: Need, reason: string): Promise<void> {
    const key = `${need.instancename}\n${need.script}\n${need.pin}\n${JSON.stringify(need.ports)}\n${reason}`;
    if (this.#declined.get(need.instancename) === key) return;
    this.#declined.set(need.instancename, key);
    await this.#call('decline', need.instancename, reason).catch(() => this.#declined.delete(need.instancename));
  }

  async #take(seen: Need, delay: number): Promise<void> {
    if (delay > 0) await wait(delay, this.#abort.signal);
    const need = this.#latest.find((item) => item.instancename === seen.instancename);
    if (need === undefined || need.status !== 'unsatisfied' || this.#abort.signal.aborted) return;
    const refusal = await this.#refusal(need);
    if (refusal !== null) return this.#decline(need, refusal);
    this.#declined.delete(need.instancename);
    const { epoch, need: claimed } = (await this.#call('claim', need.instancename)) as { epoch: number; need: Need };
    const name = claimed.instancename;
    const started = Date.now();
    let entry: ListEntry;
    try {
      const refusal = await this.#refusal(claimed);
      if (refusal !== null) throw new DaeError('ERR_PLACEMENT', refusal);
      const options = {
        args: claimed.args, env: claimed.env, ports: claimed.ports,
        ...(claimed.interpreter !== undefined ? { interpreter: claimed.interpreter } : {}),
        ...(claimed.ready !== undefined ? { ready: claimed.ready } : {}),
      };
      entry = await this.#dae.installPlaced(name, claimed.script, options, {
        host: this.#options.machine.address, lan: { need: name, epoch },
      });
    } catch (error) {
      await this.#call('exited', { instancename: name, epoch, exitCode: null, signal: null, uptime: 0, reason: `install failed: ${(error as Error).message}` });
      return;
    }
    if (entry.status !== 'online') {
      const exit = entry.lastExit;
      await this.#release(name, 'it did not come online');
      await this.#call('exited', {
        instancename: name, epoch, exitCode: exit?.code ?? null, signal: exit?.signal ?? null, uptime: Date.now() - started,
        reason: `did not come online: ${entry.reason ?? entry.status}`,
      });
      return;
    }
    this.#onlineAt.set(name, Date.now());
    await this.#report(entry);
  }

  async #report(entry: ListEntry): Promise<void> {
    const epoch = entry.lan!.epoch;
    try {
      await this.#call('report', { instancename: entry.name, epoch, pid: entry.pid, ports: entry.ports, since: this.#since(entry.name), reported: this.#dae.hasReported(entry.name) });
      if (entry.pid !== null) this.#reported.set(entry.name, entry.pid);
    } catch (error) {
      const code = (error as DaeError).code;
      if (code === 'ERR_UNREACHABLE' || code === 'ERR_CONFLICT' || code === 'ERR_NO_SUCH_NEED') await this.#release(entry.name, (error as Error).message);
      else throw error;
    }
  }

  #since(name: string): string {
    return new Date(this.#onlineAt.get(name) ?? Date.now()).toISOString();
  }

  #release(name: string, why: string): Promise<void> {
    if (this.#releasing.has(name)) return Promise.resolve();
    const done = this.#uninstall(name, why);
    this.#inFlight.add(done);
    return done.finally(() => this.#inFlight.delete(done));
  }

  async #uninstall(name: string, why: string): Promise<void> {
    this.#releasing.add(name);
    try {
      this.#options.log(`LAN: stopping ${name}: ${why}`);
      await this.#dae.uninstall(name);
    } catch (error) {
      if ((error as DaeError).code !== 'ERR_NOT_INSTALLED') this.#options.log(`LAN: cannot stop ${name}: ${(error as Error).message}`);
    } finally {
      this.#releasing.delete(name);
      this.#onlineAt.delete(name);
      // This machine may take the need back (or another): look again once the work in hand is done.
      this.#rescan = true;
      if (this.#busy.size === 0) this.#relook();
    }
  }

  #relook(): void {
    if (this.#relookQueued || this.#abort.signal.aborted) return;
    this.#relookQueued = true;
    setImmediate(() => {
      this.#relookQueued = false;
      this.#rescan = false;
      this.#needs(this.#latest, this.#machines);
    });
  }

  // Another live process holds this machine's id (this home is a copy of its home): the LAN's needs run there, so the
  // copies this one runs are stopped, and it keeps asking (the original may be gone one day).
  #cloned(names: string[]): void {
    if (names.length === 0) return;
    this.#options.log(`LAN: another live process holds machine id ${this.#options.machine.id}: stopping this copy's LAN daemons (${names.join(', ')})`);
    for (const name of names) void this.#release(name, 'another process holds this machine id');
  }

  // A copy placed here went down by itself: the LAN decides what follows, not the local restart policy.
  #statusChanged(event: StatusEvent): void {
    if (event.to === 'online') this.#onlineAt.set(event.name, Date.now());
    const down = (event.from === 'online' || event.from === 'stopping') && (event.to === 'stopped' || event.to === 'errored');
    if (!down || this.#releasing.has(event.name)) return;
    const entry = this.#dae.list().find((item) => item.name === event.name);
    if (entry === undefined || !isLan(entry)) return;
    // While a claim is being taken or reported, the next needs update finds the copy down and reports it.
    if (!this.#busy.has(event.name)) void this.#guard(event.name, () => this.#down(entry, event.reason));
    else this.#rescan = true;
  }

  async #down(entry: LanEntry, reason: string | null): Promise<void> {
    const since = this.#onlineAt.get(entry.name) ?? Date.now();
    const exit = entry.lastExit;
    await this.#release(entry.name, `it went down (${reason ?? entry.status})`);
    await this.#call('exited', {
      instancename: entry.name, epoch: entry.lan.epoch, exitCode: exit?.code ?? null, signal: exit?.signal ?? null,
      uptime: Date.now() - since, reason: reason ?? undefined,
    });
  }
}
