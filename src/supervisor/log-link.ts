// The supervisor's side of the home's log process (`src/logs/`): it starts one when none answers on `run/log.sock`
// (detached: it outlives the supervisor), makes each daemon's named pipes in `run/fifo/`, asks the log process to read
// them, and opens them for the daemon's runs (read-write: a run never gets EPIPE, and waits when the pipe is full).
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../client/client.js';
import { DaeError } from '../errors.js';
import { fifoPath } from '../logs/log-keeper.js';
import { RUN_END } from '../logs/lines.js';
import type { RotationLimits } from '../logs/rotating-file.js';

const ENTRY = fileURLToPath(new URL('../logs/main.js', import.meta.url));
const START_DEADLINE_MS = 10_000;

export interface LogPipes {
  out: number;
  err: number;
}

export class LogLink {
  readonly #home: string;
  readonly #limits: RotationLimits & { maxLine: number };
  readonly #fifoDir: string;
  readonly #socket: string;
  #client: Promise<Client> | null = null;
  readonly #pipes = new Map<string, LogPipes>();

  constructor(home: string, limits: RotationLimits & { maxLine: number }) {
    this.#home = home;
    this.#limits = limits;
    this.#fifoDir = join(home, 'run', 'fifo');
    this.#socket = join(home, 'run', 'log.sock');
  }

  /** A connection to the log process, started first when none answers. */
  ensure(): Promise<Client> {
    this.#client ??= this.#connectOrStart().catch((error: unknown) => {
      this.#client = null;
      throw error;
    });
    return this.#client;
  }

  /** The pid of the log process (whois). */
  async pid(): Promise<number> {
    return ((await this.#call('whois')) as { pid: number }).pid;
  }

  // A call to the log process; when its connection is gone (it died), once more to a new one.
  async #call(command: string, ...args: unknown[]): Promise<unknown> {
    const client = await this.ensure();
    try {
      return await client.call(command, ...args);
    } catch (error) {
      if (!client.closed && (error as DaeError).code !== 'ERR_CONNECTION_CLOSED' && (error as DaeError).code !== 'ERR_CONNECTION_FAILED') throw error;
      if (this.#client !== null && (await this.#client.catch(() => null)) === client) this.#client = null;
      return (await this.ensure()).call(command, ...args);
    }
  }

  /** `name`'s pipes, made and read by the log process; the same descriptors for every run (the supervisor keeps them). */
  async pipes(name: string): Promise<LogPipes> {
    mkdirSync(this.#fifoDir, { recursive: true, mode: 0o700 });
    for (const stream of ['out', 'err'] as const) {
      const path = fifoPath(this.#fifoDir, name, stream);
      if (!existsSync(path)) execFileSync('mkfifo', ['-m', '600', path]);
    }
    await this.#call('watch', name);
    let pipes = this.#pipes.get(name);
    if (pipes === undefined) {
      const open = (stream: 'out' | 'err'): number => openSync(fifoPath(this.#fifoDir, name, stream), constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      pipes = { out: open('out'), err: open('err') };
      this.#pipes.set(name, pipes);
    }
    return pipes;
  }

  /** A run of `name` has exited: after all it wrote, the marker that ends its partial last line. */
  runEnded(name: string): void {
    const pipes = this.#pipes.get(name);
    if (pipes === undefined) return;
    for (const fd of [pipes.out, pipes.err]) {
      try {
        writeSync(fd, RUN_END);
      } catch {
        // A full pipe (EAGAIN): the log process is far behind; the marker is skipped, not waited for.
      }
    }
  }

  /** `name` is uninstalled: the log process stops reading its pipes, which are removed. */
  async forget(name: string): Promise<void> {
    const pipes = this.#pipes.get(name);
    this.#pipes.delete(name);
    if (pipes !== undefined) for (const fd of [pipes.out, pipes.err]) closeSync(fd);
    await this.#call('unwatch', name).catch(() => undefined);
    for (const stream of ['out', 'err'] as const) {
      try {
        unlinkSync(fifoPath(this.#fifoDir, name, stream));
      } catch {
        // gone already
      }
    }
  }

  /** Stops the log process (`dae kill`); the pipes stay for the next one. */
  async stop(): Promise<void> {
    if (this.#client === null) return;
    const client = await this.#client.catch(() => null);
    this.#client = null;
    if (client === null) return;
    const { pid } = (await client.call('whois')) as { pid: number };
    const closed = once(client, 'close');
    process.kill(pid, 'SIGTERM');
    await closed;
  }

  /** Lets go of the descriptors and the connection (the supervisor goes; the log process stays). */
  detach(): void {
    for (const pipes of this.#pipes.values()) for (const fd of [pipes.out, pipes.err]) closeSync(fd);
    this.#pipes.clear();
    void this.#client?.then((client) => client.destroy(), () => undefined);
    this.#client = null;
  }

  async #connectOrStart(): Promise<Client> {
    const connect = async (): Promise<Client> => {
      const client = await Client.connect({ path: this.#socket, timeout: START_DEADLINE_MS });
      // It died: the next call starts another.
      client.once('close', () => (this.#client = null));
      return client;
    };
    try {
      return await connect();
    } catch {
      // none answers: start one
    }
    mkdirSync(this.#fifoDir, { recursive: true, mode: 0o700 });
    const child = spawn(process.execPath, [ENTRY, this.#home, JSON.stringify(this.#limits)], { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => [{ error: `it exited with code ${code}` }]),
    ])) as [{ pid?: number; error?: string }];
    if (message.error !== undefined) throw new DaeError('ERR_START_FAILED', `the log process could not start: ${message.error}`);
    child.disconnect();
    child.unref();
    return connect();
  }
}
