// A supervised daemon's link to its supervisor: the ready report with its secret, then the liveness channel.
import { Client } from '../client/client.js';
import { connectWithDae } from '../client/connect.js';
import { createDebug } from '../debug.js';

const debug = createDebug('supervised');
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1000;
const READY_TIMEOUT_MS = 5000;

/** What a daemon reports: who it is, its secret, and every door it bound. */
export interface ReadyReport {
  name: string;
  pid: number;
  secret: string;
  ports: Record<string, number | string>;
  /** Which copy it is (`DAE_INSTANCE`). */
  instance?: number;
}

/** Keeps one connection to the supervisor open; re-reports after the supervisor restarts (re-adoption). */
export class SupervisorLink {
  readonly #report: () => ReadyReport;
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeout: number;
  #client: Client | null = null;
  #closed = false;
  #retry = RETRY_MIN_MS;
  #timer: NodeJS.Timeout | null = null;

  /** `timeout`: how long each ready report waits for the supervisor's answer (ms). */
  constructor(report: () => ReadyReport, env: NodeJS.ProcessEnv, timeout = READY_TIMEOUT_MS) {
    this.#report = report;
    this.#env = env;
    this.#timeout = timeout;
  }

  /** Reports ready; resolves when the supervisor accepted it (or failed; retries go on in the background). */
  async open(): Promise<void> {
    try {
      await this.#connect();
    } catch (error) {
      debug('ready report failed: %s', (error as Error).message);
      this.#schedule();
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#client?.destroy();
  }

  async #connect(): Promise<void> {
    const client = await connectWithDae({ timeout: this.#timeout }, this.#env);
    if (this.#closed) return client.destroy();
    this.#client = client;
    client.on('push', (name: string, args: unknown[]) => {
      if (name === 'liveness') client.call('alive', args[0]).catch(() => undefined);
    });
    client.once('close', () => {
      if (this.#client === client) this.#client = null;
      if (!this.#closed) this.#schedule();
    });
    try {
      await client.call('ready', this.#report());
    } catch (error) {
      // An attempt that failed (a supervisor that never answers, an original dae) leaves no connection behind.
      client.destroy();
      throw error;
    }
    this.#retry = RETRY_MIN_MS;
    debug('ready report accepted');
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    const delay = this.#retry;
    this.#retry = Math.min(this.#retry * 2, RETRY_MAX_MS);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#connect().catch((error: unknown) => {
        debug('re-report failed: %s', (error as Error).message);
        this.#client?.destroy();
        this.#schedule();
      });
    }, delay);
    this.#timer.unref();
  }
}
