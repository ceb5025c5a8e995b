// The client's seam to the wire: a transport delivers whole packet lines and takes whole packets.
import { connect as netConnect, type Socket } from 'node:net';
import { DaeError } from '../errors.js';
import { Framer, SETTLE_MS } from '../protocol/framer.js';

export interface Transport {
  /** Writes one formatted packet (with its newline). */
  write(packet: string): void;
  end(): void;
  destroy(): void;
}

export interface TransportHandlers {
  line(text: string): void;
  close(error?: DaeError): void;
}

export interface StreamTarget {
  host?: string;
  port?: number;
  /** A unix socket path (instead of host and port). */
  path?: string;
  connectTimeout?: number;
  maxPacketBytes: number;
}

/** Opens a TCP or unix-socket transport; rejects with `ERR_CONNECTION_FAILED`. */
export function openStream(target: StreamTarget, handlers: TransportHandlers): Promise<Transport> {
  const where = target.path ?? `${target.host ?? '127.0.0.1'}:${target.port}`;
  return new Promise((resolve, reject) => {
    const socket: Socket = target.path !== undefined
      ? netConnect({ path: target.path })
      : netConnect({ host: target.host ?? '127.0.0.1', port: target.port ?? 0, noDelay: true });
    let open = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DaeError('ERR_CONNECTION_FAILED', `connecting to ${where} timed out after ${target.connectTimeout} ms`));
    }, target.connectTimeout ?? 5000);
    const framer = new Framer(
      {
        line: (text) => handlers.line(text),
        tooLarge: (bytes) => {
          closeError = new DaeError('ERR_PACKET_TOO_LARGE', `a reply of ${bytes}+ bytes is over the client's limit`);
          socket.destroy();
        },
      },
      // An original dae daemon never ends its replies with a newline: read them by their structure, as the daemons do.
      { maxPacketBytes: target.maxPacketBytes },
    );
    let closeError: DaeError | undefined;
    let settle: NodeJS.Timeout | null = null;
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      if (settle) clearTimeout(settle);
      settle = framer.unsettled ? setTimeout(() => framer.settle(), SETTLE_MS) : null;
    });
    socket.on('end', () => framer.end());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      closeError ??= new DaeError(open ? 'ERR_CONNECTION_CLOSED' : 'ERR_CONNECTION_FAILED', `${where}: ${error.code ?? error.message}`, { cause: error });
      if (!open) {
        clearTimeout(timer);
        reject(closeError);
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (settle) clearTimeout(settle);
      if (open) handlers.close(closeError);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      open = true;
      resolve({
        write: (packet) => void socket.write(packet),
        end: () => void socket.end(),
        destroy: () => void socket.destroy(),
      });
    });
  });
}

/** Opens a WebSocket transport (`ws://host:port`): one packet per text message. */
export async function openWebSocket(url: string, handlers: TransportHandlers, options: { connectTimeout?: number; maxPacketBytes: number }): Promise<Transport> {
  // Loaded on first use: `ws` costs megabytes of memory that TCP-only clients never need.
  const { default: WebSocket } = await import('ws');
  return new Promise((resolve, reject) => {
    let open = false;
    let closeError: DaeError | undefined;
    const ws = new WebSocket(url, { maxPayload: options.maxPacketBytes, handshakeTimeout: options.connectTimeout ?? 5000 });
    ws.on('message', (data: Buffer) => {
      let text = data.toString('utf8');
      if (text.endsWith('\n')) text = text.slice(0, -1);
      handlers.line(text);
    });
    ws.on('error', (error: NodeJS.ErrnoException) => {
      closeError ??= new DaeError(open ? 'ERR_CONNECTION_CLOSED' : 'ERR_CONNECTION_FAILED', `${url}: ${error.code ?? error.message}`, { cause: error });
      if (!open) reject(closeError);
    });
    ws.on('close', () => {
      if (open) handlers.close(closeError);
    });
    ws.once('open', () => {
      open = true;
      resolve({
        // One message per packet, without its newline.
        write: (packet) => ws.send(packet.endsWith('\n') ? packet.slice(0, -1) : packet),
        end: () => ws.close(1000),
        destroy: () => ws.terminate(),
      });
    });
  });
}
