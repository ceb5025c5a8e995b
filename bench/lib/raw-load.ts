// A raw load generator: plain sockets, fixed request bytes, replies counted by newline. The same code drives
// every server under comparison, so a ratio compares servers, not clients.
import type { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const NEWLINE = 0x0a;

function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) n++;
  return n;
}

/** Opens a loopback TCP connection with Nagle off (a port), or a unix socket connection (a path). */
export function openRaw(target: number | string, timeoutMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = typeof target === 'string' ? connect({ path: target }) : connect({ host: '127.0.0.1', port: target, noDelay: true });
    const where = typeof target === 'string' ? target : `127.0.0.1:${target}`;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connecting to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Ends a socket and waits for it to close (destroying it after `graceMs`). */
export function closeRaw(socket: Socket, graceMs = 1000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), graceMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => socket.destroy());
    socket.resume();
    socket.end();
  });
}

/**
 * Runs `body` with `event`/error/close hooks on `source` (a socket's `data`, a WebSocket's `message`), rejecting if it fails, closes early or the deadline passes
 * (then `abort` drops the connection).
 */
export function drive(
  source: EventEmitter, event: string, abort: () => void, deadlineMs: number, what: string,
  body: (finish: () => void) => (chunk: Buffer) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let onData: (chunk: Buffer) => void = () => {};
    const cleanup = (): void => {
      clearTimeout(timer);
      source.off(event, onData);
      source.off('error', onError);
      source.off('close', onClose);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new Error(`${what}: ${error.message}`, { cause: error }));
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(`${what}: connection closed early`));
    };
    const timer = setTimeout(() => {
      cleanup();
      abort();
      reject(new Error(`${what}: no end after ${deadlineMs} ms`));
    }, deadlineMs);
    source.on('error', onError);
    source.on('close', onClose);
    onData = body(() => {
      cleanup();
      resolve();
    });
    source.on(event, onData);
  });
}

/**
 * `count` round trips one at a time; each latency (µs) goes into `latencies` from `offset`. A reply is
 * counted when its newline arrives.
 */
export function sequential(socket: Socket, request: Buffer, count: number, latencies: Float64Array, offset = 0, deadlineMs = 30_000): Promise<void> {
  if (count <= 0) return Promise.resolve();
  let sent = 0;
  let done = 0;
  let start = 0;
  const promise = drive(socket, 'data', () => socket.destroy(), deadlineMs, 'sequential', (finish) => (chunk) => {
    const replies = countNewlines(chunk);
    if (replies === 0) return;
    const now = performance.now();
    if (done + replies > sent) {
      socket.destroy(new Error(`got ${done + replies} replies to ${sent} calls`));
      return;
    }
    latencies[offset + done] = (now - start) * 1000;
    done += replies;
    if (done === count) return finish();
    sent++;
    start = performance.now();
    socket.write(request);
  });
  sent = 1;
  start = performance.now();
  socket.write(request);
  return promise;
}

/** Writes `count` copies of `request` in writes of `batch` copies without waiting, then waits for every reply; ms taken. */
export async function pipelined(socket: Socket, request: Buffer, count: number, batch = 4096, deadlineMs = 30_000): Promise<number> {
  const chunk = Buffer.concat(Array.from({ length: Math.min(batch, count) }, () => request));
  let done = 0;
  let start = 0;
  let end = 0;
  const promise = drive(socket, 'data', () => socket.destroy(), deadlineMs, 'pipelined', (finish) => (data) => {
    done += countNewlines(data);
    if (done < count) return;
    end = performance.now();
    if (done > count) socket.destroy(new Error(`got ${done} replies to ${count} calls`));
    else finish();
  });
  start = performance.now();
  for (let left = count; left > 0; left -= batch) socket.write(left >= batch ? chunk : chunk.subarray(0, left * request.length));
  await promise;
  return end - start;
}

/** Sends `requests` in one write and collects the reply text until as many lines arrived. */
export async function exchange(socket: Socket, requests: string, deadlineMs = 5000): Promise<string> {
  const expected = requests.split('\n').length - 1;
  const parts: Buffer[] = [];
  let lines = 0;
  const promise = drive(socket, 'data', () => socket.destroy(), deadlineMs, 'exchange', (finish) => (chunk) => {
    parts.push(chunk);
    lines += countNewlines(chunk);
    if (lines >= expected) finish();
  });
  socket.write(requests);
  await promise;
  return Buffer.concat(parts).toString('utf8');
}
