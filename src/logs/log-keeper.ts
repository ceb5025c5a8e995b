// The log process of a home (`dae-log`): it holds the read ends of every daemon's output pipes (named pipes in
// `run/fifo/`, `<name>.out` and `<name>.err`, `<name>@<n>.out` for instance n), stamps each line with its time and
// stream, and appends it to `logs/<name>.log`. It is its own process, so output flows while the supervisor restarts; a
// named pipe can be opened again by the next log process, which picks every pipe up at start. When it falls behind the
// disk it stops reading, the pipe fills and the writer waits (backpressure) instead of this process taking memory
// without bound.
import { execFile } from 'node:child_process';
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Daemon } from '../daemon/daemon.js';
import { DaeError } from '../errors.js';
import { formatRecord, LineSplitter, type Stream } from './lines.js';
import { RotatingFile, type RotationLimits } from './rotating-file.js';
import { Followers } from './followers.js';
import { readLog } from './read.js';
import type { Guest } from '../daemon/session.js';

export interface LogKeeperOptions {
  fifoDir: string;
  logDir: string;
  /** The unix socket the supervisor talks to it on. */
  socket: string;
  limits: RotationLimits & { maxLine: number };
  /** Where it says what went wrong (the supervisor's own log); stderr when absent. */
  ownLog?: string;
  /** How a log file is written (a test stands in a slow disk here). */
  openFile?: (path: string, limits: RotationLimits) => LogFile;
}

/** What the log process needs of a log file (`RotatingFile`). */
export type LogFile = Pick<RotatingFile, 'path' | 'open' | 'append' | 'close'>;

/** What one daemon's log path is doing, for `list`. */
export interface LogStatus {
  /** False while its pipes are not read because the disk is behind: its runs' writes wait (backpressure). */
  reading: boolean;
  /** Bytes read and not yet written. */
  pending: number;
  /** Times reading stopped for the disk. */
  held: number;
  /** Lines that could not be written (a full disk). */
  lost: number;
}

/** Where the log process of a home keeps its things: the pipes, the logs, its socket, and the supervisor's own log
 * (which it only appends to). */
export function logHome(home: string): { fifoDir: string; logDir: string; socket: string; ownLog: string } {
  return { fifoDir: join(home, 'run', 'fifo'), logDir: join(home, 'logs'), socket: join(home, 'run', 'log.sock'), ownLog: join(home, 'dae.log') };
}

/** Bytes waiting to be written for one daemon past which its pipes are no longer read (with up to 256 KiB read after
 * it, about the most a SIGKILL of this process can lose, besides one partial line per pipe). */
export const HIGH_WATER = 1024 * 1024;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const run = promisify(execFile);
const PIPE = /^([A-Za-z0-9._-]{1,64}?)(?:@(\d{1,2}))?\.(out|err)$/;
// Room a record takes beyond its text: the stamp, the stream, the cut marker.
const RECORD_OVERHEAD = 128;
// Reads of a busy pipe after a wake-up, at most (so one flooding daemon cannot keep the others waiting long).
const BUSY_READS = 4;
const DRAIN_READS = 2;
// The most history a follower gets at once.
const MAX_TAIL = 1000;

interface Pipe {
  fd: number;
  socket: Socket;
  splitter: LineSplitter;
}

interface Watched {
  file: LogFile;
  /** Stored lines waiting for the write under way. */
  queued: Buffer[];
  /** The write under way. */
  pumping: Promise<void> | null;
  /** Bytes ever queued, and ever written or lost (their difference is what is pending). */
  queuedBytes: number;
  doneBytes: number;
  /** By instance. */
  pipes: Map<number, Pipe[]>;
  status: Omit<LogStatus, 'pending'>;
}

function pending(watched: Watched): number {
  return watched.queuedBytes - watched.doneBytes;
}

function pipesOf(watched: Watched): Pipe[] {
  return [...watched.pipes.values()].flat();
}

function checkName(name: unknown): void {
  if (typeof name !== 'string' || !NAME.test(name)) throw new DaeError('ERR_BAD_ARGS', `not a daemon name: ${JSON.stringify(name)}`);
}

/** Where a daemon's pipe is. */
export function fifoPath(dir: string, name: string, stream: Stream, instance = 0): string {
  return join(dir, `${name}${instance === 0 ? '' : `@${instance}`}.${stream}`);
}

/** Where a daemon's log is (its rotated files beside it: `.1`, `.2`, …). */
export function logFile(dir: string, name: string): string {
  return join(dir, `${name}.log`);
}

/** The daemon, instance and stream a pipe's file name stands for; null when it is none. Pure. */
export function parseFifoName(entry: string): { name: string; instance: number; stream: Stream } | null {
  const match = PIPE.exec(entry);
  return match === null ? null : { name: match[1]!, instance: Number(match[2] ?? 0), stream: match[3] as Stream };
}

export class LogKeeper extends Daemon {
  override name = 'dae-log';
  readonly #options: LogKeeperOptions;
  readonly #watched = new Map<string, Watched>();
  readonly #maxLine: number;
  readonly #followers = new Followers();
  /** Where pipes are read into at once (what is read is copied out before the next read). */
  readonly #buffer = Buffer.allocUnsafe(1 << 20);

  constructor(options: LogKeeperOptions) {
    super({ name: 'dae-log', env: {}, socket: options.socket });
    this.#options = options;
    // A record always fits one file: the bound on disk holds for the longest line too.
    this.#maxLine = Math.max(64, Math.min(options.limits.maxLine, options.limits.maxBytes - RECORD_OVERHEAD));
  }

  commands = {
    watch: { protected: true, run: (name: string, instance: number = 0) => this.watch(name, instance) },
    unwatch: { protected: true, run: (name: string) => this.unwatch(name) },
    flush: { protected: true, run: (name: string) => this.flush(name) },
    /** `name`'s last `lines` stored lines, then `lines` pushes of what it stores next (see `followers.ts`). */
    follow: { protected: true, guest: true, run: (guest: Guest, name: string, lines: number = 100) => this.follow(guest, name, lines) },
    status: (): Record<string, LogStatus> => Object.fromEntries([...this.#watched].map(([name, w]) => [name, { ...w.status, pending: pending(w) }])),
  };

  /** Starts, and takes up every pipe a previous log process left. */
  override async start(): Promise<void> {
    await super.start();
    for (const entry of readdirSync(this.#options.fifoDir)) {
      const pipe = parseFifoName(entry);
      if (pipe === null || pipe.stream !== 'out') continue;
      await this.watch(pipe.name, pipe.instance).catch((error: Error) => this.#say(`${pipe.name}: ${error.message}`));
    }
  }

  /** Reads the pipes of `name`'s instance into its log (once: a second call changes nothing). The log file is opened
   * first: a link where it belongs is refused here, and the caller does not start the run. */
  async watch(name: string, instance = 0): Promise<true> {
    checkName(name);
    if (!Number.isInteger(instance) || instance < 0 || instance > 99) throw new DaeError('ERR_BAD_ARGS', `not an instance: ${JSON.stringify(instance)}`);
    let watched = this.#watched.get(name);
    if (watched === undefined) {
      const path = logFile(this.#options.logDir, name);
      const file = this.#options.openFile?.(path, this.#options.limits) ?? new RotatingFile(path, this.#options.limits);
      await file.open().catch((error: NodeJS.ErrnoException) => {
        throw new DaeError('ERR_BAD_ARGS', `${file.path} ${error.code === 'ELOOP' ? 'is a symbolic link: never written through' : `cannot be opened: ${error.message}`}`);
      });
      if (this.#watched.has(name)) {
        // Another watch of it opened its log meanwhile.
        await file.close();
        return this.watch(name, instance);
      }
      watched = { file, queued: [], pumping: null, queuedBytes: 0, doneBytes: 0, pipes: new Map(), status: { reading: true, held: 0, lost: 0 } };
      this.#watched.set(name, watched);
    }
    if (watched.pipes.has(instance)) return true;
    const paths = (['out', 'err'] as const).map((stream) => fifoPath(this.#options.fifoDir, name, stream, instance));
    const missing = paths.filter((path) => !existsSync(path));
    if (missing.length > 0) await run('mkfifo', ['-m', '600', ...missing]);
    if (watched.pipes.has(instance)) return true;
    const pipes = (['out', 'err'] as const).map((stream, i): Pipe => {
      // Read and write: this process is a writer too, so the pipe never ends while runs come and go, and opening it
      // never waits for one.
      const fd = openSync(paths[i]!, constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      if (!fstatSync(fd).isFIFO()) {
        closeSync(fd);
        throw new DaeError('ERR_BAD_ARGS', `${paths[i]} is not a named pipe`);
      }
      const socket = new Socket({ fd, readable: true, writable: false });
      const splitter = new LineSplitter(stream, this.#maxLine, instance);
      const pipe: Pipe = { fd, socket, splitter };
      socket.on('data', (chunk: Buffer) => {
        this.#write(name, watched, splitter.format(chunk, Date.now()));
        // A busy pipe: what more it holds now is read at once, in large reads, rather than a wake-up at a time (only
        // when the stream holds nothing read before it, or the order would change).
        if (watched.status.reading && socket.readableLength === 0) this.#write(name, watched, this.#readNow(pipe, BUSY_READS));
      });
      socket.on('error', () => undefined);
      if (!watched.status.reading) socket.pause();
      return pipe;
    });
    watched.pipes.set(instance, pipes);
    return true;
  }

  /** Writes every whole line `name`'s pipes hold now; resolves once they are in its log (what a program wrote before
   * this call is there after it). */
  async flush(name: string): Promise<boolean> {
    const watched = this.#watched.get(name);
    if (watched === undefined) return false;
    this.#write(name, watched, Buffer.concat(pipesOf(watched).map((pipe) => this.#drain(pipe))));
    await this.#written(watched, watched.queuedBytes);
    return true;
  }

  async follow(guest: Guest, name: string, lines: number): Promise<string[]> {
    checkName(name);
    if (!Number.isInteger(lines) || lines < 0 || lines > MAX_TAIL) throw new DaeError('ERR_BAD_ARGS', `lines must be a whole number from 0 to ${MAX_TAIL}, got ${JSON.stringify(lines)}`);
    // What was written before this call is stored first: it is history, never pushed.
    await this.flush(name);
    const follower = this.#followers.add(name, guest);
    const history = await readLog(logFile(this.#options.logDir, name), this.#options.limits.files, { lines });
    this.#followers.start(name, follower, history);
    return history;
  }

  /** Stops reading `name`'s pipes, after what is in them; what is left of a line is written; resolves once its log is
   * closed. */
  async unwatch(name: string): Promise<boolean> {
    const watched = this.#watched.get(name);
    if (watched === undefined) return false;
    this.#watched.delete(name);
    const stored: Buffer[] = [];
    for (const pipe of pipesOf(watched)) {
      pipe.socket.pause();
      // The last words of runs that just stopped.
      stored.push(this.#drain(pipe), Buffer.from(pipe.splitter.end(Date.now()).map(formatRecord).join('')));
      pipe.socket.destroy();
    }
    this.#write(name, watched, Buffer.concat(stored));
    await this.#written(watched, watched.queuedBytes);
    await watched.file.close();
    this.#followers.end(name);
    return true;
  }

  // The stored lines of all a pipe holds now.
  #drain(pipe: Pipe): Buffer {
    // What the stream read before (and keeps while it is paused) goes first, through its 'data' handler.
    while (pipe.socket.read() !== null);
    // A few reads take all it held when asked (64 KiB a pipe): a writer that keeps it full cannot hold this here.
    return this.#readNow(pipe, DRAIN_READS);
  }

  // The stored lines of what a pipe holds now, in up to `reads` reads (it is non-blocking: an empty one ends them).
  #readNow(pipe: Pipe, reads: number): Buffer {
    const stored: Buffer[] = [];
    for (let i = 0; i < reads; i++) {
      let n = 0;
      try {
        n = readSync(pipe.fd, this.#buffer);
      } catch {
        break;
      }
      if (n === 0) break;
      stored.push(pipe.splitter.format(this.#buffer.subarray(0, n), Date.now()));
    }
    return stored.length === 1 ? stored[0]! : Buffer.concat(stored);
  }

  override async stop(): Promise<void> {
    await Promise.all([...this.#watched.keys()].map((name) => this.unwatch(name)));
    await super.stop();
  }

  // Queues stored lines for the log; past the high-water mark its pipes are not read until the disk catches up.
  #write(name: string, watched: Watched, stored: Buffer): void {
    if (stored.length === 0) return;
    watched.queued.push(stored);
    this.#followers.offer(name, stored);
    watched.queuedBytes += stored.length;
    if (pending(watched) >= HIGH_WATER && watched.status.reading) this.#reading(watched, false);
    this.#pump(name, watched);
  }

  // One write at a time, each of all that queued up meanwhile: a flood of small lines makes few, large writes.
  #pump(name: string, watched: Watched): void {
    if (watched.pumping !== null || watched.queued.length === 0) return;
    const { status } = watched;
    const batch = Buffer.concat(watched.queued.splice(0));
    watched.pumping = watched.file.append(batch).catch((error: Error) => {
      // A full disk: these lines are lost (counted, said); the pipes keep being read so no writer waits forever.
      if (status.lost === 0) this.#say(`${name}: cannot write ${watched.file.path}: ${error.message} (lines are lost until it can)`);
      for (let at = batch.indexOf(0x0a); at !== -1; at = batch.indexOf(0x0a, at + 1)) status.lost++;
    }).then(() => {
      watched.doneBytes += batch.length;
      if (!status.reading && pending(watched) < HIGH_WATER / 2) this.#reading(watched, true);
      watched.pumping = null;
      this.#pump(name, watched);
    });
  }

  // Resolves once the first `bytes` ever queued are written (or lost): more coming meanwhile is not waited for.
  async #written(watched: Watched, bytes: number): Promise<void> {
    while (watched.doneBytes < bytes && watched.pumping !== null) await watched.pumping;
  }

  #reading(watched: Watched, on: boolean): void {
    watched.status.reading = on;
    if (!on) watched.status.held++;
    for (const pipe of pipesOf(watched)) {
      if (on) pipe.socket.resume();
      else pipe.socket.pause();
    }
  }

  // Says what went wrong in the supervisor's log (a full disk may refuse that too: then nowhere).
  #say(message: string): void {
    const text = formatRecord({ time: Date.now(), stream: 'err', line: `dae-log: ${message}` });
    try {
      if (this.#options.ownLog === undefined) process.stderr.write(text);
      // Appended, never rotated here: the supervisor alone rotates its log.
      else {
        const fd = openSync(this.#options.ownLog, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o600);
        try {
          writeSync(fd, text);
        } finally {
          closeSync(fd);
        }
      }
    } catch {
      // nowhere to say it
    }
  }
}
