// Probes of a program's readiness and health: a TCP connect, or an HTTP GET that must answer 2xx. Null means it
// answered; otherwise the words for what went wrong.
import { request } from 'node:http';
import { connect } from 'node:net';

/** Connects to `host:port`; null once it accepts. */
export function probePort(host: string, port: number, timeout: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: string | null): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(`no answer from ${host}:${port} within ${timeout} ms`), timeout);
    socket.once('connect', () => done(null));
    socket.once('error', (error: NodeJS.ErrnoException) => done(`${host}:${port}: ${error.code ?? error.message}`));
  });
}

/** `GET path` on `host:port`; null when it answers 2xx. */
export function probeHttp(host: string, port: number, path: string, timeout: number): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: string | null): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      resolve(result);
    };
    const req = request({ host, port, path, method: 'GET', agent: false, timeout, headers: { connection: 'close' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      done(status >= 200 && status < 300 ? null : `GET ${path} answered ${status}`);
    });
    req.once('timeout', () => done(`GET ${path} on ${host}:${port}: no answer within ${timeout} ms`));
    req.once('error', (error: NodeJS.ErrnoException) => done(`GET ${path} on ${host}:${port}: ${error.code ?? error.message}`));
    req.end();
  });
}
