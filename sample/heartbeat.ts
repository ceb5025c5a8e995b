// The original's second sample: every few seconds, find `kv` by name and write a heartbeat into it.
import { pathToFileURL } from 'node:url';
import { Client, connectWith, Daemon, runDaemon, type DaemonOptions } from '../src/index.js';

export interface HeartbeatOptions extends DaemonOptions {
  /** How to reach kv; by default through the supervisor, by name. */
  findKv?: () => Promise<Client>;
  /** Milliseconds between beats (`HEARTBEAT_INTERVAL`, default 3000). */
  interval?: number;
}

export class Heartbeat extends Daemon {
  override name = 'heartbeat';
  readonly #findKv: () => Promise<Client>;
  readonly #interval: number;
  #timer: NodeJS.Timeout | null = null;
  #beats = 0;
  #lastError: string | null = null;

  constructor(options: HeartbeatOptions = {}) {
    super(options);
    this.#findKv = options.findKv ?? (() => connectWith('kv'));
    this.#interval = options.interval ?? Number(process.env.HEARTBEAT_INTERVAL ?? 3000);
  }

  commands = {
    status: () => ({ beats: this.#beats, lastError: this.#lastError }),
    beat: () => this.#beat(),
  };

  override async start(): Promise<void> {
    await super.start();
    this.#timer = setInterval(() => void this.#beat(), this.#interval);
  }

  override async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await super.stop();
  }

  async #beat(): Promise<number> {
    try {
      const kv = await this.#findKv();
      try {
        await kv.call('set', 'heartbeat', { beats: ++this.#beats, at: new Date().toISOString(), pid: process.pid });
      } finally {
        await kv.close();
      }
      this.#lastError = null;
    } catch (error) {
      this.#lastError = (error as Error).message;
    }
    return this.#beats;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runDaemon(new Heartbeat());
