// Watching one run: when it is ready (its `--ready` mode), and whether it stays alive and healthy afterwards (liveness
// pings for a dae daemon that reported, probes of its port or URL for any program). It calls back; it never kills.
import type { Guest } from '../daemon/session.js';
import { probeHttp, probePort } from './probe.js';
import { describeMode, isReady, type HealthMode, type ReadyMode } from './readiness.js';

/** How often a starting run's port or URL is tried until it answers (ms). */
const READY_PROBE_MS = 5;
/** How long one probe waits for an answer (ms). */
const PROBE_TIMEOUT_MS = 2000;

export interface WatchOptions {
  ready: ReadyMode;
  health: HealthMode;
  /** Where probes go: the run's address and its tcp lease (the `PORT` it was given). */
  host: string;
  port: number | undefined;
  readyTimeout: number;
  readyAfter: number;
  liveness: { interval: number; misses: number };
}

export interface WatchEvents {
  /** The run is ready: online from now. */
  ready(): void;
  /** The run must be ended: never ready (`neverReady`: a failed start), hung, or unhealthy. */
  failed(reason: string, neverReady: boolean): void;
}

/** The last health check of a run, as `list` shows it. */
export interface HealthResult {
  ok: boolean;
  at: string;
  detail: string | null;
}

export class RunWatch {
  readonly #options: WatchOptions;
  readonly #events: WatchEvents;
  readonly #started = Date.now();
  #readyTimer: NodeJS.Timeout | null = null;
  #afterTimer: NodeJS.Timeout | null = null;
  #probeTimer: NodeJS.Timeout | null = null;
  #healthTimer: NodeJS.Timeout | null = null;
  #isReady = false;
  #reported = false;
  #ended = false;
  #channel: Guest | null = null;
  #awaiting: number | null = null;
  #seq = 0;
  #misses = 0;
  #health: HealthResult | null = null;
  #adopting = false;
  #probing = false;

  constructor(options: WatchOptions, events: WatchEvents) {
    this.#options = options;
    this.#events = events;
  }

  /** Ready checks of a fresh run: its mode decides; past `readyTimeout` the start failed. */
  begin(): void {
    const { ready, readyTimeout, readyAfter } = this.#options;
    this.#readyTimer = setTimeout(() => this.#fail(`not ready within ${readyTimeout} ms (ready: ${describeMode(ready)})`, true), readyTimeout);
    if (ready.kind === 'none') return this.#becomeReady();
    // The timer's own word that readyAfter has passed: timers run on the loop's cached clock, up to a millisecond
    // before Date.now() says so.
    if (ready.kind === 'auto') this.#afterTimer = setTimeout(() => this.#check(false, readyAfter), readyAfter);
    if (ready.kind === 'port' || ready.kind === 'http') this.#probeUntilReady(ready);
  }

  /**
   * A run a previous supervisor left: one that reported ready re-connects within `adoptTimeout` (else it failed);
   * any other program is ready as it runs.
   */
  adopt(reported: boolean, adoptTimeout: number): void {
    if (!reported) return this.#becomeReady();
    this.#adopting = true;
    this.#readyTimer = setTimeout(() => this.#fail(`did not re-connect within ${adoptTimeout} ms`, false), adoptTimeout);
  }

  /** Its dae ready report came (the secret proved it): the channel for liveness pings. */
  reported(channel: Guest): void {
    this.#reported = true;
    this.#channel = channel;
    this.#misses = 0;
    this.#awaiting = null;
    if (this.#isReady) return this.#beginHealth();
    if (this.#adopting || this.#options.ready.kind === 'report' || this.#options.ready.kind === 'auto') this.#becomeReady();
  }

  /** Its channel closed (it re-connects if it lives): pings count as missed until then. */
  channelClosed(channel: Guest): void {
    if (this.#channel === channel) this.#channel = null;
  }

  /** The answer to a liveness ping. */
  alive(seq: unknown): void {
    if (seq === this.#awaiting) this.#awaiting = null;
  }

  get isReady(): boolean {
    return this.#isReady;
  }

  /** Whether the run ever reported ready (kept with it: after a supervisor restart it is expected to re-connect). */
  get hasReported(): boolean {
    return this.#reported;
  }

  /** Liveness pings missed in a row (dae daemons). */
  get misses(): number {
    return this.#misses;
  }

  get health(): HealthResult | null {
    return this.#health;
  }

  /** Stops every timer: the run ended, or the supervisor leaves it. */
  end(): void {
    this.#ended = true;
    for (const timer of [this.#readyTimer, this.#afterTimer, this.#probeTimer]) if (timer) clearTimeout(timer);
    if (this.#healthTimer) clearInterval(this.#healthTimer);
  }

  // `auto`: a report, or up long enough without one.
  #check(probed: boolean, upAtLeast = 0): void {
    if (this.#ended || this.#isReady) return;
    const facts = { reported: this.#reported, probed, upFor: Math.max(upAtLeast, Date.now() - this.#started), readyAfter: this.#options.readyAfter };
    if (isReady(this.#options.ready, facts)) this.#becomeReady();
  }

  #probeUntilReady(mode: Extract<ReadyMode, { kind: 'port' | 'http' }>): void {
    const attempt = (): void => {
      this.#probeTimer = null;
      if (this.#ended || this.#isReady) return;
      void this.#probe(mode).then((problem) => {
        if (this.#ended || this.#isReady) return;
        if (problem === null) return this.#check(true);
        this.#probeTimer = setTimeout(attempt, READY_PROBE_MS);
      });
    };
    attempt();
  }

  #probe(mode: Extract<HealthMode, { kind: 'port' | 'http' }>): Promise<string | null> {
    const port = mode.port ?? this.#options.port;
    if (port === undefined) return Promise.resolve('no port to probe (no tcp lease, none given)');
    // Generous, whatever the check interval: a loaded machine answers slowly, and a slow answer is an answer.
    const timeout = PROBE_TIMEOUT_MS;
    return mode.kind === 'port' ? probePort(this.#options.host, port, timeout) : probeHttp(this.#options.host, port, mode.path, timeout);
  }

  #becomeReady(): void {
    if (this.#ended || this.#isReady) return;
    this.#isReady = true;
    for (const timer of [this.#readyTimer, this.#afterTimer, this.#probeTimer]) if (timer) clearTimeout(timer);
    this.#beginHealth();
    this.#events.ready();
  }

  // Every `liveness.interval`: a ping over the channel of a run that reported, else a probe of its health mode;
  // `liveness.misses` failures in a row end it.
  #beginHealth(): void {
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.#healthTimer = null;
    const { interval, misses } = this.#options.liveness;
    const health = this.#options.health;
    if (interval <= 0 || (!this.#reported && health.kind === 'none')) return;
    this.#healthTimer = setInterval(() => {
      if (this.#ended) return;
      if (this.#reported) return this.#ping(misses);
      // One probe at a time: a tick while the last one still waits is skipped.
      if (health.kind === 'none' || this.#probing) return;
      this.#probing = true;
      void this.#probe(health).then((problem) => {
        this.#probing = false;
        if (this.#ended) return;
        this.#health = { ok: problem === null, at: new Date().toISOString(), detail: problem };
        this.#misses = problem === null ? 0 : this.#misses + 1;
        if (this.#misses >= misses) this.#fail(`unhealthy: ${problem} (${this.#misses} checks in a row)`, false);
      });
    }, interval);
  }

  #ping(misses: number): void {
    if (this.#awaiting !== null || this.#channel === null) this.#misses++;
    else this.#misses = 0;
    if (this.#misses >= misses) return this.#fail(`hung: ${this.#misses} liveness pings unanswered`, false);
    this.#awaiting = ++this.#seq;
    try {
      this.#channel?.push('liveness', this.#seq);
    } catch {
      // the channel closed meanwhile: counted as a miss next time
    }
  }

  #fail(reason: string, neverReady: boolean): void {
    if (this.#ended) return;
    this.end();
    this.#events.failed(reason, neverReady);
  }
}
