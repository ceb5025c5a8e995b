// `Dae`, the supervisor: a Daemon that installs, runs, watches and restarts the daemons of one machine.
import { unlinkSync } from 'node:fs';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Daemon } from '../daemon/daemon.js';
import { AUTH_DEADLINE_MS } from '../daemon/gate.js';
import type { Guest } from '../daemon/session.js';
import type { ReadyReport } from '../daemon/supervised.js';
import { DaeError } from '../errors.js';
import { checkConfig, type DaeConfig } from './config.js';
import { acquireLock, homePaths, loadMachineIdentity, loadToken, prepareHome, releaseLock, removeLeftovers, writePrivate, type HomePaths } from './home.js';
import type { LanLink } from './lan-link.js';
import { LogLink } from './log-link.js';
import { lanView, LanViews } from './lan-view.js';
import type { LogsOptions } from '../logs/read.js';
import { Managed, type ListEntry, type StatusEvent } from './managed.js';
import { Group, type ReloadResult } from './group.js';
import { describeDaemon, publicPart, type DaemonInfo, type PublicInfo } from './info.js';
import { portTaken } from './ports.js';
import { Leases } from './leases.js';
import { dependentsOf, waitingFor } from './order.js';
import { newSpec } from './new-spec.js';
import type { DaemonFigures } from './metrics.js';
import { openHttpDoor, supervisorPage } from './http-door.js';
import { ownLog, type OwnLog } from './own-log.js';
import { Feed } from './feed.js';
import type { HttpPage } from '../daemon/door.js';
import { processStartTicks, sampleGroups } from './process.js';
import { reapRun, scanRuns } from './runs.js';
import { checkInstances, checkName, type DaemonSpec, type InstallOptions, type LanPlacement, type PersistedState } from './spec.js';
import { StateStore, stateError } from './state-store.js';
import { decideTakeBack } from './take-back.js';

export interface DaeOptions {
  /** The home (default `DAE_HOME`, else `~/.dae`). */
  home?: string;
  /** Config keys (as in daeconfig.json); missing keys take their defaults. */
  config?: Partial<DaeConfig> | Record<string, unknown>;
  /** Echo the supervisor's log lines to stdout too (foreground). */
  echo?: boolean;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The machine manager. `await new Dae().start()`; then `install(name, script)`, `list()`, … */
export class Dae extends Daemon {
  override name = 'Dae';
  readonly config: DaeConfig;
  readonly paths: HomePaths;
  readonly #groups = new Map<string, Group>();
  readonly #feed = new Feed();
  readonly #state: StateStore;
  readonly #log: OwnLog;
  #token = '';
  #locked = false;
  #sampler: NodeJS.Timeout | null = null;
  #lan: LanLink | null = null;
  #httpError: string | null = null;
  readonly #lanViews = new LanViews(() => lanView(this.#lan === null ? null : (read) => this.#lan!.read(read), this.paths.root));
  readonly #logs: LogLink;
  readonly #leases: Leases;
  readonly #blocked = new Set<Managed>();
  #starting: Promise<void> | null = null;
  #shuttingDown: Promise<void> | null = null;
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: DaeOptions = {}) {
    const config = checkConfig(options.config ?? {}, 'config');
    // The supervisor's own DAE_* variables (if it runs under another dae) say nothing about it.
    super({ name: 'Dae', host: config.host, port: config.port, env: {}, socket: false, limits: { authTimeout: AUTH_DEADLINE_MS } });
    this.config = config;
    this.paths = homePaths(options.home);
    this.#log = ownLog(this.paths.log, config.logs, options.echo === true);
    this.#state = new StateStore(this.paths.state, (line) => this.#log(line), () => this.#unblock());
    this.#logs = new LogLink(this.paths.root, config.logs, (line) => this.#log(line, 'err'));
    this.#leases = new Leases(() => [...this.#groups.values()].map((group) => group.spec), config.portrangestart);
    // Each install in flight waits for its daemon's status: dozens at once are normal.
    this.setMaxListeners(0);
  }

  commands = {
    list: { reply: 'daemons', run: () => this.list() },
    /** The sampler's last samples of each copy (or of one daemon's): read-only, like `list`. */
    samples: (name: string | null = null) => this.#feed.samples(name === null ? undefined : this.#get(name).name),
    /** A daemon's last status events (read-only, like `list`). */
    timeline: (name: string) => this.#feed.timeline(this.#get(name).name),
    // Arguments (`--password=…`), cwd and environment names only to authenticated callers.
    info: { guest: true, run: (guest: Guest, name: string) => (guest.authenticated ? this.info(name) : this.publicInfo(name)) },
    install: { protected: true, run: (name: string, script: string, options: InstallOptions = {}) => this.install(name, script, options) },
    uninstall: { protected: true, run: (name: string) => this.uninstall(name) },
    start: { protected: true, run: (name: string) => this.startDaemon(name) },
    stop: { protected: true, run: (name: string) => this.stopDaemon(name) },
    restart: { protected: true, run: (name: string) => this.restartDaemon(name) },
    reload: { protected: true, run: (name: string) => this.reload(name) },
    scale: { protected: true, run: (name: string, count: number) => this.scale(name, count) },
    logs: { protected: true, run: (name: string, options: number | LogsOptions = {}) => this.logs(name, typeof options === 'number' ? { lines: options } : options) },
    events: { guest: true, run: (guest: Guest) => this.#feed.subscribe(guest) },
    /** The LAN for the dashboard, or null: see `lan-view.ts`. */
    lan: { guest: true, run: (guest: Guest) => this.#lanViews.get(guest.authenticated) },
    /** A live tail of a daemon's log (the dashboard's): see `LogLink.tail`. */
    tail: { protected: true, guest: true, run: (guest: Guest, name: string, lines: number = 100) => this.#logs.tail(guest, this.#get(name).name, lines) },
    kill: {
      protected: true,
      guest: true,
      run: (guest: Guest, keepDaemons: boolean = false) => {
        // Answer first, then go: the reply reaches the caller before the connection closes.
        setImmediate(() => void this.shutdown({ keepDaemons: keepDaemons === true }));
        return { pid: process.pid, keepDaemons: keepDaemons === true };
      },
    },
    ready: { guest: true, run: (guest: Guest, report: ReadyReport) => this.#ready(guest, report) },
    alive: {
      guest: true,
      run: (guest: Guest, seq: number) => {
        for (const managed of this.#everyCopy()) if (managed.channel === guest) managed.alive(seq);
      },
    },
  };

  /** Starts the supervisor: home, lock, token, doors, then every installed daemon back as it was. */
  override start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const log = (line: string): void => this.#log(line);
    prepareHome(this.paths, log);
    const lock = await acquireLock(this.paths);
    if (!lock.ok) throw new DaeError('ERR_ALREADY_RUNNING', `already running (pid ${lock.pid}, home ${this.paths.root})`);
    this.#locked = true;
    try {
      removeLeftovers(this.paths);
      // The log process starts (or is found) meanwhile; the first spawn waits for it.
      this.#logs.ensure().catch((error: Error) => this.#log(error.message, 'err'));
      this.#token = loadToken(this.paths, log);
      const state = this.#state.load();
      await super.start().catch((error: unknown) => {
        throw /EADDRINUSE/.test((error as Error).message) ? portTaken(this.config.host, this.config.port, error) : error;
      });
      // Its doors, for whoever has the home (`dae dashboard`): `{"tcp": <port>, "http": <port or null>, "host": <address>}`,
      // and `"httpError"` when its HTTP door could not open.
      writePrivate(this.paths.portFile, `${JSON.stringify({ tcp: this.port, http: this.doors().http ?? null, host: this.config.host, ...(this.#httpError !== null ? { httpError: this.#httpError } : {}) })}\n`);
      this.#log(`supervisor pid ${process.pid} on ${this.config.host}:${this.port} and ${this.paths.socket}`);
      await this.#takeBack(state);
      // A full disk does not keep the supervisor down: what could not be written is retried.
      await this.#persist().catch(() => undefined);
      this.#sampler = setInterval(() => this.#sample(), this.config.sampleInterval);
      this.#sampler.unref();
      await this.#joinLan();
    } catch (error) {
      // Nothing this attempt spawned is left running unrecorded.
      await Promise.all([...this.#groups.values()].map((group) => group.stop('the supervisor failed to start').catch(() => undefined)));
      await this.#logs.stop().catch(() => undefined);
      await super.stop().catch(() => undefined);
      this.#unlock();
      throw error;
    }
  }

  // Every run an earlier supervisor of this home left: adopted when alive and recorded, killed when its record says it
  // should not run or cannot be adopted, and any process of this home that no record explains is killed too.
  async #takeBack(state: PersistedState): Promise<void> {
    const found = await scanRuns();
    // A program that rewrote its environment (its secret gone from it) is still proven by its pid and start time.
    for (const { run } of state.daemons) {
      if (run?.pid == null || run.startTicks === undefined || found.some((item) => item.secret === run.secret)) continue;
      if (processStartTicks(run.pid) === run.startTicks) found.push({ pid: run.pid, pgid: run.pid, started: run.startTicks, secret: run.secret, runtimeDir: this.paths.run });
    }
    const plan = decideTakeBack(state, found, { runtimeDir: this.paths.run, followsLan: this.config.lanmanageraddress !== null });
    for (const spec of plan.giveBack) {
      this.#log(`giving ${spec.name} back (it ran for the LAN's need ${spec.lan!.need}; this supervisor follows no LAN manager): stopped and forgotten`);
    }
    for (const stray of plan.strays) this.#log(`killing pid ${stray.pid}: a process of this home that no record knows`);
    for (const { spec, instance, restarts, adopt } of plan.keep) {
      const managed = (this.#groups.get(spec.name) ?? this.#addGroup(spec)).add(instance, restarts);
      if (adopt !== null) managed.adopt(adopt);
    }
    // Nothing left over may hold a port a fresh run needs.
    await Promise.all(plan.reap.map((run) => reapRun(run)));
    for (const group of this.#groups.values()) {
      // An instance with no record at all is added too; instance 0 first, as always.
      for (let instance = 0; instance < group.count; instance++) group.members[instance] ??= group.add(instance);
      if (group.spec.stopped) continue;
      if (group.needsRegroup) this.#regroup(group);
      else void group.start().catch((error: Error) => this.#log(`${group.name}: ${error.message}`));
    }
  }

  /** Stops every daemon, then the supervisor. */
  override stop(): Promise<void> {
    return this.shutdown({ keepDaemons: false });
  }

  /** Stops the supervisor; with `keepDaemons` the daemons keep running for the next supervisor to adopt. */
  shutdown(options: { keepDaemons: boolean }): Promise<void> {
    this.#shuttingDown ??= (async () => {
      // A stop during the start waits for it: what it takes back is stopped, and the state is never written half-read.
      if (this.#starting === null) return;
      if (!(await this.#starting.then(() => true, () => false))) return;
      if (this.#sampler) clearInterval(this.#sampler);
      await this.#lan?.stop();
      if (options.keepDaemons) {
        for (const group of this.#groups.values()) group.detach();
        this.#logs.detach();
      } else {
        await Promise.all([...this.#groups.values()].map((group) => group.stop('the supervisor stopped')));
        // Stopped with its daemons means nothing of this home runs on.
        const { reap } = decideTakeBack({ version: 1, daemons: [] }, await scanRuns(), { runtimeDir: this.paths.run, followsLan: true });
        await Promise.all(reap.map((run) => reapRun(run)));
        // Their last words are in the pipes: the log process writes them before it goes.
        await this.#logs.stop().catch((error: Error) => this.#log(`the log process did not stop: ${error.message}`, 'err'));
      }
      this.#state.close();
      await this.#persist().catch(() => undefined);
      this.#log(options.keepDaemons ? 'supervisor stopped; daemons keep running' : 'supervisor stopped with its daemons');
      await super.stop();
      try {
        unlinkSync(this.paths.portFile);
      } catch {
        // already gone
      }
      this.#unlock();
      this.emit('exit');
    })();
    return this.#shuttingDown;
  }

  // Lifecycle operations on one daemon run one after another; none starts once the supervisor is stopping.
  #serial<T>(name: string, operation: () => Promise<T>): Promise<T> {
    if (this.#shuttingDown) return Promise.reject(new DaeError('ERR_SHUTTING_DOWN', 'the supervisor is stopping'));
    const previous = this.#queues.get(name) ?? Promise.resolve();
    const next = previous.then(operation, operation);
    const settled = next.catch(() => undefined);
    this.#queues.set(name, settled);
    void settled.then(() => {
      if (this.#queues.get(name) === settled) this.#queues.delete(name);
    });
    return next;
  }

  /** Installs and starts a daemon; resolves with its entry once it is online or has failed to start. */
  async install(name: string, script: string, options: InstallOptions = {}): Promise<ListEntry> {
    checkName(name);
    return this.#serial(name, () => this.#install(name, script, options, null));
  }

  /** Installs a daemon the LAN manager placed here: it binds `host` and is never restarted locally (the LAN is). */
  installPlaced(name: string, script: string, options: InstallOptions, placement: { host: string; lan: LanPlacement }): Promise<ListEntry> {
    checkName(name);
    return this.#serial(name, () => this.#install(name, script, { ...options, restart: 'never' }, placement));
  }

  /** True when the daemon's current run sent a dae ready report (it is a dae daemon). */
  hasReported(name: string): boolean {
    return this.#groups.get(name)?.members[0]?.run?.reported === true;
  }

  /** True when `port` is leased to no daemon here and can be bound on `host` now. */
  portAvailable(port: number, host: string): Promise<boolean> {
    return this.#leases.available(port, host);
  }

  async #install(name: string, script: string, options: InstallOptions, placement: { host: string; lan: LanPlacement } | null): Promise<ListEntry> {
    if (this.#groups.has(name)) throw new DaeError('ERR_ALREADY_INSTALLED', `${name} is already installed (uninstall it first)`);
    const { spec, ports } = newSpec(name, script, options, { config: this.config, dependencies: this.#dependencies(), placement });
    const group = this.#addGroup(spec);
    for (let instance = 0; instance < group.count; instance++) group.add(instance);
    const managed = group.members[0]!;
    try {
      await this.#leases.take(spec, spec.host ?? this.config.host, ports);
    } catch (error) {
      this.#groups.delete(name);
      throw error;
    }
    // The spec and the first run's record are written in one write, before the spawn; if it fails, nothing was installed.
    const outcome = await managed.startAndSettle();
    const entry = managed.entry();
    // Waiting for its `--after` daemons: nothing was spawned, so nothing was written yet.
    const unwritten = outcome === 'unwritten' ? entry.reason : outcome === 'waiting' ? await this.#persist().then(() => null, (error: Error) => error.message) : null;
    if (unwritten !== null) {
      this.#groups.delete(name);
      this.#blocked.delete(managed);
      throw stateError(this.paths.state, unwritten, `${name} was not installed`);
    }
    this.#log(`installed ${name}: ${spec.script} ports ${JSON.stringify(spec.leases)}${placement ? ` for need ${placement.lan.need} (epoch ${placement.lan.epoch})` : ''}`);
    if (group.count > 1 && entry.status === 'online') {
      try {
        await group.start();
      } catch (error) {
        // Its first run said it binds its own sockets: copies cannot share them, so nothing stays installed.
        await this.#forget(group, 'not installed');
        throw error;
      }
    }
    return group.entries().find((other) => other.status !== 'online') ?? entry;
  }

  // A machine manager: follow the LAN manager's needs (the config names it). Loaded only then.
  async #joinLan(): Promise<void> {
    const { lanmanageraddress, lantoken, advertisedaddress, allowedscripts } = this.config;
    if (lanmanageraddress === null || lantoken === null) return;
    const addresses = Array.isArray(lanmanageraddress) ? lanmanageraddress : [lanmanageraddress];
    const { id, key } = loadMachineIdentity(this.paths, (line) => this.#log(line));
    const machine = { id, address: advertisedaddress, allowedscripts };
    this.#log(`machine manager ${machine.id} (${advertisedaddress}) of the LAN at ${addresses.join(', ')}`);
    const { LanLink } = await import('./lan-link.js');
    this.#lan = new LanLink(this, { addresses, token: lantoken, key, machine, log: (line) => this.#log(line) });
    this.#lan.start();
  }

  /** Stops a daemon, forgets it and releases its ports. */
  uninstall(name: string): Promise<{ name: string; uninstalled: true }> {
    return this.#serial(name, async () => {
      const group = this.#get(name);
      const dependents = dependentsOf(name, this.#dependencies());
      if (dependents.length > 0) throw new DaeError('ERR_BAD_ARGS', `${name} is named by --after of ${dependents.join(', ')}: uninstall ${dependents.length === 1 ? 'it' : 'them'} first`);
      await this.#forget(group, 'uninstalled');
      this.#log(`uninstalled ${name}`);
      return { name, uninstalled: true as const };
    });
  }

  // Stops every copy of it and forgets it: stopped on disk first, so a crash from here on never brings it back.
  async #forget(group: Group, reason: string): Promise<void> {
    const { name, spec } = group;
    const wasStopped = spec.stopped;
    await this.#commit(`${name} was not uninstalled`, () => (spec.stopped = true), () => (spec.stopped = wasStopped));
    await group.stop(reason);
    this.#groups.delete(name);
    for (const managed of group.all()) this.#blocked.delete(managed);
    await this.#logs.forget(name);
    this.#feed.gone(name);
    await this.#commit(`${name} is stopped, but still installed: uninstall it again`, () => undefined, () => this.#groups.set(name, group));
  }

  // A daemon the LAN placed is started and restarted by the LAN (a local stop hands it back to the LAN).
  #local(name: string): Group {
    const group = this.#get(name);
    if (group.spec.lan) throw new DaeError('ERR_PLACEMENT', `${name} runs for the LAN manager's need ${group.spec.lan.need}: the LAN starts and restarts it (dae stop gives it back)`);
    return group;
  }

  // Marks it to run (or not) in memory and on disk together.
  async #want(group: Group, stopped: boolean, what: string): Promise<void> {
    const was = group.spec.stopped;
    await this.#commit(`${group.name} was not ${what}`, () => (group.spec.stopped = stopped), () => (group.spec.stopped = was));
  }

  // One entry for a verb on the whole group: the first instance that is not as wanted, else instance 0's.
  #summary(group: Group, wanted: string): ListEntry {
    const entries = group.entries();
    return entries.find((entry) => entry.status !== wanted) ?? entries[0]!;
  }

  /** Starts an installed daemon (every instance) that is stopped or errored. */
  startDaemon(name: string): Promise<ListEntry> {
    return this.#serial(name, async () => {
      const group = this.#local(name);
      await this.#want(group, false, 'started');
      for (const managed of group.members) managed.resetHistory();
      await group.start();
      return this.#summary(group, 'online');
    });
  }

  /** Stops a daemon (every instance) and keeps it stopped (also across supervisor restarts). */
  stopDaemon(name: string): Promise<ListEntry> {
    return this.#serial(name, async () => {
      const group = this.#get(name);
      await this.#want(group, true, 'stopped');
      for (const managed of group.all()) this.#blocked.delete(managed);
      await group.stop();
      await this.#persist().catch(() => undefined);
      return this.#summary(group, 'stopped');
    });
  }

  /** Stops (if running) and starts again, every instance; clears `errored` and the backoff. Its sockets stay held:
   * connections wait in the backlog for the next run. */
  restartDaemon(name: string): Promise<ListEntry> {
    return this.#serial(name, async () => {
      const group = this.#local(name);
      await this.#want(group, false, 'restarted');
      await group.restart();
      return this.#summary(group, 'online');
    });
  }

  /** Zero-downtime restart on the held sockets, one instance at a time (see `Group.reload`). */
  reload(name: string): Promise<ReloadResult> {
    return this.#serial(name, async () => {
      const group = this.#local(name);
      await this.#want(group, false, 'reloaded');
      return group.reload();
    });
  }

  /** Runs `count` instances of a daemon. */
  scale(name: string, count: number): Promise<ListEntry[]> {
    return this.#serial(name, async () => {
      const group = this.#local(name);
      checkInstances(count);
      await group.scale(count, (change, undo) => this.#commit(`${name} was not scaled`, change, undo));
      this.#feed.gone(name, count);
      return group.entries();
    });
  }

  /** Every daemon, one entry per instance (CPU and memory come from the background sampler). */
  list(): ListEntry[] {
    return [...this.#groups.values()].flatMap((group) => group.entries());
  }

  info(name: string): DaemonInfo {
    return describeDaemon(this.#get(name), this.paths.logs);
  }

  /** What anyone who may `list` may see of a daemon: `info` without args, cwd and environment names. */
  publicInfo(name: string): PublicInfo {
    return publicPart(this.info(name));
  }

  /** A daemon's newest log lines as stored (`<time> <out|err> <text>`, both streams in the order they came), oldest
   * first; the supervisor's own with `name` null. */
  async logs(name: string | null, options: LogsOptions = {}): Promise<string[]> {
    if (name !== null) this.#get(name);
    return this.#logs.read(name, options);
  }

  // Its HTTP door's pages get their live feed on the same port: a WebSocket session (read-only without the token).
  protected override upgradesHttp(): boolean {
    return true;
  }

  // `GET /metrics` (read-only, like `list`) of the copies `list` shows (a reload's new and old runs are not), and the
  // dashboard.
  protected override httpPage(path: string, accept: string | undefined): Promise<HttpPage | null> {
    const daemons = (): DaemonFigures[] => [...this.#groups.values()].flatMap((group) => group.members).map((managed) => ({ entry: managed.entry(), ...managed.usage }));
    return supervisorPage(path, accept, daemons, () => this.#lanViews.get(true));
  }

  protected override async openDoors(): Promise<void> {
    await this.listenUnix(this.paths.socket, true);
    const { http, host } = this.config;
    if (http !== null) this.#httpError = await openHttpDoor(() => this.listenHttpDoor(http, host), host, http);
    if (this.#httpError !== null) this.#log(`no HTTP door (dashboard, metrics): ${this.#httpError}`, 'err');
  }

  // The control socket is the supervisor's unix door.
  protected override doors(): Record<string, number | string> {
    return { ...super.doors(), unix: this.paths.socket };
  }

  protected override hasToken(): boolean {
    return this.#token !== '';
  }

  protected override checkToken(token: unknown): boolean {
    return typeof token === 'string' && this.#token !== '' && timingSafeEqual(digest(token), digest(this.#token));
  }

  #ready(guest: Guest, report: ReadyReport): true {
    if (report === null || typeof report !== 'object' || typeof report.name !== 'string' || typeof report.ports !== 'object' || report.ports === null) {
      throw new DaeError('ERR_BAD_ARGS', 'ready takes {name, pid, secret, ports}');
    }
    const managed = this.#groups.get(report.name)?.owner(report.secret);
    if (managed === undefined) {
      guest.endAfterReplies();
      throw new DaeError('ERR_AUTH_FAILED', `no daemon ${JSON.stringify(report.name)} with that secret`);
    }
    managed.ready(guest, report);
    // The secret proved the child: its liveness channel stays open without auth.
    guest.subscribed();
    return true;
  }

  // Changes the desired state in memory and on disk together: when the write fails, the change is undone.
  async #commit(what: string, change: () => unknown, undo: () => unknown): Promise<void> {
    change();
    try {
      await this.#persist();
    } catch (error) {
      undo();
      throw stateError(this.paths.state, (error as Error).message, what);
    }
  }

  #addGroup(spec: DaemonSpec): Group {
    const group = new Group(spec, {
      make: (group, instance, restarts) => this.#copy(group, instance, restarts),
      persist: () => this.#persist(),
      replaced: (group, instance, reason) => this.#statusChanged({ name: group.name, instance, from: 'online', to: 'online', at: new Date().toISOString(), reason }),
    });
    this.#groups.set(spec.name, group);
    return group;
  }

  // A copy of a daemon: an instance, or a reload's new run (whose status is its own until it takes over).
  #copy(group: Group, instance: number, restarts: number): Managed {
    const managed: Managed = new Managed(group.spec, {
      config: this.config,
      logPipes: (name, instance) => this.#logs.pipes(name, instance),
      runEnded: (name, instance) => this.#logs.runEnded(name, instance),
      logBehind: (name) => this.#logs.behind(name),
      runtimeDir: this.paths.run,
      supervisorPort: () => this.port,
      persist: () => this.#persist(),
      blocked: (managed) => this.#block(managed),
      waitingFor: (spec) => waitingFor(spec.after ?? [], (dependency) => this.#groups.get(dependency)?.online === true),
      othersRun: (managed) => group.othersRun(managed),
      closing: () => this.#shuttingDown !== null,
      holdFailed: () => this.#regroup(group),
      statusChanged: (event) => (group.shows(managed)
        ? this.#statusChanged(event)
        : this.#log(`${event.name} (instance ${event.instance}, ${group.isFresh(managed) ? 'new' : 'old'} run of a reload): ${event.from} -> ${event.to}${event.reason ? ` (${event.reason})` : ''}`)),
    }, { restarts, instance, sockets: group.sockets });
    return managed;
  }

  #get(name: string): Group {
    const group = typeof name === 'string' ? this.#groups.get(name) : undefined;
    if (group === undefined) throw new DaeError('ERR_NOT_INSTALLED', `no daemon named ${JSON.stringify(name)} is installed`);
    return group;
  }

  // Copies of a daemon whose sockets adopted runs listen on cannot start beside them (no SO_REUSEPORT): the whole group
  // restarts once, after which its sockets are held and each copy restarts on its own again.
  #regroup(group: Group): void {
    if (!group.runsOwnCopies) return;
    this.#log(`${group.name}: restarting every instance, so that this supervisor holds its sockets (adopted runs hold them now)`);
    void this.#serial(group.name, async () => {
      if (this.#groups.get(group.name) === group && !group.spec.stopped) await group.restart();
    }).catch((error: Error) => this.#log(`${group.name}: ${error.message}`));
  }

  // Every copy of every daemon that may have a process.
  #everyCopy(): Managed[] {
    return [...this.#groups.values()].flatMap((group) => group.all());
  }

  // Writes the whole state durably; a failure is logged (once until a write succeeds again) and rejects.
  #persist(): Promise<void> {
    return this.#state.write({ version: 1, daemons: [...this.#groups.values()].map((group) => group.record()) });
  }

  // A spawn waits for the state to be writable: the store tries again every second.
  #block(managed: Managed): void {
    this.#blocked.add(managed);
    if (!this.#shuttingDown) this.#state.retry(() => this.#persist());
  }

  // A write succeeded: the spawns it held back go ahead.
  #unblock(): void {
    const waiting = [...this.#blocked];
    this.#blocked.clear();
    if (this.#shuttingDown) return;
    for (const managed of waiting) {
      if (this.#groups.get(managed.name)?.members.includes(managed) === true && !managed.spec.stopped && managed.run === null) void managed.start();
    }
  }

  #statusChanged(event: StatusEvent): void {
    this.#log(`${event.name}: ${event.from} -> ${event.to}${event.reason ? ` (${event.reason})` : ''}`);
    this.#feed.event(event, this.#groups.get(event.name)?.members[event.instance]?.entry() ?? null);
    this.emit('daemon-status', event);
    // A daemon online: those waiting for it start when nothing else holds them (start() looks again); instances of it
    // that never ran (its first run failed at install) start now.
    if (event.to === 'online' && !this.#shuttingDown) {
      const group = this.#groups.get(event.name);
      // (Not while a command on it runs: install, start and scale start them themselves.)
      if (group !== undefined && !group.spec.stopped && group.spec.sockets === 'inherit' && !this.#queues.has(group.name)) {
        for (const managed of group.members) if (managed.run === null && managed.status === 'stopped' && managed.neverEnded) void managed.start();
      }
      for (const managed of this.#everyCopy()) if (managed.status === 'waiting' && managed.spec.after?.includes(event.name)) void managed.start();
    }
  }

  // Every daemon's `--after`, by name.
  #dependencies(): Map<string, readonly string[]> {
    return new Map([...this.#groups.values()].map((group) => [group.name, group.spec.after ?? []]));
  }

  #sample(): void {
    const now = Date.now();
    const groups = sampleGroups();
    for (const managed of this.#everyCopy()) managed.sample(now, groups);
    // Which daemons' output is held back, for the next `list`.
    void this.#logs.poll();
    // Subscribers get each tick's samples as they get status events.
    this.#feed.tick(this.list(), now);
    this.emit('sampled');
  }

  #unlock(): void {
    if (!this.#locked) return;
    this.#locked = false;
    releaseLock(this.paths);
  }
}
