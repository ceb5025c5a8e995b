// One connection's session, whatever the door: ordered replies, in-flight and write-buffer limits, pushes, auth.
import { EventEmitter } from 'node:events';
import { DaeError, toWireError, type WireError } from '../errors.js';
import { createDebug } from '../debug.js';
import { formatPacket, formatReply, isHostHeader, isHttpRequestLine, isValidName, parsePacket } from '../protocol/packet.js';
import type { Limits } from '../protocol/limits.js';
import { isReplyName, resolveCommand, type Command } from './commands.js';

const debug = createDebug('session');

/** What a session writes to: a socket, a WebSocket, or memory. */
export interface Endpoint {
  readonly kind: string;
  readonly remote: string;
  /** Who is on the other end (`uid <n>` on loopback, `address <ip>` elsewhere; null for a unix socket or memory). */
  readonly peer: string | null;
  write(text: string): void;
  /** Bytes accepted by `write` and not yet sent. */
  readonly buffered: number;
  pause(): void;
  resume(): void;
  /** Graceful close after what was written. */
  end(): void;
  destroy(): void;
}

/** The connection a command came from, as a handler sees it. */
export interface Guest {
  readonly id: number;
  /** `tcp`, `unix`, `ws`, `local`. */
  readonly kind: string;
  readonly remote: string;
  /** Who is on the other end: `uid <n>` for a loopback peer, `address <ip>` otherwise, null for unix sockets. */
  readonly peer: string | null;
  readonly authenticated: boolean;
  /** Marks this connection as authenticated (for custom `auth` schemes). */
  authenticate(): void;
  /** Marks this connection as holding a read-only subscription (`events`): it is exempt from the auth deadline. */
  subscribed(): void;
  /** Sends a packet that is not a reply; the name may not be one of the daemon's commands nor a reply name. */
  push(name: string, ...args: unknown[]): boolean;
  /** Ends the connection once every reply owed so far is written; later input is ignored. */
  endAfterReplies(): void;
  close(): void;
  readonly closed: boolean;
  on(event: 'close', listener: () => void): this;
  once(event: 'close', listener: () => void): this;
  off(event: 'close', listener: () => void): this;
}

/** What a session needs from its daemon. */
export interface SessionHost {
  readonly commands: Map<string, Command>;
  readonly limits: Limits;
  /** Runs a resolved command with `this` bound to the daemon. */
  run(command: Command, args: unknown[], guest: Guest): unknown;
}

interface Slot {
  text: string | null;
}

const FATAL_CLOSE_MS = 1000;
// The protocol's blanks only: other Unicode spaces make a line that gets ERR_BAD_PACKET.
const BLANK_LINE = /^[ \t\r]*$/;
let nextId = 1;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

function errorPacket(error: WireError): string {
  return formatPacket('error', [error]);
}

/** Serves one connection. Lines go in through `receive`; replies come out in order through the endpoint. */
export class Session extends EventEmitter implements Guest {
  readonly id = nextId++;
  readonly #host: SessionHost;
  readonly #endpoint: Endpoint;
  readonly #limits: Limits;
  #slots: Slot[] = [];
  #slotHead = 0;
  #inFlight = 0;
  /** Barrier commands in flight: nothing after them runs until they are answered. */
  #barriers = 0;
  #backlog: string[] = [];
  #backlogHead = 0;
  #out = '';
  #flushQueued = false;
  #inRead = false;
  #firstLine = true;
  #authenticated: boolean;
  #inputDone = false; // no more input will be processed (peer ended, `dae`, stop, fatal)
  #endWhenIdle = false;
  /** Stopping: what was received still runs, nothing more is read. */
  #draining = false;
  #shutdownAfterLine = false;
  #closed = false;
  #pausedForBacklog = false;
  #pausedForWrite = false;
  #slowTimer: NodeJS.Timeout | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #killTimer: NodeJS.Timeout | null = null;
  #authTimer: NodeJS.Timeout | null = null;
  #legacy = false;

  constructor(host: SessionHost, endpoint: Endpoint, options: { authenticated?: boolean } = {}) {
    super();
    this.#host = host;
    this.#endpoint = endpoint;
    this.#limits = host.limits;
    this.#authenticated = options.authenticated === true;
    if (this.#limits.idleTimeout > 0) {
      this.#idleTimer = setTimeout(() => this.fatal({ code: 'ERR_IDLE_TIMEOUT', message: `nothing received for ${this.#limits.idleTimeout} ms` }), this.#limits.idleTimeout);
    }
    if (this.#limits.authTimeout > 0 && !this.#authenticated && endpoint.peer !== null) {
      this.#authTimer = setTimeout(() => this.fatal({ code: 'ERR_AUTH_TIMEOUT', message: `no auth within ${this.#limits.authTimeout} ms` }), this.#limits.authTimeout);
    }
  }

  get kind(): string {
    return this.#endpoint.kind;
  }

  get remote(): string {
    return this.#endpoint.remote;
  }

  get peer(): string | null {
    return this.#endpoint.peer;
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  get closed(): boolean {
    return this.#closed;
  }

  authenticate(): void {
    this.#authenticated = true;
    this.subscribed();
  }

  subscribed(): void {
    if (this.#authTimer) clearTimeout(this.#authTimer);
    this.#authTimer = null;
  }

  /** One line of input (a packet without its newline). */
  receive(line: string): void {
    if (this.#inputDone) return;
    this.#idleTimer?.refresh();
    if (this.#firstLine) {
      if (BLANK_LINE.test(line)) return;
      this.#firstLine = false;
      if (isHttpRequestLine(line)) return this.#refuse('an HTTP request');
    }
    // The regex runs only on lines that could match it: 'h', 'H', a control or space, or non-ASCII first.
    const first = line.charCodeAt(0);
    if (line.length > 4 && (first === 0x68 || first === 0x48 || first <= 0x20 || first >= 0x80) && isHostHeader(line)) return this.#refuse('a Host: header');
    if (this.#backlog.length > this.#backlogHead || this.#mustWait()) {
      // Held, and reading paused: what is held is bounded by the read that brought it.
      this.#backlog.push(line);
      this.#setPaused('backlog', true);
    } else this.#handle(line);
    // The rest of the chunk that brought it still arrives, and is served too.
    if (this.#shutdownAfterLine && !this.#draining) queueMicrotask(() => this.shutdown());
  }

  // A command waits while too many replies are owed, or while replies wait to be written.
  #mustWait(): boolean {
    const max = this.#limits.maxInFlight;
    return this.#barriers > 0 || this.#inFlight >= max || this.#slots.length - this.#slotHead >= max ||
      this.#pausedForWrite || this.#out.length > this.#limits.maxWriteBuffer;
  }

  // Handles held lines while the limits allow.
  #pump(): void {
    while (this.#backlogHead < this.#backlog.length && !this.#inputDone && !this.#mustWait()) {
      const line = this.#backlog[this.#backlogHead]!;
      this.#backlog[this.#backlogHead++] = '';
      this.#handle(line);
    }
    if (this.#backlogHead === this.#backlog.length) {
      this.#backlog = [];
      this.#backlogHead = 0;
      if (!this.#draining) this.#setPaused('backlog', false);
    }
  }

  /** The peer ended its side: answer everything received, then close. */
  inputEnded(): void {
    this.#endWhenIdle = true;
    this.#queueFlush();
  }

  /** A connection-ending error, written just before the close. */
  fatal(error: WireError): void {
    if (this.#closed || this.#killTimer) return;
    debug('#%d fatal %s', this.id, error.code);
    this.#inputDone = true;
    this.#backlog = [];
    this.#backlogHead = 0;
    // Replies already complete go first; commands still running are abandoned.
    this.#collect();
    this.#slots = [];
    this.#slotHead = 0;
    // An original dae client turns every packet into an event: an `error` one would crash it. It gets the close only.
    if (!this.#legacy) this.#out += errorPacket(error);
    this.#flush();
    this.#endpoint.end();
    this.#killTimer = setTimeout(() => this.#endpoint.destroy(), FATAL_CLOSE_MS);
    this.#killTimer.unref();
  }

  /** Daemon shutdown (a graceful stop, a reload): stop reading, run and answer every command already received (those
   * held back by the limits too), then close. */
  shutdown(): void {
    if (this.#closed) return;
    this.#draining = true;
    this.#setPaused('backlog', true);
    this.#endWhenIdle = true;
    this.#pump();
    this.#queueFlush();
  }

  /** Whether a line has arrived on it yet. */
  get received(): boolean {
    return !this.#firstLine;
  }

  /** A connection accepted while the daemon stops: its first line (waited for up to `graceMs`) and what came with it
   * are served, then it closes as at shutdown. */
  shutdownAfterFirstLine(graceMs: number): void {
    this.#shutdownAfterLine = true;
    const timer = setTimeout(() => this.shutdown(), graceMs);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  }

  endAfterReplies(): void {
    this.#inputDone = true;
    this.#backlog = [];
    this.#backlogHead = 0;
    this.#endWhenIdle = true;
    this.#queueFlush();
  }

  close(): void {
    this.#endpoint.destroy();
  }

  push(name: string, ...args: unknown[]): boolean {
    if (!isValidName(name) || isReplyName(this.#host.commands, name)) {
      throw new DaeError('ERR_BAD_OPTION', `push name ${JSON.stringify(name)} is not valid or is a command or reply name`);
    }
    if (this.#closed || this.#killTimer) return false;
    this.#out += formatPacket(name, args);
    this.#queueFlush();
    if (this.#endpoint.buffered + this.#out.length > 4 * this.#limits.maxWriteBuffer) {
      this.fatal({ code: 'ERR_SLOW_CONSUMER', message: 'the peer does not read its pushes' });
    }
    return true;
  }

  /** The endpoint wrote everything it held. */
  drained(): void {
    if (this.#pausedForWrite && this.#endpoint.buffered <= this.#limits.maxWriteBuffer) {
      if (this.#slowTimer) clearTimeout(this.#slowTimer);
      this.#slowTimer = null;
      this.#setPaused('write', false);
      this.#pump();
    }
  }

  /** The endpoint is gone. */
  closedByEndpoint(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inputDone = true;
    for (const timer of [this.#slowTimer, this.#idleTimer, this.#killTimer, this.#authTimer]) if (timer) clearTimeout(timer);
    this.#slots = [];
    this.#backlog = [];
    this.emit('close');
  }

  #refuse(what: string): void {
    debug('#%d refused %s', this.id, what);
    this.#inputDone = true;
    this.#endpoint.destroy();
  }

  #handle(line: string): void {
    const parsed = parsePacket(line);
    if (parsed.kind === 'empty') return;
    if (parsed.kind === 'error') return this.#reply(this.#errorReply(parsed.error, parsed.name));
    const resolved = resolveCommand(this.#host.commands, parsed.name, parsed.args, this.#authenticated);
    if (!('run' in resolved)) return this.#reply(this.#errorReply(resolved, parsed.name));
    let result: unknown;
    try {
      result = this.#host.run(resolved, parsed.args, this);
    } catch (error) {
      return this.#reply(this.#errorReply(toWireError(error), resolved.name));
    }
    if (!isThenable(result)) return this.#reply(reply(resolved, result));
    const slot: Slot = { text: null };
    this.#slots.push(slot);
    this.#inFlight++;
    if (resolved.barrier) this.#barriers++;
    result.then(
      (value) => this.#settle(slot, reply(resolved, value), resolved.barrier),
      (error: unknown) => this.#settle(slot, this.#errorReply(toWireError(error), resolved.name), resolved.barrier),
    );
  }

  /**
   * The error reply: `error [{code, message}]`; to an original dae client (it would crash on an `error` event), the
   * command's own reply with `null` and the error as a second argument, or nothing when the packet has no name.
   */
  #errorReply(error: WireError, name: string | undefined): string {
    if (!this.#legacy) return errorPacket(error);
    if (name === undefined) return '';
    return formatPacket(this.#host.commands.get(name)?.reply ?? name, [null, error]);
  }

  /** The peer is an original dae client (its framer saw unterminated packets): errors never reach it as `error`. */
  speaksLegacy(): void {
    this.#legacy = true;
  }

  #reply(text: string): void {
    if (this.#slotHead === this.#slots.length) {
      this.#out += text;
      this.#queueFlush();
    } else {
      this.#slots.push({ text });
    }
  }

  #settle(slot: Slot, text: string, barrier: boolean): void {
    if (this.#closed) return;
    this.#inFlight--;
    if (barrier) this.#barriers--;
    slot.text = text;
    this.#collect();
    this.#queueFlush();
    this.#pump();
  }

  // Moves finished replies at the head of the queue to the output.
  #collect(): void {
    const slots = this.#slots;
    let head = this.#slotHead;
    while (head < slots.length && slots[head]!.text !== null) this.#out += slots[head++]!.text;
    if (head === slots.length) {
      this.#slots = [];
      this.#slotHead = 0;
    } else {
      this.#slotHead = head;
    }
  }

  /** The door is handing over one read's lines: replies wait for `endRead()` instead of a microtask. */
  beginRead(): void {
    this.#inRead = true;
  }

  /** The read is handled: what it produced goes out in one write, before anything else runs. */
  endRead(): void {
    this.#inRead = false;
    if (this.#flushQueued) return;
    this.#flush();
    this.#pump();
    this.#maybeEnd();
  }

  #queueFlush(): void {
    if (this.#flushQueued || this.#inRead) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#flush();
      this.#pump();
      this.#maybeEnd();
    });
  }

  #flush(): void {
    if (this.#out === '' || this.#closed) return;
    const text = this.#out;
    this.#out = '';
    this.#endpoint.write(text);
    if (this.#endpoint.buffered > this.#limits.maxWriteBuffer && !this.#pausedForWrite) {
      this.#setPaused('write', true);
      this.#slowTimer = setTimeout(
        () => this.fatal({ code: 'ERR_SLOW_CONSUMER', message: `replies waited over ${this.#limits.slowConsumerTimeout} ms to be read` }),
        this.#limits.slowConsumerTimeout,
      );
    }
  }

  // Only called after a flush, so a reply queued in the same tick is never cut off.
  #maybeEnd(): void {
    if (!this.#endWhenIdle || this.#closed || this.#killTimer) return;
    if (this.#slots.length > this.#slotHead || this.#backlog.length > this.#backlogHead) return;
    this.#inputDone = true;
    this.#flush();
    this.#endpoint.end();
    // Reading again (what comes is dropped) is how the peer's end, and so the close, is seen: a socket paused for a
    // shutdown would otherwise stay half-open until the stop deadline.
    if (this.#pausedForBacklog || this.#pausedForWrite) {
      this.#pausedForBacklog = false;
      this.#pausedForWrite = false;
      this.#endpoint.resume();
    }
  }

  #setPaused(reason: 'backlog' | 'write', paused: boolean): void {
    const before = this.#pausedForBacklog || this.#pausedForWrite;
    if (reason === 'backlog') this.#pausedForBacklog = paused;
    else this.#pausedForWrite = paused;
    const after = this.#pausedForBacklog || this.#pausedForWrite;
    if (before === after) return;
    if (after) this.#endpoint.pause();
    else this.#endpoint.resume();
  }
}

function reply(command: Command, value: unknown): string {
  try {
    if (command.spread && Array.isArray(value)) return formatPacket(command.reply, value);
    return formatReply(command.reply, value);
  } catch (error) {
    return errorPacket({ code: 'ERR_COMMAND_FAILED', message: `the result of ${command.name} is not JSON: ${(error as Error).message}` });
  }
}
