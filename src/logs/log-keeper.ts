// The log process of a home (`dae-log`): it holds the read ends of every daemon's output pipes (named pipes in
// `run/fifo/`, `<name>.out` and `<name>.err`), stamps each line with its time and stream, and appends it to
// `logs/<name>.log`. It is its own process, so output flows while the supervisor restarts; a named pipe can be opened
// again by the next log process, which picks every pipe up at start. When it falls behind the disk it stops reading,
// the pipe fills and the writer waits (backpressure) instead of this process taking memory without bound.
import { constants, openSync, readdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Daemon } from '../daemon/daemon.js';
import { DaeError } from '../errors.js';
import { formatRecord, LineSplitter, type Stream } from './lines.js';
import { RotatingFile, type RotationLimits } from './rotating-file.js';

export interface LogKeeperOptions {
  fifoDir: string;
  logDir: string;
  /** The unix socket the supervisor talks to it on. */
  socket: string;
  limits: RotationLimits & { maxLine: number };
}

/** Bytes waiting to be written for one daemon past which its pipes are no longer read. */
const HIGH_WATER = 1 << 20;
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

interface Watched {
  file: RotatingFile;
  pipes: Socket[];
  splitters: LineSplitter[];
  /** Bytes handed to the file and not yet written. */
  pending: number;
  /** Times reading stopped because the disk was behind. */
  held: number;
}

/** Where a daemon's two pipes are. */
export function fifoPath(dir: string, name: string, stream: Stream): string {
  return join(dir, `${name}.${stream}`);
}

export class LogKeeper extends Daemon {
  override name = 'dae-log';
  readonly #options: LogKeeperOptions;
  readonly #watched = new Map<string, Watched>();

  constructor(options: LogKeeperOptions) {
    super({ name: 'dae-log', env: {}, socket: options.socket });
    this.#options = options;
  }

  commands = {
    watch: { protected: true, run: (name: string) => this.watch(name) },
    unwatch: { protected: true, run: (name: string) => this.unwatch(name) },
    /** Per daemon: whether its pipes are read now (false: the disk is behind), bytes waiting, times held back. */
    status: () => Object.fromEntries([...this.#watched].map(([name, w]) => [name, { reading: w.pending < HIGH_WATER, pending: w.pending, held: w.held }])),
  };

  /** Starts, and takes up every pipe a previous log process left. */
  override async start(): Promise<void> {
    await super.start();
    for (const entry of readdirSync(this.#options.fifoDir)) {
      const match = /^(.+)\.out$/.exec(entry);
      if (match && NAME.test(match[1]!)) this.watch(match[1]!);
    }
  }

  /** Reads `name`'s pipes into its log (once: a second call changes nothing). */
  watch(name: string): true {
    if (typeof name !== 'string' || !NAME.test(name)) throw new DaeError('ERR_BAD_ARGS', `not a daemon name: ${JSON.stringify(name)}`);
    if (this.#watched.has(name)) return true;
    const { fifoDir, logDir, limits } = this.#options;
    const watched: Watched = { file: new RotatingFile(join(logDir, `${name}.log`), limits), pipes: [], splitters: [], pending: 0, held: 0 };
    for (const stream of ['out', 'err'] as const) {
      // Read and write: this process is a writer too, so the pipe never ends while runs come and go, and opening it
      // never waits for one.
      const fd = openSync(fifoPath(fifoDir, name, stream), constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const pipe = new Socket({ fd, readable: true, writable: false });
      const splitter = new LineSplitter(stream, limits.maxLine);
      pipe.on('data', (chunk: Buffer) => this.#write(name, watched, splitter.push(chunk, Date.now())));
      pipe.on('error', () => undefined);
      watched.pipes.push(pipe);
      watched.splitters.push(splitter);
    }
    this.#watched.set(name, watched);
    return true;
  }

  /** Stops reading `name`'s pipes; what is left of a line is written; resolves once its log is closed. */
  async unwatch(name: string): Promise<boolean> {
    const watched = this.#watched.get(name);
    if (watched === undefined) return false;
    this.#watched.delete(name);
    for (const pipe of watched.pipes) pipe.destroy();
    this.#write(name, watched, watched.splitters.flatMap((splitter) => splitter.end(Date.now())));
    await watched.file.close();
    return true;
  }

  override async stop(): Promise<void> {
    await Promise.all([...this.#watched.keys()].map((name) => this.unwatch(name)));
    await super.stop();
  }

  #write(name: string, watched: Watched, records: ReturnType<LineSplitter['push']>): void {
    if (records.length === 0) return;
    const text = records.map(formatRecord).join('');
    const bytes = Buffer.byteLength(text);
    watched.pending += bytes;
    if (watched.pending >= HIGH_WATER && !watched.pipes[0]!.isPaused()) {
      watched.held++;
      for (const pipe of watched.pipes) pipe.pause();
    }
    watched.file.append(text).then(
      () => {
        watched.pending -= bytes;
        if (watched.pending < HIGH_WATER / 2 && watched.pipes[0]!.isPaused()) for (const pipe of watched.pipes) pipe.resume();
      },
      (error: Error) => {
        // A full disk: the records are lost (said once per failure), the pipes keep being read so no writer waits forever.
        watched.pending -= bytes;
        process.stderr.write(`dae-log: ${name}: cannot write ${watched.file.path}: ${error.message}\n`);
        for (const pipe of watched.pipes) pipe.resume();
      },
    );
  }
}
