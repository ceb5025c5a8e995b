// The WebSocket door: each text message is one packet; replies and pushes come back as text messages.
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { isAllowedHost, isAllowedOrigin } from './origin.js';
import type { DoorHost } from './door.js';
import { Session, type Endpoint } from './session.js';
import { receiveSafely } from './stream.js';

class WsEndpoint implements Endpoint {
  readonly kind = 'ws';
  readonly remote: string;
  readonly peer: string | null;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #onDrain: () => void;

  constructor(ws: WebSocket, socket: Duplex, remote: string, peer: string | null, onDrain: () => void) {
    this.#ws = ws;
    this.#socket = socket;
    this.remote = remote;
    this.peer = peer;
    this.#onDrain = onDrain;
  }

  get buffered(): number {
    return this.#ws.bufferedAmount;
  }

  // The session writes whole packets, several at a time: one message each, without the newline. Corked, so the
  // frames of one batch leave in one write, as on TCP.
  write(text: string): void {
    this.#socket.cork();
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      this.#ws.send(text.slice(start, nl), this.#onDrain);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    this.#socket.uncork();
  }

  pause(): void {
    this.#ws.pause();
  }

  resume(): void {
    this.#ws.resume();
  }

  end(): void {
    this.#ws.close(1000);
  }

  destroy(): void {
    this.#ws.terminate();
  }
}

/** A WebSocket server (upgrades handed to it by `ws-door.ts`) serving Common TCP packets; `accept` registers each
 * session with the daemon. */
export function wsServer(host: DoorHost, accept: (session: Session) => void): WebSocketServer {
  const max = host.limits.maxPacketBytes;
  const wss = new WebSocketServer({
    noServer: true,
    // Twice the packet limit: a message over the limit still arrives, so it gets ERR_PACKET_TOO_LARGE.
    maxPayload: 2 * max,
    verifyClient: ({ origin, req }: { origin: string | undefined; req: { headers: Record<string, string | string[] | undefined> } }, done: (ok: boolean, code?: number, message?: string) => void) => {
      const hostHeader = typeof req.headers.host === 'string' ? req.headers.host : undefined;
      const ok = isAllowedHost(hostHeader, host.allowHosts) && isAllowedOrigin(origin || undefined, host.allowOrigins, hostHeader, host.allowHosts);
      if (ok) done(true);
      else done(false, 403, 'Forbidden: Origin or Host not allowed');
    },
  });
  wss.on('connection', (ws, req) => {
    let session: Session | null = null;
    const endpoint = new WsEndpoint(ws, req.socket, `${req.socket.remoteAddress}:${req.socket.remotePort}`, host.gate.peerOf(req.socket), () => session?.drained());
    session = new Session(host, endpoint);
    const current = session;
    ws.on('message', (data: Buffer) => {
      const bytes = data.length;
      if (bytes > max) return current.fatal({ code: 'ERR_PACKET_TOO_LARGE', message: `a message of ${bytes} bytes is over the limit of ${max}` });
      let text = data.toString('utf8');
      if (text.endsWith('\n')) text = text.slice(0, text.endsWith('\r\n') ? -2 : -1);
      receiveSafely(current, text);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => current.closedByEndpoint());
    accept(current);
  });
  wss.on('error', () => undefined);
  return wss;
}
