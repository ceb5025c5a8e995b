// One installed daemon's lifecycle: wait for its dependencies, spawn or adopt, ready and health (watch.ts), exit,
// restart policy, stop. Status is explicit.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { isIP } from 'node:net';
import { DaeError } from '../errors.js';
import { createDebug } from '../debug.js';
import type { Guest } from '../daemon/session.js';
import type { ReadyReport } from '../daemon/supervised.js';
import type { DaeConfig, Protocol } from './config.js';
import type { LogPipes } from './log-link.js';
import { decideRestart, describeExit, FRESH_HISTORY, type ExitFacts, type RestartHistory } from './policy.js';
import { CLOCK_TICKS, groupAlive, isAlive, killGroup, portHolder, processStartTicks, spawnProgram, type GroupSample } from './process.js';
import { defaultHealth, parseHealth, parseReady, probesPort } from './readiness.js';
import { RunWatch, type HealthResult } from './watch.js';
import { SocketKeeper } from './held.js';
import { reapRun, signalRun } from './runs.js';
import type { DaemonSpec, RunRecord, Status } from './spec.js';

const debug = createDebug('managed');
const POLL_MS = 20;

export interface StatusEvent {
  name: string;
  /** Which copy of the daemon (0 unless it runs `--instances`). */
  instance: number;
  from: Status;
  to: Status;
  at: string;
  reason: string | null;
}

/** What a managed daemon needs from its supervisor. */
export interface ManagedContext {
  readonly config: DaeConfig;
  readonly runtimeDir: string;
  /** Its run's stdout and stderr: the log process's pipes. */
  logPipes(name: string, instance: number): Promise<LogPipes>;
  /** A run has exited: its last partial line ends here. */
  runEnded(name: string, instance: number): void;
  /** Its log path is behind the disk: its output waits (backpressure). */
  logBehind(name: string): boolean;
  /** The supervisor's pid and port, for the child's environment. */
  readonly supervisorPort: () => number;
  /** Writes the whole state durably; rejects when it cannot. */
  persist(): Promise<void>;
  /** A spawn did not happen because its record could not be written: start it again once a write succeeds. */
  blocked(managed: Managed): void;
  /** The first of its `--after` daemons that is not online yet, or null. */
  waitingFor(spec: DaemonSpec): string | null;
  /** Whether another copy of it (an instance, a reload's new run) still runs or is to run on the shared sockets. */
  othersRun(managed: Managed): boolean;
  /** The supervisor is stopping: nothing starts any more. */
  closing(): boolean;
  /** Its held sockets could not be bound (someone holds a port: an adopted copy of it, or a stranger). */
  holdFailed(managed: Managed): void;
  statusChanged(event: StatusEvent): void;
}

/** One line of `list`: observed state, never secrets or environment values. */
export interface ListEntry {
  name: string;
  /** Which copy (0 unless it runs `--instances`): one entry each, with the same name. */
  instance: number;
  pid: number | null;
  status: Status;
  ports: Partial<Record<Protocol, number>>;
  socket: string | null;
  restarts: number;
  uptime: number;
  cpu: number;
  memory: number;
  /** How the last run ended, and why it ended when the supervisor ended it (hung, over max-memory, …). */
  lastExit: { code: number | null; signal: string | null; at: string; reason: string | null } | null;
  reason: string | null;
  /** Who holds a leased port when the daemon cannot have it. */
  portHeldBy?: { port: number; pid: number | null };
  script: string;
  adopted: boolean;
  /** Placed by the LAN manager: the need it satisfies. */
  lan?: { need: string; epoch: number };
  /** The last health check (programs probed by `--health`), null before one. */
  lastHealth: HealthResult | null;
  /** Its log path is behind the disk: its output is held back in the pipe (its writes wait) until it catches up. */
  logBehind: boolean;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What became of a `start()`: spawned; `waiting` (for an `--after` daemon to be online); `unwritten` (the state could
 * not be written, so nothing was spawned); `failed` (the spawn itself failed); `skipped` (a run exists already, or it was
 * stopped meanwhile). */
export type StartOutcome = 'spawned' | 'waiting' | 'unwritten' | 'failed' | 'skipped';

export class Managed {
  spec: DaemonSpec;
  run: RunRecord | null = null;
  #status: Status = 'stopped';
  #ctx: ManagedContext;
  #child: ChildProcess | null = null;
  #channel: Guest | null = null;
  #reason: string | null = null;
  #lastExit: ListEntry['lastExit'] = null;
  #restarts: number;
  #history: RestartHistory = FRESH_HISTORY;
  #socket: string | null = null;
  #portHeldBy: ListEntry['portHeldBy'];
  #exitWaiters: Array<() => void> = [];
  #stopRequested = false;
  #detached = false;
  #lastRun: RunRecord | null = null;
  #spawning: Promise<StartOutcome> | null = null;
  #killReason: string | null = null;
  #exitSeen = false;
  #restartTimer: NodeJS.Timeout | null = null;
  #pollTimer: NodeJS.Timeout | null = null;
  #watch: RunWatch | null = null;
  /** The sockets held for it (`sockets: inherit`), bound while it should run: across crashes, restarts and backoff;
   * one keeper for all its instances. */
  readonly #sockets: SocketKeeper;
  readonly instance: number;
  /** Closes the IPC channel of a first run offered to hand its sockets over. */
  #endOffer: (() => void) | null = null;
  #neverReady = false;
  /** Those waiting for a start to settle: online, or not (errored, backoff, stopped). */
  #settleWaiters: Array<() => void> = [];
  #cpu = 0;
  #memory = 0;
  #overMemory = 0;
  #lastSample: { ticks: number; at: number } | null = null;

  /** `restarts`: the count a previous supervisor had reached (kept in the state, so adoption does not reset it). */
  constructor(spec: DaemonSpec, ctx: ManagedContext, options: { restarts?: number; instance?: number; sockets?: SocketKeeper } = {}) {
    this.spec = spec;
    this.#ctx = ctx;
    this.#restarts = options.restarts ?? 0;
    this.instance = options.instance ?? 0;
    this.#sockets = options.sockets ?? new SocketKeeper();
  }


  get restarts(): number {
    return this.#restarts;
  }

  get status(): Status {
    return this.#status;
  }

  get name(): string {
    return this.spec.name;
  }

  get channel(): Guest | null {
    return this.#channel;
  }

  /**
   * Spawns a fresh run (never a second one beside a live run). The run's secret is written to the state before the
   * spawn, so whatever a crash leaves running is known to the next supervisor; a spawn whose record cannot be written
   * does not happen (`unwritten`: errored, and started again once a write succeeds).
   */
  start(): Promise<StartOutcome> {
    if (this.#detached || this.#ctx.closing() || this.#spawning !== null || (this.run !== null && !this.#exitSeen)) return Promise.resolve('skipped');
    this.#clearTimer('restart');
    this.#stopRequested = false;
    this.#killReason = null;
    this.#neverReady = false;
    // Its `--after` daemons first: the supervisor starts it again when they are online.
    const dependency = this.#ctx.waitingFor(this.spec);
    if (dependency !== null) {
      this.#setStatus('waiting', `waiting for ${dependency} to be online`);
      return Promise.resolve('waiting');
    }
    this.#exitSeen = false;
    this.#socket = null;
    const run: RunRecord = { pid: null, secret: randomBytes(24).toString('hex'), startedAt: Date.now() };
    this.run = run;
    this.#setStatus('starting', null);
    const spawning = this.#writeAheadAndSpawn(run);
    this.#spawning = spawning;
    void spawning.finally(() => {
      if (this.#spawning === spawning) this.#spawning = null;
    });
    return spawning;
  }

  /** Starts a run and resolves once it is online or has failed to start. */
  async startAndSettle(): Promise<StartOutcome> {
    let settle = (): void => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.#settleWaiters.push(settle);
    const outcome = await this.start();
    if (outcome === 'spawned') await settled;
    else this.#settleWaiters = this.#settleWaiters.filter((waiter) => waiter !== settle);
    return outcome;
  }

  async #writeAheadAndSpawn(run: RunRecord): Promise<StartOutcome> {
    // Its log pipes are made ready while the record is written: neither waits for the other.
    const opening = this.#ctx.logPipes(this.spec.name, this.instance).then(
      (pipes) => ({ pipes, cause: null }),
      (error: Error) => ({ pipes: null, cause: `cannot open log files: ${error.message}` }),
    );
    try {
      await this.#ctx.persist();
    } catch (error) {
      void opening.then(({ pipes }) => pipes?.close());
      if (this.run === run) this.run = null;
      if (this.#stopRequested || this.#detached) {
        this.#setStatus('stopped', this.#reason);
        return 'skipped';
      }
      this.#setStatus('errored', `state not writable (${(error as Error).message}): not started; retried once a write succeeds`);
      this.#ctx.blocked(this);
      return 'unwritten';
    }
    const { pipes: logs, cause } = await opening;
    if (this.run !== run || this.#stopRequested || this.#detached) {
      // Stopped while the record was written: nothing is spawned.
      logs?.close();
      if (this.run === run) this.run = null;
      if (!this.#detached) this.#setStatus('stopped', this.#reason);
      this.#persistLater();
      return 'skipped';
    }
    if (logs === null) {
      this.run = null;
      this.#setStatus('errored', cause);
      this.#persistLater();
      return 'failed';
    }
    try {
      return this.#spawn(run, logs) ? 'spawned' : 'failed';
    } finally {
      logs.close();
    }
  }

  #spawn(run: RunRecord, logs: LogPipes): boolean {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (key !== 'DAE' && !key.startsWith('DAE_')) env[key] = value;
    Object.assign(env, this.spec.env, {
      DAE: '1',
      DAE_PID: String(process.pid),
      DAE_PORT: String(this.#ctx.supervisorPort()),
      DAE_SECRET: run.secret,
      DAE_NAME: this.spec.name,
      DAE_INSTANCE: String(this.instance),
      DAE_RUNTIME_DIR: this.#ctx.runtimeDir,
    });
    // Placed by the LAN: bind the advertised address (other daemons choose their own, loopback by default).
    if (this.spec.host !== undefined) env.DAE_HOST = this.spec.host;
    for (const protocol of ['tcp', 'http', 'ws'] as const) {
      const port = this.spec.leases[protocol];
      if (port !== undefined) env[`DAE_${protocol.toUpperCase()}_PORT`] = String(port);
    }
    // The convention most programs read: the tcp lease.
    if (this.spec.leases.tcp !== undefined) env.PORT = String(this.spec.leases.tcp);
    const failed = (reason: string): false => {
      this.run = null;
      this.#setStatus('errored', reason);
      this.#persistLater();
      return false;
    };
    let sockets: number[] = [];
    // Held sockets are bound by address: a host name (`localhost`) would have to be looked up first, so they need an IP.
    const host = this.spec.host ?? this.#ctx.config.host;
    // A dae daemon with nothing held (a start after stop or errored) binds and listens itself and hands them over:
    // a socket bound here would wait unlistened for the run, and another user could bind it with SO_REUSEADDR meanwhile.
    const handOver = this.spec.handsOver === true && !this.#sockets.holding;
    if (this.spec.sockets === 'inherit' && !handOver) {
      try {
        if (isIP(host) === 0) throw new DaeError('ERR_PORT_HELD', `held sockets need an IP address as host, not ${JSON.stringify(host)}`);
        const held = this.#sockets.hold(host, this.spec.leases, this.#heldPath());
        sockets = held.fds;
        env.LISTEN_FDS = String(sockets.length);
        env.LISTEN_FDNAMES = held.names.join(':');
      } catch (error) {
        // A stranger holds a port now: a failed start, retried under the restart policy, as if the run had not bound it.
        this.run = null;
        this.#checkLeases();
        this.#decide({ exitCode: null, signal: null, uptime: 0, neverReady: true }, (error as Error).message);
        this.#persistLater();
        this.#ctx.holdFailed(this);
        return false;
      }
    }
    const interpreter = this.spec.interpreter === undefined ? 'node' : this.spec.interpreter;
    // A Node program that has not said yet: a dae daemon among them hands over what it binds (`hand-over.ts`).
    const offer = (this.spec.sockets === undefined || handOver) && interpreter === 'node' && isIP(host) !== 0 && !probesPort(this.spec) && Object.keys(this.spec.leases).length > 0;
    if (offer) env.DAE_SOCKETS = 'offer';
    let child: ChildProcess;
    try {
      child = spawnProgram({ program: this.spec.script, interpreter, args: this.spec.args, cwd: this.spec.cwd, env, stdout: logs.out, stderr: logs.err, sockets, ipc: offer });
    } catch (error) {
      // E2BIG, ENOMEM, a NUL byte: Node throws at once. The daemon is errored; the supervisor goes on.
      return failed(`cannot spawn ${this.spec.script}: ${(error as Error).message}`);
    }
    if (child.pid === undefined) {
      // ENOENT, EACCES of the program or its interpreter come as an error event.
      child.once('error', (error) => this.#status === 'errored' && this.#setStatus('errored', `cannot spawn ${this.spec.script}: ${error.message}`));
      return failed(`cannot spawn ${this.spec.script}`);
    }
    this.#child = child;
    run.pid = child.pid;
    run.startedAt = Date.now();
    const ticks = processStartTicks(child.pid);
    if (ticks !== null) run.startTicks = ticks;
    child.once('error', (error) => debug('%s child error %s', this.name, error.message));
    child.once('exit', (code, signal) => this.#exited({ exitCode: code, signal, uptime: Date.now() - run.startedAt }));
    this.#endOffer = offer ? this.#sockets.receive(child, this.spec.leases, () => this.#takesSockets()) : null;
    // The pid is a convenience for the next supervisor: the secret written before the spawn already finds the process.
    this.#persistLater();
    this.#beginWatch().begin();
    return true;
  }

  // Readiness and health of the current run, by its modes.
  #beginWatch(): RunWatch {
    this.#watch?.end();
    const ready = parseReady(this.spec.ready ?? 'auto');
    const health = parseHealth(this.spec.health ?? defaultHealth(this.spec.ready ?? 'auto'));
    const { readyTimeout, readyAfter, liveness } = this.#ctx.config;
    const watch = new RunWatch(
      { ready, health, host: this.spec.host ?? this.#ctx.config.host, port: this.spec.leases.tcp, readyTimeout, readyAfter, liveness },
      {
        ready: () => {
          if (this.#watch !== watch || this.run === null) return;
          this.#portHeldBy = undefined;
          // A program that is online without handing sockets over never will: its IPC channel is closed.
          if (this.spec.sockets !== 'inherit') this.#endOffer?.();
          this.#setStatus('online', null);
        },
        failed: (reason, neverReady) => {
          if (this.#watch !== watch) return;
          this.#neverReady = neverReady;
          this.#kill(reason);
        },
      },
    );
    this.#watch = watch;
    return watch;
  }

  // A write nobody waits for: a failure is logged by the supervisor, and the next write carries everything again.
  #persistLater(): void {
    this.#ctx.persist().catch(() => undefined);
  }

  /**
   * Takes back a run a previous supervisor left: one that had reported ready must re-connect (restarted if it does not
   * in time); any other program is online as it runs (its health checks resume; its death is seen by its pid).
   */
  adopt(run: RunRecord & { pid: number }): void {
    this.run = run;
    this.#child = null;
    this.#stopRequested = false;
    this.#exitSeen = false;
    this.#setStatus('starting', run.reported === true ? 'waiting for the running daemon to re-connect' : null);
    this.#beginWatch().adopt(run.reported === true, this.#ctx.config.adoptTimeout);
    if (run.reported !== true) this.#watchGone(run);
  }

  /** True when `secret` is the current run's. */
  owns(secret: unknown): boolean {
    return typeof secret === 'string' && this.run !== null && same(secret, this.run.secret);
  }

  /** The child proved itself; checks its ports against the leases. */
  ready(guest: Guest, report: ReadyReport): void {
    const run = this.run;
    if (run === null || (this.#status !== 'starting' && this.#status !== 'online')) {
      throw new DaeError('ERR_NOT_RUNNING', `${this.name} is ${this.#status}: no run waits for a ready report`);
    }
    if (report.instance !== undefined && report.instance !== this.instance) {
      throw new DaeError('ERR_BAD_ARGS', `${this.name} reported instance ${report.instance}, but its run is instance ${this.instance}`);
    }
    if (this.#child !== null && report.pid !== run.pid) {
      throw new DaeError('ERR_BAD_ARGS', `${this.name} reported pid ${report.pid}, but its run is pid ${run.pid}`);
    }
    for (const protocol of ['tcp', 'http', 'ws'] as const) {
      const reported = report.ports[protocol];
      const lease = this.spec.leases[protocol];
      if (reported !== undefined && lease !== undefined && reported !== lease) {
        const reason = `reported ${protocol} port ${reported}, but its lease is ${lease}`;
        this.#kill(reason);
        throw new DaeError('ERR_BAD_ARGS', `${this.name} ${reason}`);
      }
    }
    this.#portHeldBy = undefined;
    this.#socket = typeof report.ports.unix === 'string' ? report.ports.unix : null;
    this.#channel = guest;
    const watch = this.#watch;
    guest.once('close', () => {
      if (this.#detached) return;
      if (this.#channel === guest) this.#channel = null;
      watch?.channelClosed(guest);
      // An adopted run has no exit event: a closed channel is how its death shows.
      if (this.#child === null && this.run === run) this.#watchGone(run);
    });
    if (run.reported !== true) {
      run.reported = true;
      this.#persistLater();
    }
    // A dae daemon takes its sockets from the supervisor: from its next run on they are held (unless a port probe
    // decides its readiness or health: a held socket accepts into its backlog whatever the program does).
    watch?.reported(guest);
  }

  #takesSockets(): void {
    if (this.spec.handsOver === true) return;
    this.spec.sockets = 'inherit';
    this.spec.handsOver = true;
    this.#persistLater();
  }

  // Its unix socket, while the supervisor holds it: one path for every run.
  #heldPath(): string {
    return join(this.#ctx.runtimeDir, `${this.spec.name}.sock`);
  }

  /** The child answered a liveness ping. */
  alive(seq: unknown): void {
    this.#watch?.alive(seq);
  }

  /** Stops the run: the stop signal to the whole group, SIGKILL after the timeout. Resolves when it is gone. */
  async stop(reason: string | null = 'stopped by request', keepSockets = false): Promise<void> {
    this.#clearTimer('restart');
    this.#stopRequested = true;
    this.#reason = reason;
    // A spawn whose record is being written sees the request and does not happen.
    if (this.#spawning !== null) await this.#spawning;
    const run = this.run;
    if (run === null || run.pid === null || this.#exitSeen) {
      if (!keepSockets) this.#releaseSockets();
      this.#setStatus('stopped', reason);
      return;
    }
    this.#setStatus('stopping', reason);
    const gone = this.#whenExited();
    // The stop signal reaches the group and any process of the run that left it (setsid).
    void signalRun(run, this.spec.stopSignal as NodeJS.Signals);
    if (this.#child === null) this.#watchGone(run);
    const force = setTimeout(() => void signalRun(run, 'SIGKILL'), this.spec.stopTimeout);
    await gone;
    clearTimeout(force);
    // Stopped means no survivor: whatever of the run outlived its leader is gone too before this resolves.
    await reapRun(run);
    if (!keepSockets) this.#releaseSockets();
  }

  // Not to run any more (stopped, errored, uninstalled): a client is refused at once, not left in a backlog.
  #releaseSockets(): void {
    if (!this.#ctx.othersRun(this)) this.#sockets.release();
  }


  /** Leaves the run alone for good (the supervisor goes; the next one adopts it): nothing here acts on it again. */
  detach(): void {
    this.#detached = true;
    // A start under way (a reload's) is not waited for any more.
    for (const settle of this.#settleWaiters.splice(0)) settle();
    this.#watch?.end();
    for (const timer of ['restart', 'poll'] as const) this.#clearTimer(timer);
    this.#child?.removeAllListeners('exit');
    this.#child?.unref();
  }

  /** CPU, memory and `maxMemory` of the whole process group, sampled in the background (one /proc scan for all). */
  sample(now: number, groups: ReadonlyMap<number, GroupSample>): void {
    if (this.run === null || this.run.pid === null || this.#status === 'stopped') return;
    const sample = groups.get(this.run.pid);
    if (sample === undefined) return;
    if (this.#lastSample !== null && now > this.#lastSample.at) {
      this.#cpu = Math.max(0, ((sample.ticks - this.#lastSample.ticks) / CLOCK_TICKS / ((now - this.#lastSample.at) / 1000)) * 100);
    }
    this.#lastSample = { ticks: sample.ticks, at: now };
    this.#memory = sample.rss;
    if (this.spec.maxMemory > 0 && this.#status === 'online') {
      this.#overMemory = sample.rss > this.spec.maxMemory ? this.#overMemory + 1 : 0;
      if (this.#overMemory >= 2) this.#kill(`memory ${sample.rss} bytes (${sample.processes} process${sample.processes === 1 ? '' : 'es'} of its group) stayed over max-memory ${this.spec.maxMemory}`);
    }
  }

  // A run is under way (its figures and pid are shown).
  #running(): boolean {
    return this.run !== null && (this.#status === 'online' || this.#status === 'starting' || this.#status === 'stopping');
  }

  /** CPU seconds of the current run's process group as last sampled, and when the run started (s), for the metrics. */
  get usage(): { cpuSeconds: number; startTime: number | null } {
    const running = this.#running();
    return { cpuSeconds: running && this.#lastSample !== null ? this.#lastSample.ticks / CLOCK_TICKS : 0, startTime: running ? this.run!.startedAt / 1000 : null };
  }

  /** Its run was left by a previous supervisor (no child process of this one). */
  get adopted(): boolean {
    // (A run being spawned has no child yet either, nor a pid: it is not adopted.)
    return this.#running() && this.#child === null && this.run!.pid !== null;
  }

  /** No run of it has ended yet (it never ran, or runs its first). */
  get neverEnded(): boolean {
    return this.#lastExit === null;
  }

  entry(): ListEntry {
    const online = this.#running();
    const entry: ListEntry = {
      name: this.name,
      instance: this.instance,
      pid: online ? this.run!.pid : null,
      status: this.#status,
      ports: { ...this.spec.leases },
      socket: this.#socket,
      restarts: this.#restarts,
      uptime: online ? Math.round((Date.now() - this.run!.startedAt) / 100) / 10 : 0,
      cpu: online ? Math.round(this.#cpu * 10) / 10 : 0,
      memory: online ? this.#memory : 0,
      lastExit: this.#lastExit,
      reason: this.#reason ?? ((this.#watch?.misses ?? 0) > 0 && this.#status === 'online' ? `health: ${this.#watch!.misses} check(s) failed in a row` : null),
      script: this.spec.script,
      adopted: this.adopted,
      lastHealth: online ? (this.#watch?.health ?? null) : null,
      logBehind: this.#ctx.logBehind(this.name),
    };
    if (this.#portHeldBy) entry.portHeldBy = this.#portHeldBy;
    if (this.spec.lan) entry.lan = { ...this.spec.lan };
    return entry;
  }

  // Kills the run at once for `reason`; the exit then goes through the restart policy.
  #kill(reason: string): void {
    if (this.run === null || this.run.pid === null || this.#exitSeen) return;
    this.#killReason = reason;
    debug('%s killed: %s', this.name, reason);
    killGroup(this.run.pid, 'SIGKILL');
    if (this.#child === null) this.#watchGone(this.run);
  }

  // An adopted run has no ChildProcess: poll until its pid is gone.
  #watchGone(run: RunRecord): void {
    if (this.#pollTimer || this.#detached) return;
    const check = (): void => {
      if (this.run !== run || this.#exitSeen) return;
      if (run.pid !== null && isAlive(run.pid)) {
        this.#pollTimer = setTimeout(check, POLL_MS);
        return;
      }
      this.#pollTimer = null;
      this.#exited({ exitCode: null, signal: null, uptime: Date.now() - run.startedAt });
    };
    check();
  }

  #whenExited(): Promise<void> {
    return new Promise((resolve) => this.#exitWaiters.push(resolve));
  }

  #exited(facts: ExitFacts): void {
    if (this.#exitSeen || this.run === null || this.#detached) return;
    this.#exitSeen = true;
    const run = this.run;
    this.#clearTimer('poll');
    this.#watch?.end();
    this.#watch = null;
    // No orphan keeps the port: whatever is left of the group goes with its leader (and is awaited before a restart).
    if (run.pid !== null && groupAlive(run.pid)) killGroup(run.pid, 'SIGKILL');
    this.#lastRun = run;
    this.#channel?.close();
    this.#channel = null;
    this.#child = null;
    this.run = null;
    this.#overMemory = 0;
    this.#lastSample = null;
    // A new run never shows the last one's figures.
    this.#cpu = 0;
    this.#memory = 0;
    const what = facts.exitCode === null && facts.signal === null ? 'exited' : describeExit(facts);
    this.#lastExit = { code: facts.exitCode, signal: facts.signal, at: new Date().toISOString(), reason: this.#killReason ?? (this.#stopRequested ? this.#reason : what) };
    this.#removeSocket(run);
    this.#ctx.runEnded(this.name, this.instance);
    const waiters = this.#exitWaiters.splice(0);
    // A run that died before it was ready may have met a port someone holds: name the holder (reading /proc/net is
    // slow, so only then, never on the way of an ordinary restart).
    if (this.#status === 'starting') this.#checkLeases();
    // A run that was to bind its own sockets and hand them over, and died before it was ready: copies of it this
    // supervisor adopted may hold them (the group then restarts once).
    if (this.#status === 'starting' && this.spec.handsOver === true && !this.#sockets.holding && !this.#stopRequested) this.#ctx.holdFailed(this);
    if (this.#stopRequested) this.#setStatus('stopped', this.#reason);
    else this.#decide({ ...facts, neverReady: this.#neverReady }, this.#killReason ? `${this.#killReason} (${what})` : null);
    this.#persistLater();
    for (const resolve of waiters) resolve();
  }

  // The restart policy after a run ended (or a start failed): backoff and a restart, or stopped or errored.
  #decide(facts: ExitFacts, cause: string | null): void {
    const decision = decideRestart(this.#policy(), this.#history, facts);
    this.#history = decision.history;
    const reason = cause ?? decision.reason;
    if (decision.action === 'restart') {
      this.#restarts++;
      this.#setStatus('backoff', reason);
      this.#restartTimer = setTimeout(() => {
        this.#restartTimer = null;
        this.#restartNow();
      }, decision.delay);
    } else {
      this.#releaseSockets();
      this.#setStatus(decision.status, cause ? `${reason}; ${decision.reason}` : decision.reason);
    }
  }

  // The socket file of a run that is gone (SIGKILLed runs never remove their own).
  #removeSocket(run: RunRecord): void {
    const names = [this.#socket, run.pid === null ? null : join(this.#ctx.runtimeDir, `daemon.${run.pid}.sock`)];
    for (const path of names) {
      // The unix socket the supervisor holds outlives the run: its file stays until the sockets are let go.
      if (path === null || dirname(path) !== this.#ctx.runtimeDir || this.#sockets.holdsPath(path)) continue;
      try {
        unlinkSync(path);
      } catch {
        // removed by the daemon itself, or never made
      }
    }
    this.#socket = null;
  }

  #restartNow(): void {
    const last = this.#lastRun;
    // Nothing of the previous run (group or escaped grandchildren) may hold a port when the next one starts.
    const again = (): void => {
      if (!this.#stopRequested && !this.#detached) void this.start();
    };
    if (last === null) again();
    else void reapRun(last).then(again);
  }

  // Shows who holds a leased port the daemon is about to need (until it comes online).
  #checkLeases(): void {
    this.#portHeldBy = undefined;
    for (const protocol of ['tcp', 'http', 'ws'] as const) {
      const port = this.spec.leases[protocol];
      if (port === undefined) continue;
      const holder = portHolder(port);
      if (holder !== null) {
        this.#portHeldBy = { port, pid: holder };
        return;
      }
    }
  }

  /** `dae restart` and `dae start`: clears `errored` and the backoff. */
  resetHistory(): void {
    this.#history = FRESH_HISTORY;
    this.#reason = null;
  }

  #policy(): DaeConfig['restart'] {
    return { ...this.#ctx.config.restart, mode: this.spec.restart, maxRestarts: this.spec.maxRestarts, minUptime: this.spec.minUptime };
  }

  #clearTimer(which: 'restart' | 'poll'): void {
    const timer = which === 'restart' ? this.#restartTimer : this.#pollTimer;
    if (timer === null) return;
    clearTimeout(timer);
    if (which === 'restart') this.#restartTimer = null;
    else this.#pollTimer = null;
  }

  #setStatus(to: Status, reason: string | null): void {
    const from = this.#status;
    this.#reason = reason;
    if (from === to && to !== 'backoff') return;
    this.#status = to;
    debug('%s %s -> %s %s', this.name, from, to, reason ?? '');
    if (to !== 'starting') for (const settle of this.#settleWaiters.splice(0)) settle();
    this.#ctx.statusChanged({ name: this.name, instance: this.instance, from, to, at: new Date().toISOString(), reason });
  }
}
