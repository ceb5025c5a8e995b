// The abstract `Daemon`: declare a name and commands, get a Common TCP server with the built-ins, limits and auth.
import { EventEmitter } from 'node:events';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { lstat, mkdir, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaeError, toWireError } from '../errors.js';
import { createDebug } from '../debug.js';
import { DEFAULT_LIMITS, type Limits } from '../protocol/limits.js';
import { buildCommandTable, describeCommands, resolveCommand, type Command, type CommandDeclarations } from './commands.js';
import { readDaeEnv, type DaeEnv } from '../protocol/env.js';
import { LocalGuest } from './local-guest.js';
import type { Guest, Session } from './session.js';
import { serveStream } from './stream.js';
import { SupervisorLink } from './supervised.js';
import { makePrivate, prepareSocketPath } from './unix.js';
import { takeListenFds } from '../protocol/listen-fds.js';
import { handOver } from './hand-over.js';
import { Gate } from './gate.js';
import type { Door, DoorHost, HttpPage } from './door.js';

const debug = createDebug('daemon');

export interface DaemonOptions {
  /** The daemon's name (a supervisor's `DAE_NAME` wins). */
  name?: string;
  /** Address of the TCP, HTTP and WebSocket doors (`DAE_HOST` wins); loopback unless configured. */
  host?: string;
  /** TCP port (`DAE_TCP_PORT` wins); 0 or absent = OS-assigned. */
  port?: number;
  limits?: Partial<Limits>;
  /** Token for `auth`; commands declared `protected` need it. */
  token?: string;
  /** How long `stop()` lets commands in flight finish before closing connections (ms). */
  stopTimeout?: number;
  /** The environment to read the `DAE_*` contract from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** The unix socket door: on by default (`daemon.<pid>.sock` in the runtime directory), a path, or false. */
  socket?: boolean | string;
  /** HTTP port (`DAE_HTTP_PORT` wins); no HTTP door without one. 0 = OS-assigned. */
  http?: number;
  /** WebSocket port (`DAE_WS_PORT` wins); no WebSocket door without one. 0 = OS-assigned. */
  ws?: number;
  /** Browser origins allowed on the HTTP and WebSocket doors (none by default). */
  allowOrigins?: string[];
  /** Host names accepted besides loopback ones on the HTTP and WebSocket doors (DNS rebinding defence). */
  allowHosts?: string[];
}

/** What `whois` answers: never a secret. */
export interface Identity {
  name: string;
  pid: number;
  port: number;
  ports: Record<string, number | string>;
  created: string;
}

export type DaemonStatus = 'idle' | 'starting' | 'listening' | 'stopping' | 'stopped';

const MAX_AUTH_FAILURES = 5;
// How long a connection accepted while the daemon stops may take to send its first request.
const LATE_GRACE_MS = 1000;

// `daemon.<pid>.sock`; further daemons in the same process get `daemon.<pid>-<n>.sock`.
let socketsInProcess = 0;
function socketName(): string {
  const n = socketsInProcess++;
  return n === 0 ? `daemon.${process.pid}.sock` : `daemon.${process.pid}-${n}.sock`;
}

function checkLimits(limits: Partial<Limits> | undefined): Limits {
  const merged: Limits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits ?? {})) {
    if (!(key in DEFAULT_LIMITS)) throw new DaeError('ERR_BAD_OPTION', `limits.${key} is not a limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new DaeError('ERR_BAD_OPTION', `limits.${key} must be an integer >= 0, got ${JSON.stringify(value)}`);
    }
    merged[key as keyof Limits] = value;
  }
  for (const key of ['maxPacketBytes', 'maxConnections', 'maxConnectionsPerPeer', 'maxInFlight', 'maxWriteBuffer'] as const) {
    if (merged[key] < 1) throw new DaeError('ERR_BAD_OPTION', `limits.${key} must be at least 1, got ${merged[key]}`);
  }
  return merged;
}

function checkPort(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new DaeError('ERR_BAD_OPTION', `${what} must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return value;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Base class of every daemon: `class Kv extends Daemon { name = 'kv'; commands = { … } }`. */
export abstract class Daemon extends EventEmitter {
  /** The daemon's name; `DAE_NAME` replaces it at `start()` when a supervisor set one. */
  name: string;
  /** The commands this daemon answers, by wire name. */
  abstract readonly commands: CommandDeclarations;

  readonly limits: Limits;
  protected readonly env: DaeEnv;
  readonly #options: DaemonOptions;
  #table: Map<string, Command> | null = null;
  readonly #doors: Door[] = [];
  /** The network servers bound by this process (not handed over): what a supervisor's offer gets. */
  readonly #boundHere: Array<readonly [string, Server]> = [];
  readonly #ports: Record<string, number | string> = {};
  #doorHost: DoorHost | null = null;
  #link: SupervisorLink | null = null;
  #port = 0;
  #created = new Date();
  #status: DaemonStatus = 'idle';
  readonly #sessions = new Set<Session>();
  readonly #authFailures = new WeakMap<Guest, number>();
  readonly #gate: Gate;
  /** The first bad option, reported by `start()`: a runnable file then says it in one line instead of a stack. */
  readonly #invalid: unknown = null;

  constructor(options: DaemonOptions = {}) {
    super();
    this.#options = options;
    this.name = options.name ?? new.target.name.toLowerCase();
    let invalid: unknown = null;
    const checked = <T>(check: () => T, fallback: () => T): T => {
      try {
        return check();
      } catch (error) {
        invalid ??= error;
        return fallback();
      }
    };
    this.env = checked(() => readDaeEnv(options.env ?? process.env), () => readDaeEnv({}));
    this.limits = checked(() => checkLimits(options.limits), () => ({ ...DEFAULT_LIMITS }));
    checked(() => {
      if (options.port !== undefined) checkPort('port', options.port);
      if (options.http !== undefined) checkPort('http', options.http);
      if (options.ws !== undefined) checkPort('ws', options.ws);
      if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16)) {
        throw new DaeError('ERR_BAD_OPTION', `token must be a string of at least 16 characters, got ${typeof options.token === 'string' ? `${options.token.length}` : typeof options.token}`);
      }
    }, () => undefined);
    this.#invalid = invalid;
    this.#gate = new Gate(this.limits, (token) => this.checkToken(token));
  }

  get status(): DaemonStatus {
    return this.#status;
  }

  /** The TCP port in use (0 before `start()`). */
  get port(): number {
    return this.#port;
  }

  /** Starts listening; resolves once every door is open. */
  async start(): Promise<void> {
    if (this.#invalid !== null) throw this.#invalid;
    if (this.#status !== 'idle') throw new DaeError('ERR_BAD_OPTION', `start() called when ${this.#status}`);
    this.#setStatus('starting');
    if (this.env.name !== undefined) this.name = this.env.name;
    this.#doorHost = {
      commands: this.#commandTable(),
      limits: this.limits,
      run: (command, args, guest) => this.#run(command, args, guest),
      call: (name, args, guest) => this.#call(name, args, guest),
      describe: () => ({ ...this.identity(), commands: describeCommands(this.#commandTable()) }),
      gate: this.#gate,
      allowOrigins: this.#options.allowOrigins ?? [],
      allowHosts: this.#options.allowHosts ?? [],
      page: (path, accept) => this.httpPage(path, accept),
    };
    const host = this.env.host ?? this.#options.host ?? '127.0.0.1';
    // Sockets handed over by a supervisor that holds them, or by systemd: listened on as given, never bound here.
    const held = takeListenFds(this.#options.env ?? process.env, process.pid);
    const at = (kind: string, where: { port?: number; host?: string; path?: string }): { port?: number; host?: string; path?: string; fd?: number } => {
      const fd = held?.get(kind);
      return fd === undefined ? where : { fd };
    };
    try {
      const tcp = await this.#listenStream('tcp', at('tcp', { port: this.env.tcpPort ?? this.#options.port ?? 0, host }), false);
      this.#port = (tcp.address() as { port: number }).port;
      this.#ports.tcp = this.#port;
      const socket = this.#options.socket ?? true;
      const heldUnix = held?.get('unix');
      if (heldUnix !== undefined && this.env.runtimeDir !== undefined) {
        // The supervisor's copy, made private by it: `<name>.sock` in its runtime folder.
        await this.#listenStream('unix', { fd: heldUnix }, true);
        this.#ports.unix = join(this.env.runtimeDir, `${this.name}.sock`);
      } else if (socket !== false) {
        const path = typeof socket === 'string' ? socket : join(await this.#runtimeDir(), socketName());
        // Mode 0600 in a 0700 folder of the owner: only the owner (and root) can connect, as with the supervisor's
        // control socket, so its connections start authenticated.
        await this.listenUnix(path, true);
        this.#ports.unix = path;
      }
      const http = held?.has('http') ? 0 : (this.env.httpPort ?? this.#options.http);
      if (http !== undefined) this.#ports.http = await this.#listenHttp('http', at('http', { port: http, host }));
      const ws = held?.has('ws') ? 0 : (this.env.wsPort ?? this.#options.ws);
      if (ws !== undefined) this.#ports.ws = await this.#listenHttp('ws', at('ws', { port: ws, host }));
      await this.openDoors();
      // A supervisor that offered to hold them gets the network sockets bound here (a first run).
      await handOver(this.#boundHere, this.#options.env ?? process.env);
    } catch (error) {
      await this.#closeDoors();
      this.#setStatus('stopped');
      throw error;
    }
    this.#created = new Date();
    this.#setStatus('listening');
    debug('%s listening on %s:%d', this.name, host, this.#port);
    const secret = this.env.secret;
    if (this.env.supervised && secret !== undefined) {
      this.#link = new SupervisorLink(() => ({ name: this.name, pid: process.pid, secret, ports: this.doors(), instance: this.env.instance }), this.#options.env ?? process.env);
      await this.#link.open();
    }
  }

  /** Whether its HTTP door also takes WebSocket upgrades (sessions as on its `ws` door), for pages it serves there. */
  protected upgradesHttp(): boolean {
    return false;
  }

  /** A page its HTTP door serves to GET beyond the identity at `/` (null: none); subclasses add theirs. Read-only:
   * no token is asked for, as for `GET /`. */
  protected httpPage(_path: string, _accept: string | undefined): HttpPage | null | Promise<HttpPage | null> {
    return null;
  }

  /** Opens an HTTP door on `port` of `host` (from `openDoors`, for a subclass whose door may fail without failing the
   * start); resolves with the port. */
  protected async listenHttpDoor(port: number, host: string): Promise<number> {
    this.#ports.http = await this.#listenHttp('http', { port, host });
    return this.#ports.http;
  }

  /** Opens further doors after the TCP one; subclasses extend it. */
  protected async openDoors(): Promise<void> {}

  /** Serves Common TCP on a unix socket (0600); `trusted` sessions start authenticated (the file mode is the auth). */
  protected async listenUnix(path: string, trusted: boolean): Promise<void> {
    await prepareSocketPath(path);
    await this.#listenStream('unix', { path }, trusted);
    await makePrivate(path);
  }

  // The daemon's own 0700 runtime directory when no supervisor gave one; never a directory someone else owns.
  async #runtimeDir(): Promise<string> {
    if (this.env.runtimeDir !== undefined) return this.env.runtimeDir;
    const dir = join(tmpdir(), `dae-${process.getuid?.() ?? 'user'}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stats = await lstat(dir);
    if (!stats.isDirectory() || (process.getuid !== undefined && stats.uid !== process.getuid())) {
      throw new DaeError('ERR_BAD_OPTION', `${dir} is not a directory of this user: set DAE_RUNTIME_DIR or the socket option`);
    }
    await chmod(dir, 0o700);
    return dir;
  }

  #host(): DoorHost {
    if (this.#doorHost === null) throw new DaeError('ERR_BAD_OPTION', 'doors open only during start()');
    return this.#doorHost;
  }

  async #listenStream(kind: 'tcp' | 'unix', where: { port?: number; host?: string; path?: string; fd?: number }, trusted: boolean): Promise<Server> {
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    serveStream(server, this.#host(), { kind, trusted, accept: (session) => this.#accept(session) });
    await this.#bind(server, kind, where);
    // Closing a unix server removes its socket file at once (libuv), so a successor can bind while connections drain.
    this.#doors.push({ kind, close: () => new Promise((resolve) => server.close(() => resolve())), destroy: () => undefined });
    return server;
  }

  async #listenHttp(kind: 'http' | 'ws', where: { port?: number; host?: string; fd?: number }): Promise<number> {
    // node:http is loaded only by daemons that open an HTTP or WebSocket door.
    const { createServer: createHttpServer } = await import('node:http');
    // With an auth deadline, a connection that has not sent a whole request (or upgrade) by then is closed too.
    const deadline = this.limits.authTimeout;
    const server: HttpServer = createHttpServer({ keepAlive: true, ...(deadline > 0 ? { connectionsCheckingInterval: Math.min(1000, deadline) } : {}) });
    if (deadline > 0) {
      server.headersTimeout = deadline;
      server.requestTimeout = deadline;
    }
    if (kind === 'http') (await import('./http.js')).serveHttp(server, this.#host());
    // `ws` itself is loaded at the door's first upgrade: it costs megabytes of memory.
    const upgrades = kind === 'ws' || this.upgradesHttp();
    const wss = upgrades ? (await import('./ws-door.js')).openWsDoor(server, this.#host(), (session) => this.#accept(session), kind === 'http') : null;
    this.#gate.guardHttp(server);
    await this.#bind(server, kind, where);
    // Requests whose body is still arriving: at a stop, those not whole within the grace cannot be answered, and go.
    const arriving = new Set<IncomingMessage>();
    server.on('request', (request: IncomingMessage) => {
      if (request.method !== 'POST' || request.complete) return;
      arriving.add(request);
      const done = (): void => void arriving.delete(request);
      request.once('end', done);
      request.once('close', done);
    });
    this.#doors.push({
      kind,
      close: () => new Promise((resolve) => {
        wss?.close();
        setTimeout(() => {
          for (const request of arriving) request.socket.destroy();
        }, LATE_GRACE_MS).unref();
        // A request that arrives on a kept-alive connection now is answered, and its connection closed after it; a
        // connection whose request is in flight is closed as soon as its answer is written.
        server.on('request', (_request, response) => (response.shouldKeepAlive = false));
        const idle = setInterval(() => server.closeIdleConnections(), 20);
        server.close(() => {
          clearInterval(idle);
          resolve();
        });
        server.closeIdleConnections();
      }),
      destroy: () => server.closeAllConnections(),
    });
    return (server.address() as { port: number }).port;
  }

  async #bind(server: Server | HttpServer, kind: string, where: { port?: number; host?: string; path?: string; fd?: number }): Promise<void> {
    const label = where.fd !== undefined ? `descriptor ${where.fd}` : (where.path ?? `${where.host}:${where.port}`);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(where, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new DaeError('ERR_BAD_OPTION', `${this.name} cannot listen (${kind}) on ${label}: ${code ?? (error as Error).message}`, { cause: error });
    }
    server.on('error', (error) => debug('%s %s server error %s', this.name, kind, error.message));
    if (where.fd === undefined && kind !== 'unix') this.#boundHere.push([kind, server]);
  }

  async #closeDoors(): Promise<void> {
    await Promise.all(this.#doors.map((door) => door.close()));
  }

  /** Stops accepting, lets commands in flight finish (up to `stopTimeout`), then closes every connection. */
  async stop(): Promise<void> {
    if (this.#status === 'stopped' || this.#status === 'idle') return;
    if (this.#status === 'stopping') return new Promise((resolve) => this.once('stopped', () => resolve()));
    this.#setStatus('stopping');
    this.#link?.close();
    const closed = this.#closeDoors();
    // Sessions accepted from here on are waited for too.
    const allClosed = this.#sessions.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.once('sessions-closed', () => resolve()));
    // A connection that has sent nothing yet was accepted just before: its first request is served too.
    for (const session of this.#sessions) {
      if (session.received) session.shutdown();
      else session.shutdownAfterFirstLine(LATE_GRACE_MS);
    }
    const deadline = setTimeout(() => {
      for (const session of this.#sessions) session.close();
      for (const door of this.#doors) door.destroy();
    }, this.#options.stopTimeout ?? 5000);
    // HTTP keep-alive connections are no sessions: the deadline stands until the doors are closed too.
    await Promise.all([allClosed, closed]);
    clearTimeout(deadline);
    this.#doors.length = 0;
    this.#setStatus('stopped');
    this.emit('stopped');
  }

  /** Calls a command in-process, as a trusted caller would over the wire; for tests and embedding. */
  dispatch(name: string, ...args: unknown[]): Promise<unknown> {
    return this.#call(name, args, new LocalGuest(true));
  }

  async #call(name: string, args: unknown[], guest: Guest): Promise<unknown> {
    const resolved = resolveCommand(this.#commandTable(), name, args, guest.authenticated);
    if (!('run' in resolved)) throw new DaeError(resolved.code, resolved.message);
    try {
      return await this.#run(resolved, args, guest);
    } catch (error) {
      const wire = toWireError(error);
      throw new DaeError(wire.code, wire.message, { cause: error });
    }
  }

  /** What `whois` answers. */
  identity(): Identity {
    return { name: this.name, pid: process.pid, port: this.#port, ports: this.doors(), created: this.#created.toISOString() };
  }

  /** Every door this daemon listens on: `tcp`, `unix` (a path), `http`, `ws`; subclasses may add theirs. */
  protected doors(): Record<string, number | string> {
    return { ...this.#ports };
  }

  /** True when a token is configured (a subclass with its own `checkToken` says so too). */
  protected hasToken(): boolean {
    return this.#options.token !== undefined;
  }

  /** True when `token` is this daemon's token (constant-time). */
  protected checkToken(token: unknown): boolean {
    const expected = this.#options.token;
    if (expected === undefined || typeof token !== 'string') return false;
    return timingSafeEqual(digest(token), digest(expected));
  }

  #builtins(): CommandDeclarations {
    return {
      dae: {
        guest: true,
        reply: 'credential',
        spread: true,
        // The original sent the daemon's secret in the last slot: never.
        run: (guest: Guest) => {
          guest.endAfterReplies();
          return [this.name, process.pid, this.#port, null];
        },
      },
      whois: { reply: 'credential', run: () => this.identity() },
      options: { reply: 'commands', run: () => describeCommands(this.#commandTable()) },
      ping: { reply: 'pong', run: () => undefined },
      auth: {
        guest: true,
        // What follows `auth` on a connection (a pipelined `auth` then `list`) waits for its answer.
        barrier: true,
        run: async (guest: Guest, token: unknown) => {
          if (await this.#gate.authenticate(token, guest.peer, guest)) {
            guest.authenticate();
            return true;
          }
          const failures = (this.#authFailures.get(guest) ?? 0) + 1;
          this.#authFailures.set(guest, failures);
          if (failures >= MAX_AUTH_FAILURES) guest.endAfterReplies();
          throw new DaeError('ERR_AUTH_FAILED', this.hasToken() ? 'wrong token' : 'this daemon has no token');
        },
      },
    };
  }

  #commandTable(): Map<string, Command> {
    this.#table ??= buildCommandTable(this.commands, this.#builtins());
    return this.#table;
  }

  #run(command: Command, args: unknown[], guest: Guest): unknown {
    return command.guest ? command.run.call(this, guest, ...args) : command.run.apply(this, args);
  }

  #accept(session: Session): void {
    if (this.#status === 'stopped') return session.fatal({ code: 'ERR_SHUTTING_DOWN', message: 'the daemon is stopping' });
    this.#sessions.add(session);
    session.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0) this.emit('sessions-closed');
    });
    // Accepted before the doors closed (its admission was under way): its first request is served, then it closes. On
    // a listening socket others share (a reload), a client cannot know which run accepted it.
    if (this.#status === 'stopping') session.shutdownAfterFirstLine(LATE_GRACE_MS);
    this.emit('guest', session);
  }

  #setStatus(status: DaemonStatus): void {
    debug('%s %s -> %s', this.name, this.#status, status);
    this.#status = status;
    this.emit('status', status);
  }
}
