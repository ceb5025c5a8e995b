// The supervisor's side of the home's log process (`src/logs/`): it starts one when none answers on `run/log.sock`
// (detached: it outlives the supervisor), and again when it dies; asks it to read each daemon instance's named pipes in
// `run/fifo/`, and opens them for each run (read-write and blocking: a run never gets EPIPE, and waits when the pipe
// is full).
import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readdirSync, unlinkSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../client/client.js';
import type { Guest } from '../daemon/session.js';
import { DaeError } from '../errors.js';
import { fifoPath, logFile, logHome, parseFifoName, type LogStatus } from '../logs/log-keeper.js';
import { readLog, type LogsOptions } from '../logs/read.js';
import { RUN_END } from '../logs/lines.js';
import type { RotationLimits } from '../logs/rotating-file.js';

const ENTRY = fileURLToPath(new URL('../logs/main.js', import.meta.url));
const START_DEADLINE_MS = 10_000;
/** A log process that died is started again after this (longer while it keeps dying at once). */
const RESTART_MS = [100, 1000, 5000];

/** A run's stdout and stderr: descriptors of its own, closed once it is spawned. */
export interface LogPipes {
  out: number;
  err: number;
  close(): void;
}

export class LogLink {
  readonly #home: string;
  readonly #limits: RotationLimits & { maxLine: number };
  readonly #fifoDir: string;
  readonly #socket: string;
  readonly #log: (line: string) => void;
  #client: Promise<Client> | null = null;
  /** Each guest's tails (`tail`), by daemon. */
  readonly #tails = new Map<Guest, Map<string, Client>>();
  /** Per `name@instance`: non-blocking descriptors of its pipes, for the run-end marker (it never waits). */
  readonly #markers = new Map<string, number[]>();
  #status: Record<string, LogStatus> = {};
  #ended = false;
  #deaths = 0;

  constructor(home: string, limits: RotationLimits & { maxLine: number }, log: (line: string) => void = () => undefined) {
    this.#home = home;
    this.#limits = limits;
    ({ fifoDir: this.#fifoDir, socket: this.#socket } = logHome(home));
    this.#log = log;
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

  /** Pipes for a run of `name`'s `instance`, read by the log process (which makes them the first time). */
  async pipes(name: string, instance = 0): Promise<LogPipes> {
    await this.#call('watch', name, instance);
    this.#marker(name, instance);
    // A description of its own for each run, blocking: a Node run makes its stdout non-blocking, which would otherwise
    // reach the next run (and its children) through a shared one.
    const [out, err] = this.#open(name, instance, constants.O_RDWR | constants.O_NOFOLLOW) as [number, number];
    return { out, err, close: () => [out, err].forEach((fd) => closeSync(fd)) };
  }

  /** A run of `name` has exited: after all it wrote, the marker that ends its partial last line. */
  runEnded(name: string, instance = 0): void {
    for (const fd of this.#marker(name, instance)) {
      try {
        writeSync(fd, RUN_END);
      } catch {
        // A full pipe (EAGAIN): the log process is far behind; the marker is skipped, not waited for.
      }
    }
  }

  /** `name` is uninstalled: the log process reads what is left in its pipes and stops; the pipes are removed. */
  async forget(name: string): Promise<void> {
    for (const [key, fds] of this.#markers) {
      if (!key.startsWith(`${name}@`)) continue;
      this.#markers.delete(key);
      for (const fd of fds) closeSync(fd);
    }
    await this.#call('unwatch', name).catch((error: Error) => this.#log(`${name}: its log process did not let its pipes go: ${error.message}`));
    let entries: string[] = [];
    try {
      entries = readdirSync(this.#fifoDir);
    } catch {
      // none made yet
    }
    for (const entry of entries) {
      if (parseFifoName(entry)?.name !== name) continue;
      try {
        unlinkSync(join(this.#fifoDir, entry));
      } catch {
        // gone already
      }
    }
  }

  /** `name`'s newest log lines as stored (the supervisor's own `dae.log` with null), oldest first; what its runs wrote
   * before this call is among them. */
  async read(name: string | null, options: LogsOptions = {}): Promise<string[]> {
    const { lines = 50, since } = options ?? {};
    if (typeof lines !== 'number' || !Number.isInteger(lines) || lines < 0) throw new DaeError('ERR_BAD_ARGS', `lines must be a whole number, got ${JSON.stringify(lines)}`);
    if (since !== undefined && (typeof since !== 'number' || !Number.isFinite(since))) throw new DaeError('ERR_BAD_ARGS', `since must be a time in ms since the epoch, got ${JSON.stringify(since)}`);
    if (name !== null) await this.flush(name);
    const { ownLog, logDir } = logHome(this.#home);
    const path = name === null ? ownLog : logFile(logDir, name);
    return readLog(path, this.#limits.files, since === undefined ? { lines } : { lines, since });
  }

  /** `guest` follows `name`'s log: its last `lines` stored lines now, then `lines <name> [records] <skipped>` pushes of
   * what is stored next, over a connection of its own to the log process; `tailend <name>` when that one goes (the
   * log process died, or the daemon was uninstalled: ask again). One tail per guest and daemon: another replaces it. */
  async tail(guest: Guest, name: string, lines: number): Promise<string[]> {
    await this.ensure();
    const client = await Client.connect({ path: this.#socket, timeout: START_DEADLINE_MS });
    client.on('push', (push: string, args: unknown[]) => {
      if (push === 'lines') guest.push('lines', ...args);
    });
    let history: string[];
    try {
      history = (await client.call('follow', name, lines)) as string[];
    } catch (error) {
      client.destroy();
      throw error;
    }
    if (guest.closed) {
      client.destroy();
      return history;
    }
    let tails = this.#tails.get(guest);
    if (tails === undefined) {
      const mine = (tails = new Map());
      this.#tails.set(guest, mine);
      guest.once('close', () => {
        this.#tails.delete(guest);
        for (const each of mine.values()) each.destroy();
      });
    }
    const replaced = tails.get(name);
    tails.set(name, client);
    replaced?.destroy();
    client.once('close', () => {
      if (tails.get(name) !== client) return;
      tails.delete(name);
      guest.push('tailend', name);
    });
    return history;
  }

  /** Waits until every whole line in `name`'s pipes is in its log (a failure is let go: the log is read as it is). */
  async flush(name: string): Promise<void> {
    await this.#call('flush', name).catch(() => undefined);
  }

  /** Asks the log process how each daemon's log path does (kept for `behind`); a failure keeps the last answer. */
  async poll(): Promise<void> {
    if (this.#client === null) return;
    try {
      this.#status = (await (await this.#client).call('status')) as Record<string, LogStatus>;
    } catch {
      // it is being restarted
    }
  }

  /** `name`'s log path is behind the disk: its runs' output waits in the pipe (as of the last poll). */
  behind(name: string): boolean {
    return this.#status[name]?.reading === false;
  }

  /** Stops the log process (`dae kill`), after it has logged what is in the pipes; the pipes stay for the next one. */
  async stop(): Promise<void> {
    this.#ended = true;
    this.#closeMarkers();
    if (this.#client === null) return;
    const client = await this.#client.catch(() => null);
    this.#client = null;
    if (client === null || client.closed) return;
    const { pid } = (await client.call('whois')) as { pid: number };
    const closed = once(client, 'close');
    process.kill(pid, 'SIGTERM');
    await closed;
  }

  /** Lets go of the descriptors and the connection (the supervisor goes; the log process stays). */
  detach(): void {
    this.#ended = true;
    this.#closeMarkers();
    void this.#client?.then((client) => client.destroy(), () => undefined);
    this.#client = null;
  }

  // Both pipes of an instance opened with `flags`, or neither (the error thrown).
  #open(name: string, instance: number, flags: number): number[] {
    const fds: number[] = [];
    try {
      for (const stream of ['out', 'err'] as const) fds.push(openSync(fifoPath(this.#fifoDir, name, stream, instance), flags));
    } catch (error) {
      for (const fd of fds) closeSync(fd);
      throw error;
    }
    return fds;
  }

  // Opened once per instance (also for a run adopted from an earlier supervisor, whose pipes exist already).
  #marker(name: string, instance: number): number[] {
    const key = `${name}@${instance}`;
    let fds = this.#markers.get(key);
    if (fds === undefined) {
      try {
        fds = this.#open(name, instance, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch {
        // no pipes (yet)
        return [];
      }
      this.#markers.set(key, fds);
    }
    return fds;
  }

  #closeMarkers(): void {
    for (const fds of this.#markers.values()) for (const fd of fds) closeSync(fd);
    this.#markers.clear();
  }

  async #connectOrStart(): Promise<Client> {
    const connect = async (): Promise<Client> => {
      const client = await Client.connect({ path: this.#socket, timeout: START_DEADLINE_MS });
      client.once('close', () => this.#lost(client));
      return client;
    };
    try {
      return await connect();
    } catch {
      // none answers: start one
    }
    mkdirSync(this.#fifoDir, { recursive: true, mode: 0o700 });
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (key !== 'DAE' && !key.startsWith('DAE_')) env[key] = value;
    // Which home it serves: how `ps e` (and a test's clean-up) tells it apart.
    env.DAE_HOME = this.#home;
    const child = spawn(process.execPath, [ENTRY, this.#home, JSON.stringify(this.#limits)], { detached: true, stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env });
    const [message] = (await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => [{ error: `it exited with code ${code}` }]),
    ])) as [{ pid?: number; error?: string }];
    if (message.error !== undefined) throw new DaeError('ERR_START_FAILED', `the log process could not start: ${message.error}`);
    child.disconnect();
    child.unref();
    return connect();
  }

  // Its connection closed: it died (or is being stopped). Runs' output waits in the pipes meanwhile; a new one reads it.
  #lost(client: Client): void {
    void this.#client?.then((current) => {
      if (current !== client) return;
      this.#client = null;
      if (this.#ended) return;
      const delay = RESTART_MS[Math.min(this.#deaths++, RESTART_MS.length - 1)]!;
      this.#log(`the log process died: another starts in ${delay} ms (output waits in the pipes meanwhile)`);
      setTimeout(() => {
        if (this.#ended || this.#client !== null) return;
        this.ensure().then(
          () => setTimeout(() => (this.#deaths = 0), 10_000).unref(),
          (error: Error) => this.#log(error.message),
        );
      }, delay).unref();
    }, () => undefined);
  }
}
