// The door keeper of one daemon: admits each connection by pool and peer before anything of it is read, and checks
// tokens for every door through one per-peer throttle.
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { Admission, type Pool } from './admission.js';
import { AuthThrottle } from './auth-throttle.js';
import { peerKey } from './peers.js';
import type { Limits } from '../protocol/limits.js';
import { DaeError } from '../errors.js';

/** A network connection of the supervisor or the LAN manager must `auth` this soon (ms), unless it holds a read-only
 * subscription (`events`) or proved itself otherwise (a daemon's ready report). */
export const AUTH_DEADLINE_MS = 5000;

/** What ends a token check's wait early: the connection it came on. */
export interface Closable {
  readonly closed: boolean;
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

// Waits `ms`; false when the connection closed first (no one is left to answer).
function waitUnlessClosed(ms: number, connection: Closable | undefined): Promise<boolean> {
  if (connection?.closed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (waited: boolean): void => {
      clearTimeout(timer);
      connection?.off('close', closed);
      resolve(waited);
    };
    const closed = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    connection?.once('close', closed);
  });
}

export class Gate {
  readonly #admission: Admission;
  readonly #throttle: AuthThrottle;
  readonly #peers = new WeakMap<Socket, string>();
  readonly #checkToken: (token: unknown) => boolean;

  constructor(limits: Limits, checkToken: (token: unknown) => boolean) {
    this.#admission = new Admission(limits);
    this.#throttle = new AuthThrottle({ max: limits.authDelayMax });
    this.#checkToken = checkToken;
  }

  /**
   * Serves `socket` once it is admitted (`serve` gets the peer), or refuses it (`refuse` gets why). A network peer is
   * looked up first (its uid on loopback), so a flood of one user costs that user's share only.
   */
  guard(socket: Socket, pool: Pool, serve: (peer: string | null) => void, refuse: (reason: string) => void): void {
    if (pool === 'unix') return this.#admit(socket, pool, null, serve, refuse);
    const { remoteAddress, remotePort, localAddress, localPort } = socket;
    if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return void socket.destroy();
    void peerKey({ address: remoteAddress, port: remotePort }, { address: localAddress, port: localPort }).then((peer) => {
      // A peer that closed its socket before it was looked at is served nothing (and never counted as anyone's).
      if (peer === null) return void socket.destroy();
      if (!socket.destroyed) this.#admit(socket, pool, peer, serve, refuse);
    });
  }

  #admit(socket: Socket, pool: Pool, peer: string | null, serve: (peer: string | null) => void, refuse: (reason: string) => void): void {
    const admitted = this.#admission.admit(pool, peer);
    if (!admitted.ok) return refuse(admitted.reason);
    socket.once('close', admitted.release);
    if (peer !== null) this.#peers.set(socket, peer);
    serve(peer);
  }

  /** Puts the gate in front of an HTTP server (the HTTP and WebSocket doors): a refused connection gets a 503. */
  guardHttp(server: HttpServer): void {
    const serve = server.listeners('connection') as Array<(socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      socket.on('error', () => socket.destroy());
      this.guard(socket, 'network', () => {
        for (const listener of serve) listener.call(server, socket);
      }, (reason) => {
        const body = JSON.stringify({ code: 'ERR_TOO_MANY_CONNECTIONS', message: reason });
        socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    });
  }

  /** The peer a guarded socket was admitted for (null for unix sockets). */
  peerOf(socket: Socket): string | null {
    return this.#peers.get(socket) ?? null;
  }

  /**
   * Checks a token for `peer`; a peer that keeps failing waits longer and longer for each answer. The wait ends with the
   * connection (`closed`), and a peer with too many waiting already is refused at once: nothing piles up.
   */
  async authenticate(token: unknown, peer: string | null, connection?: Closable): Promise<boolean> {
    const key = peer ?? 'unix';
    const at = this.#throttle.slot(key, Date.now());
    if (at === null) throw new DaeError('ERR_AUTH_FAILED', 'too many wrong tokens from this peer: try again later');
    if (at > Date.now() && !(await waitUnlessClosed(at - Date.now(), connection))) return false;
    if (this.#checkToken(token)) {
      this.#throttle.succeeded(key);
      return true;
    }
    this.#throttle.failed(key, Date.now());
    return false;
  }
}
