// The stream doors (TCP and unix socket): a net.Server whose sockets feed sessions through the framer.
import type { Server, Socket } from 'node:net';
import { Framer, SETTLE_MS } from '../protocol/framer.js';
import { formatPacket } from '../protocol/packet.js';
import type { DoorHost } from './door.js';
import { Session, type Endpoint } from './session.js';

const REFUSE_CLOSE_MS = 1000;

// A class, not an object literal with a getter: V8 keeps it in fast mode on the hot write path.
class SocketEndpoint implements Endpoint {
  readonly kind: string;
  readonly remote: string;
  readonly peer: string | null;
  readonly #socket: Socket;

  constructor(socket: Socket, kind: string, peer: string | null) {
    this.#socket = socket;
    this.kind = kind;
    this.peer = peer;
    this.remote = kind === 'unix' ? 'unix' : `${socket.remoteAddress}:${socket.remotePort}`;
  }

  get buffered(): number {
    return this.#socket.writableLength;
  }

  write(text: string): void {
    this.#socket.write(text);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** Hands a line to its session; whatever goes wrong ends that connection, never the process. */
export function receiveSafely(session: Session, text: string): void {
  try {
    session.receive(text);
  } catch (error) {
    session.fatal({ code: 'ERR_COMMAND_FAILED', message: `internal error: ${(error as Error).message}` });
  }
}

export interface StreamDoorOptions {
  kind: 'tcp' | 'unix';
  /** Sessions start authenticated (a 0600 unix socket: the file permission is the authentication). */
  trusted?: boolean;
  /** Called for each accepted connection (it may refuse it with a fatal error). */
  accept(session: Session): void;
}

/** Wires a server's connections to sessions, each once the gate admitted it. */
export function serveStream(server: Server, host: DoorHost, options: StreamDoorOptions): void {
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    host.gate.guard(socket, options.kind === 'unix' ? 'unix' : 'network', (peer) => serveSocket(socket, host, options, peer), (reason) => {
      socket.end(formatPacket('error', [{ code: 'ERR_TOO_MANY_CONNECTIONS', message: reason }]));
      setTimeout(() => socket.destroy(), REFUSE_CLOSE_MS).unref();
    });
  });
}

function serveSocket(socket: Socket, host: DoorHost, options: StreamDoorOptions, peer: string | null): void {
  socket.setNoDelay(true);
  const session = new Session(host, new SocketEndpoint(socket, options.kind, peer), { authenticated: options.trusted === true });
  const framer = new Framer(
    {
      line: (text) => receiveSafely(session, text),
      tooLarge: (bytes) => session.fatal({ code: 'ERR_PACKET_TOO_LARGE', message: `a packet of ${bytes}+ bytes is over the limit of ${host.limits.maxPacketBytes}` }),
      legacy: () => session.speaksLegacy(),
    },
    { maxPacketBytes: host.limits.maxPacketBytes },
  );
  // A tail the legacy scanner cannot finish is cut by its brackets once the peer has been quiet a moment.
  let settle: NodeJS.Timeout | null = null;
  const read = (work: () => void): void => {
    session.beginRead();
    work();
    session.endRead();
  };
  socket.on('data', (chunk: Buffer) => {
    read(() => framer.push(chunk));
    if (!framer.unsettled) {
      if (settle) clearTimeout(settle);
      settle = null;
    } else if (settle) settle.refresh();
    else {
      settle = setTimeout(() => {
        settle = null;
        read(() => framer.settle());
      }, SETTLE_MS);
    }
  });
  socket.on('end', () => {
    framer.end();
    session.inputEnded();
  });
  socket.on('drain', () => session.drained());
  socket.on('close', () => {
    if (settle) clearTimeout(settle);
    framer.stop();
    session.closedByEndpoint();
  });
  options.accept(session);
}
