// A raw Common TCP peer for tests: write bytes, await reply lines and the close, no sleeps.
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';

export interface RawPeer {
  readonly socket: Socket;
  write(data: string | Buffer): void;
  /** The next line received (without its newline); rejects if the connection closes first. */
  line(): Promise<string>;
  /** The next `count` lines. */
  lines(count: number): Promise<string[]>;
  /** Resolves with every line still received once the server closes the connection. */
  closed(): Promise<string[]>;
  end(data?: string): void;
}

/** Connects to 127.0.0.1:`port` (or a unix socket path). */
export async function rawPeer(target: number | string): Promise<RawPeer> {
  const socket = typeof target === 'number' ? connect({ port: target, host: '127.0.0.1' }) : connect({ path: target });
  await once(socket, 'connect');
  let buffer = '';
  const ready: string[] = [];
  const waiters: Array<{ resolve(line: string): void; reject(error: Error): void }> = [];
  let isClosed = false;
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(line);
      else ready.push(line);
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    isClosed = true;
    for (const waiter of waiters.splice(0)) waiter.reject(new Error(`connection closed (unterminated: ${JSON.stringify(buffer)})`));
  });
  const line = (): Promise<string> => {
    const next = ready.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
  };
  return {
    socket,
    write: (data) => void socket.write(data),
    line,
    lines: async (count) => {
      const out: string[] = [];
      for (let i = 0; i < count; i++) out.push(await line());
      return out;
    },
    closed: async () => {
      await closedPromise;
      return ready.splice(0);
    },
    end: (data) => void (data === undefined ? socket.end() : socket.end(data)),
  };
}

/** A promise with its resolve and reject exposed: tests release handlers by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
