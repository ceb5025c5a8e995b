// The sockets the supervisor holds for a daemon: its leased ports, and its unix socket, bound here but never listened
// on or accepted here. Each run inherits a copy (systemd's convention: descriptors from 3, LISTEN_FDS) and listens on
// it; the listen state stays with the socket while the supervisor holds it, so connections wait in the backlog while
// a run restarts, and nobody else can take the port meanwhile. A dae daemon's first run, which bound its own, hands
// its listening sockets over on Node's IPC channel instead, so even its first crash refuses nothing.
import net, { isIPv6 } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { DaeError } from '../errors.js';
import { HAND_OVER, type HandOverMessage } from '../daemon/hand-over.js';
import type { Protocol } from './config.js';

type Name = Protocol | 'unix';

interface RawHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: { port?: number }): number;
}

interface HeldSocket {
  readonly name: Name;
  readonly handle: RawHandle;
}

// Node's own way (the cluster module's shared handles): a TCP or pipe handle bound, with no listen and no watcher.
const createServerHandle = (net as unknown as {
  _createServerHandle(address: string, port: number, addressType: number): RawHandle | number;
})._createServerHandle;

const ERRNO: Record<number, string> = { [-98]: 'EADDRINUSE', [-13]: 'EACCES', [-99]: 'EADDRNOTAVAIL' };

function bind(address: string, port: number, addressType: number, what: string): RawHandle {
  const handle = createServerHandle(address, port, addressType);
  // libuv delays a TCP bind's EADDRINUSE to listen(): asking the bound address brings it out now (an unbound socket
  // handed over would be listened on at a port of the kernel's choosing).
  const status = typeof handle === 'number' ? handle : (handle.getsockname?.({}) ?? 0);
  if (status < 0) {
    if (typeof handle !== 'number') handle.close();
    throw new DaeError('ERR_PORT_HELD', `cannot hold ${what}: ${ERRNO[status] ?? `error ${status}`}`);
  }
  return handle as RawHandle;
}

function closeUnix(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/** What a supervisor holds for one daemon, from the first socket it holds until `release()`. */
export class SocketKeeper {
  #held: HeldSocket[] = [];
  #unix: string | null = null;
  /** Bumped by `release()`: a hand-over still on its way after it is let go at once. */
  #generation = 0;

  /** Whether it holds anything now (`info`). */
  get holding(): boolean {
    return this.#held.length > 0;
  }

  /** Whether it holds the unix socket at `path` (its file outlives the runs). */
  holdsPath(path: string): boolean {
    return this.#unix === path;
  }

  /**
   * Binds what is not held yet of the leased ports on `host` and the unix socket at `unix` (0600; all or none of the
   * missing ones), and returns every held descriptor with its name, in `LISTEN_FDNAMES` order.
   */
  hold(host: string, leases: Partial<Record<Protocol, number>>, unix: string | null): { fds: number[]; names: Name[] } {
    const added: HeldSocket[] = [];
    const has = (name: Name): boolean => this.#held.some((socket) => socket.name === name);
    try {
      for (const protocol of ['tcp', 'http', 'ws'] as const) {
        const port = leases[protocol];
        if (port === undefined || has(protocol)) continue;
        added.push({ name: protocol, handle: bind(host, port, isIPv6(host) ? 6 : 4, `${protocol} port ${port} on ${host}`) });
      }
      if (unix !== null && !has('unix')) {
        // A socket file left by a run or a supervisor that is gone: ours to replace (the folder is the owner's alone).
        try {
          if (lstatSync(unix).isSocket()) unlinkSync(unix);
        } catch {
          // none yet
        }
        added.push({ name: 'unix', handle: bind(unix, -1, -1, `unix socket ${unix}`) });
        chmodSync(unix, 0o600);
        this.#unix = unix;
      }
    } catch (error) {
      for (const socket of added) socket.handle.close();
      if (added.some((socket) => socket.name === 'unix') && unix !== null) {
        closeUnix(unix);
        this.#unix = null;
      }
      throw error;
    }
    this.#held.push(...added);
    return { fds: this.#held.map((socket) => socket.handle.fd), names: this.#held.map((socket) => socket.name) };
  }

  /**
   * Takes the listening sockets a dae daemon's run hands over on its IPC channel (only leased ports, each checked by
   * its bound port); `taken` is called at the first one. The channel is closed when the run says it is done, or when
   * `close()` of the returned function is called (the run is online without handing anything over).
   */
  receive(child: ChildProcess, leases: Partial<Record<Protocol, number>>, taken: () => void): () => void {
    const generation = this.#generation;
    const done = (): void => {
      child.off('message', onMessage);
      if (child.connected) child.disconnect();
    };
    const onMessage = (message: HandOverMessage, handle: RawHandle | undefined): void => {
      if (message === null || typeof message !== 'object' || message.dae !== HAND_OVER) return;
      if (message.done === true) return done();
      if (generation !== this.#generation) return void handle?.close();
      const name = message.name;
      const out: { port?: number } = {};
      const lease = name === 'tcp' || name === 'http' || name === 'ws' ? leases[name] : undefined;
      if (handle === undefined || typeof handle.getsockname !== 'function') return;
      // Never hold what is not a lease, nor a second copy: a socket like that is let go at once.
      if (lease === undefined || handle.getsockname(out) !== 0 || out.port !== lease || this.#held.some((socket) => socket.name === name)) {
        handle.close();
        return;
      }
      this.#held.push({ name: name as Protocol, handle });
      taken();
    };
    child.on('message', onMessage);
    child.once('exit', done);
    return done;
  }

  /** Lets everything go: a client is refused at once from now on. `leave`: closes this process's copies only (the
   * supervisor goes and its runs keep serving on theirs, the unix socket's file too). */
  release(leave = false): void {
    this.#generation++;
    for (const socket of this.#held.splice(0)) socket.handle.close();
    if (this.#unix !== null && !leave) closeUnix(this.#unix);
    this.#unix = null;
  }
}
