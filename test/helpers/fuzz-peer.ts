// A raw peer for the fuzzer: writes bytes exactly as given, splits what comes back into lines, reports the close.
import { connect, type Socket } from 'node:net';

const LF = 0x0a;

export interface PeerClosed {
  /** Bytes after the last newline when the connection closed: a reply cut short. */
  readonly partial: boolean;
}

/** One TCP connection driven byte by byte. */
export class FuzzPeer {
  readonly #socket: Socket;
  readonly closed: Promise<PeerClosed>;
  #parts: Buffer[] = [];
  #isClosed = false;
  /** Called with each reply line, newline removed. */
  onLine: (text: string) => void = () => undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isClosed = true;
        resolve({ partial: this.#parts.length > 0 });
      });
    });
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    // The daemon ended its side: nothing more will be read, and what we still send is noise.
    socket.on('end', () => socket.destroy());
    // A write after the daemon closed (EPIPE, ECONNRESET) is how a limit looks from here; `close` follows.
    socket.on('error', () => undefined);
  }

  /** Connects to 127.0.0.1:`port`; rejects after `timeout` ms. */
  static connect(port: number, timeout: number): Promise<FuzzPeer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to 127.0.0.1:${port} took over ${timeout} ms`));
      }, timeout);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new FuzzPeer(socket));
      });
    });
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Writes raw bytes; a no-op once closed. Resolves when the socket took them (drain when it was full). */
  write(bytes: Buffer): Promise<void> {
    if (this.#isClosed || this.#socket.destroyed) return Promise.resolve();
    if (this.#socket.write(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  /** Ends our side: the daemon answers what it got, then closes. */
  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #read(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, nl);
      const line = this.#parts.length === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#parts = [];
      start = nl + 1;
      this.onLine(line.toString('utf8'));
      if (this.#socket.destroyed) return;
    }
    if (start < chunk.length) this.#parts.push(chunk.subarray(start));
  }
}
