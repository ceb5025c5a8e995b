// The HTTP door: `GET /` describes the daemon, `POST /<command>` with a JSON array body calls it.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { DaeError, toWireError, type WireError } from '../errors.js';
import { isValidName } from '../protocol/packet.js';
import { LocalGuest } from './local-guest.js';
import { isAllowedHost, isAllowedOrigin } from './origin.js';
import type { DoorHost } from './door.js';
import type { Closable } from './gate.js';

const STATUS: Readonly<Record<string, number>> = {
  ERR_BAD_ARGS: 400,
  ERR_BAD_PACKET: 400,
  ERR_AUTH_REQUIRED: 401,
  ERR_AUTH_FAILED: 403,
  ERR_FORBIDDEN: 403,
  ERR_UNKNOWN_COMMAND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_PACKET_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_SHUTTING_DOWN: 503,
};

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value ?? null);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function fail(res: ServerResponse, error: WireError): void {
  send(res, STATUS[error.code] ?? 500, { code: error.code, message: error.message });
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

// Reads the body up to `max` bytes; null when it is larger.
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > max) return resolve(null);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

// The request's connection, as the token check sees it: its wait ends when the client goes.
function closable(res: ServerResponse): Closable {
  return {
    get closed() {
      return res.destroyed || res.writableEnded;
    },
    once: (event, listener) => res.once(event, listener),
    off: (event, listener) => res.off(event, listener),
  };
}

/** Serves the daemon's commands over HTTP on `server`. */
export function serveHttp(server: Server, host: DoorHost): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, host).catch((error: unknown) => {
      if (!res.headersSent) fail(res, toWireError(error));
      else res.destroy();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, host: DoorHost): Promise<void> {
  if (!isAllowedHost(req.headers.host, host.allowHosts)) return fail(res, { code: 'ERR_FORBIDDEN', message: `Host ${JSON.stringify(req.headers.host ?? '')} is not a loopback or configured name` });
  if (!isAllowedOrigin(req.headers.origin, host.allowOrigins, req.headers.host, host.allowHosts)) return fail(res, { code: 'ERR_FORBIDDEN', message: `Origin ${req.headers.origin} is not allowed` });
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // Only allowed origins get here: let their pages read the answers, and answer the preflight.
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'content-type, authorization', 'access-control-max-age': '600' });
      return void res.end();
    }
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const page = await host.page(path, req.headers.accept);
    if (page !== null) {
      res.writeHead(200, { ...page.headers, 'content-type': page.type, 'content-length': Buffer.byteLength(page.body), 'cache-control': 'no-store' });
      return void res.end(req.method === 'HEAD' ? undefined : page.body);
    }
  }
  if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return send(res, 200, host.describe());
  if (req.method !== 'POST') {
    res.setHeader('allow', 'GET, POST');
    return fail(res, { code: 'ERR_METHOD_NOT_ALLOWED', message: `${req.method} is not served: GET / or POST /<command>` });
  }
  let name: string;
  try {
    name = decodeURIComponent(path.slice(1));
  } catch {
    name = '';
  }
  if (!isValidName(name) || !host.commands.has(name)) return fail(res, { code: 'ERR_UNKNOWN_COMMAND', message: `unknown command ${JSON.stringify(name)}` });
  if (!isJson(req.headers['content-type'])) {
    return fail(res, { code: 'ERR_UNSUPPORTED_MEDIA_TYPE', message: 'a command is a POST with Content-Type: application/json and a JSON array body' });
  }
  const body = await readBody(req, host.limits.maxPacketBytes);
  if (body === null) return fail(res, { code: 'ERR_PACKET_TOO_LARGE', message: `the body is over the limit of ${host.limits.maxPacketBytes} bytes` });
  let args: unknown[];
  try {
    const text = body.toString('utf8').trim();
    const value: unknown = text === '' ? [] : JSON.parse(text);
    args = Array.isArray(value) ? value : [value];
  } catch {
    return fail(res, { code: 'ERR_BAD_ARGS', message: `the body of ${name} is not valid JSON` });
  }
  const authorization = req.headers.authorization;
  const bearer = authorization?.startsWith('Bearer ') ? authorization.slice(7).trim() : undefined;
  const peer = host.gate.peerOf(req.socket);
  // Every check of a token goes through the gate: guesses of one peer slow down, over every door.
  const authenticated = bearer !== undefined && (await host.gate.authenticate(bearer, peer, closable(res)));
  if (host.commands.get(name)!.protected && bearer !== undefined && !authenticated) {
    return fail(res, { code: 'ERR_AUTH_FAILED', message: 'wrong token' });
  }
  const guest = new LocalGuest(authenticated, 'http', `${req.socket.remoteAddress}:${req.socket.remotePort}`, peer);
  try {
    send(res, 200, await host.call(name, args, guest));
  } catch (error) {
    fail(res, error instanceof DaeError ? error.toWire() : toWireError(error));
  } finally {
    // One request, one guest: subscriptions made through it end with the response.
    guest.close();
  }
}
