// The WebSocket door's HTTP side: a plain request gets 426 at once; `ws` (megabytes, and milliseconds to load) is
// loaded at the first upgrade, so a daemon whose WebSocket door nobody uses never pays for it.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { DoorHost } from './door.js';
import type { Session } from './session.js';

/** Serves Common TCP packets over WebSocket on `server`; `close()` closes the WebSocket server once loaded. `beside`:
 * the server is an HTTP door too (its requests are served there); else a plain request gets 426. */
export function openWsDoor(server: Server, host: DoorHost, accept: (session: Session) => void, beside = false): { close(): void } {
  let loading: Promise<WebSocketServer> | null = null;
  let closed = false;
  if (!beside) {
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket', connection: 'close' });
      res.end(JSON.stringify({ code: 'ERR_METHOD_NOT_ALLOWED', message: 'this port speaks WebSocket only' }));
    });
  }
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    loading ??= import('./ws.js').then((ws) => ws.wsServer(host, accept));
    loading.then(
      (wss) => {
        if (closed) return void socket.destroy();
        wss.handleUpgrade(req, socket, head, (ws: WebSocket) => wss.emit('connection', ws, req));
      },
      () => socket.destroy(),
    );
  });
  return {
    close: () => {
      closed = true;
      void loading?.then((wss) => wss.close());
    },
  };
}
