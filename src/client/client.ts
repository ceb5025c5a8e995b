// A Common TCP client: many calls in flight on one connection, replies matched in order, pushes to listeners.
import { EventEmitter } from 'node:events';
import { DaeError, fromWire } from '../errors.js';
import { formatPacket, isValidName, LEGACY_REPLIES, parsePacket } from '../protocol/packet.js';
import { openStream, openWebSocket, type Transport, type TransportHandlers } from './transport.js';

export interface ClientOptions {
  host?: string;
  port?: number;
  /** A unix socket path, instead of host and port. */
  path?: string;
  /** A WebSocket URL (`ws://127.0.0.1:17000`), instead of host and port. */
  url?: string;
  /** Default per-call timeout in ms (0 = none). */
  timeout?: number;
  connectTimeout?: number;
  /** Largest reply accepted, in bytes. */
  maxPacketBytes?: number;
}

export interface CallOptions {
  timeout?: number;
}

interface Pending {
  readonly command: string;
  readonly reply: string;
  readonly spread: boolean;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | null;
  settled: boolean;
}


// Errors the server writes just before it closes the connection: pending calls get them too.
const CLOSING_CODES = new Set(['ERR_PACKET_TOO_LARGE', 'ERR_SLOW_CONSUMER', 'ERR_IDLE_TIMEOUT', 'ERR_TOO_MANY_CONNECTIONS']);

const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_MAX_PACKET = 64 * 1024 * 1024;

/** One connection to a daemon. Emits `push` (name, args) and `close` (error?). */
export class Client extends EventEmitter {
  readonly #transport: Transport;
  readonly #timeout: number;
  readonly #pending: Pending[] = [];
  #head = 0;
  #closed = false;
  #closeError: DaeError | undefined;
  readonly #closedPromise: Promise<void>;

  private constructor(transport: Transport, timeout: number, closed: Promise<void>) {
    super();
    this.#transport = transport;
    this.#timeout = timeout;
    this.#closedPromise = closed;
  }

  /** Connects over TCP (`host`, `port`), a unix socket (`path`) or WebSocket (`url`). */
  static async connect(options: ClientOptions): Promise<Client> {
    if (options.path === undefined && options.url === undefined && (options.port === undefined || !Number.isInteger(options.port))) {
      throw new DaeError('ERR_BAD_OPTION', `connect needs a port, a path or a url, got ${JSON.stringify(options)}`);
    }
    const ref: { client?: Client } = {};
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    const maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET;
    const handlers: TransportHandlers = {
      line: (text) => {
        if (ref.client) ref.client.#onLine(text);
      },
      close: (error) => {
        if (ref.client) ref.client.#onClose(error);
        markClosed();
      },
    };
    const transport = options.url !== undefined
      ? await openWebSocket(options.url, handlers, { ...options, maxPacketBytes })
      : await openStream({ ...options, maxPacketBytes }, handlers);
    // Events reach the transport only after this continuation has run: nothing is missed.
    ref.client = new Client(transport, options.timeout ?? DEFAULT_TIMEOUT, closed);
    return ref.client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `name` with `args`; resolves with the reply's value or rejects with the remote `code`. */
  call(name: string, ...args: unknown[]): Promise<unknown> {
    return this.request(name, args);
  }

  /** Like `call`, with per-call options. */
  request(name: string, args: readonly unknown[] = [], options: CallOptions = {}): Promise<unknown> {
    const timeout = options.timeout ?? this.#timeout;
    // Created here so the stack names the caller, not a timer.
    const timeoutError = timeout > 0 ? new DaeError('ERR_TIMEOUT', `${name} got no reply within ${timeout} ms`) : null;
    if (this.#closed) return Promise.reject(this.#closeError ?? new DaeError('ERR_CONNECTION_CLOSED', 'the connection is closed'));
    if (!isValidName(name)) return Promise.reject(new DaeError('ERR_BAD_OPTION', `${JSON.stringify(name)} is not a valid command name`));
    let packet: string;
    try {
      packet = formatPacket(name, args);
    } catch (error) {
      return Promise.reject(new DaeError('ERR_BAD_ARGS', `arguments of ${name} are not JSON: ${(error as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { command: name, reply: LEGACY_REPLIES[name] ?? name, spread: name === 'dae', resolve, reject, timer: null, settled: false };
      if (timeoutError) {
        pending.timer = setTimeout(() => {
          // The slot stays queued so the late reply is consumed by it, not by a later call.
          pending.settled = true;
          reject(timeoutError);
        }, timeout);
      }
      this.#pending.push(pending);
      this.#transport.write(packet);
    });
  }

  /** Ends the connection after the replies owed; resolves when closed. */
  close(): Promise<void> {
    if (!this.#closed) this.#transport.end();
    return this.#closedPromise;
  }

  destroy(): void {
    this.#transport.destroy();
  }

  #onLine(text: string): void {
    const parsed = parsePacket(text);
    if (parsed.kind !== 'packet') {
      if (parsed.kind === 'error') this.emit('push', 'error', [{ code: 'ERR_PROTOCOL', message: `unreadable packet from the daemon: ${parsed.error.message}` }]);
      return;
    }
    const { name, args } = parsed;
    const head = this.#head < this.#pending.length ? this.#pending[this.#head]! : undefined;
    if (head !== undefined && (name === head.command || name === head.reply || name === 'error')) {
      this.#pending[this.#head++] = undefined as unknown as Pending;
      if (this.#head === this.#pending.length) {
        this.#pending.length = 0;
        this.#head = 0;
      }
      if (head.timer) clearTimeout(head.timer);
      if (head.settled) return;
      head.settled = true;
      if (name === 'error') {
        const error = fromWire(args[0]);
        if (CLOSING_CODES.has(error.code)) this.#closeError ??= error;
        head.reject(error);
      } else head.resolve(head.spread ? args : args[0]);
      return;
    }
    if (name === 'error') this.#closeError = fromWire(args[0]);
    this.emit('push', name, args);
  }

  #onClose(error?: DaeError): void {
    this.#closed = true;
    this.#closeError ??= error;
    const pending = this.#pending.slice(this.#head);
    this.#pending.length = 0;
    this.#head = 0;
    for (const entry of pending) {
      if (entry.timer) clearTimeout(entry.timer);
      if (entry.settled) continue;
      entry.settled = true;
      entry.reject(this.#closeError ?? new DaeError('ERR_CONNECTION_CLOSED', `the connection closed before the reply to ${entry.reply}`));
    }
    this.emit('close', this.#closeError);
  }
}
