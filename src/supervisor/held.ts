// The sockets the supervisor holds for a daemon: its leased ports, and its unix socket, bound here but never listened
// on or accepted here. Each run inherits a copy (systemd's convention: descriptors from 3, LISTEN_FDS) and listens on
// it; the listen state stays with the socket while the supervisor holds it, so connections wait in the backlog while
// a run restarts, and nobody else can take the port meanwhile.
import net from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { DaeError } from '../errors.js';
import type { Protocol } from './config.js';

/** A bound socket held for a daemon: `name` is how the run knows it (`LISTEN_FDNAMES`). */
export interface HeldSocket {
  readonly name: Protocol | 'unix';
  readonly fd: number;
  close(): void;
}

interface RawHandle {
  readonly fd: number;
  close(): void;
  getsockname?(out: { port?: number }): number;
}

// Node's own way (the cluster module's shared handles): a TCP or pipe handle bound, with no listen and no watcher.
const createServerHandle = (net as unknown as {
  _createServerHandle(address: string, port: number, addressType: number, fd?: number, flags?: number): RawHandle | number;
})._createServerHandle;

const ERRNO: Record<number, string> = { [-98]: 'EADDRINUSE', [-13]: 'EACCES', [-99]: 'EADDRNOTAVAIL' };

function bind(address: string, port: number, addressType: number, what: string): RawHandle {
  const handle = createServerHandle(address, port, addressType);
  // libuv delays a TCP bind's EADDRINUSE to listen(): asking the bound address brings it out now (an unbound socket
  // handed over would be listened on at a port of the kernel's choosing).
  const out: { port?: number } = {};
  const status = typeof handle === 'number' ? handle : (handle.getsockname?.(out) ?? 0);
  if (status < 0) {
    if (typeof handle !== 'number') handle.close();
    throw new DaeError('ERR_PORT_HELD', `cannot hold ${what}: ${ERRNO[status] ?? `error ${status}`}`);
  }
  return handle as RawHandle;
}

/** Binds and holds every leased port of a daemon on `host`, and its unix socket at `unix` (0600); all or none. */
export function holdSockets(host: string, leases: Partial<Record<Protocol, number>>, unix: string | null): HeldSocket[] {
  const held: HeldSocket[] = [];
  try {
    for (const protocol of ['tcp', 'http', 'ws'] as const) {
      const port = leases[protocol];
      if (port === undefined) continue;
      const handle = bind(host, port, isIPv6(host) ? 6 : 4, `${protocol} port ${port} on ${host}`);
      held.push({ name: protocol, fd: handle.fd, close: () => handle.close() });
    }
    if (unix !== null) {
      // A socket file left by a run or a supervisor that is gone: ours to replace (the folder is the owner's alone).
      try {
        if (lstatSync(unix).isSocket()) unlinkSync(unix);
      } catch {
        // none yet
      }
      const handle = bind(unix, -1, -1, `unix socket ${unix}`);
      chmodSync(unix, 0o600);
      held.push({
        name: 'unix', fd: handle.fd, close: () => {
          handle.close();
          try {
            unlinkSync(unix);
          } catch {
            // gone already
          }
        },
      });
    }
    return held;
  } catch (error) {
    for (const socket of held) socket.close();
    throw error;
  }
}
