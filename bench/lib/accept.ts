// Waiting for a loopback port to accept connections, by real connect attempts; and asking a fixture its pid.
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { closeRaw, exchange, openRaw } from './raw-load.js';

type Attempt = 'accepted' | 'refused' | 'stalled';

/**
 * A handshake on loopback completes at once, or is refused at once; no answer means the SYN was dropped (a dying
 * listener's full backlog), and the kernel would retransmit it only after a second: give up and try again. Long
 * enough that a busy event loop is not taken for a drop, short against a node process's startup.
 */
export const STALL_MS = 100;

// One real connect to 127.0.0.1:port; the socket is destroyed at once whatever happens.
function attempt(port: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (result: Attempt): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('stalled'), STALL_MS);
    socket.once('connect', () => done('accepted'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'refused' : 'stalled'));
  });
}

export interface Accepted {
  /** performance.now() when the accepted attempt's connect completed. */
  at: number;
  attempts: number;
  /** Attempts given up after STALL_MS without an answer. */
  stalled: number;
}

/**
 * Connects to `port` again and again, back to back (no sleeps), until an attempt is accepted after at least
 * `refusalsFirst` were refused: right after a SIGKILL the old listener may still complete a handshake, and that
 * is not the new process. Rejects at the deadline.
 */
export async function untilAccepting(port: number, deadlineMs: number, refusalsFirst = 0): Promise<Accepted> {
  const end = performance.now() + deadlineMs;
  let refused = 0;
  let stalled = 0;
  let attempts = 0;
  for (;;) {
    attempts++;
    const result = await attempt(port);
    const now = performance.now();
    if (result === 'accepted' && refused >= refusalsFirst) return { at: now, attempts, stalled };
    if (result === 'refused') refused++;
    if (result === 'stalled') stalled++;
    if (now >= end) {
      const what = refused === 0 ? 'kept accepting (no refusal: the old listener never went away)' : `did not accept again (${refused} refused)`;
      throw new Error(`127.0.0.1:${port} ${what} within ${deadlineMs} ms, ${attempts} attempts, ${stalled} stalled`);
    }
  }
}

/**
 * Waits until every port accepts: sweeps the ports still closed with one attempt each, then again after
 * `pauseMs`, so that polling 50 ports does not take a core from the processes being waited for. Resolves with
 * the time the last one was accepted.
 */
export async function untilAllAccepting(ports: readonly number[], deadlineMs: number, pauseMs = 5): Promise<number> {
  const end = performance.now() + deadlineMs;
  let waiting = [...ports];
  let last = performance.now();
  while (waiting.length > 0) {
    const results = await Promise.all(waiting.map((port) => attempt(port)));
    last = performance.now();
    waiting = waiting.filter((_, i) => results[i] !== 'accepted');
    if (waiting.length === 0) break;
    if (last >= end) throw new Error(`ports ${waiting.join(', ')} did not accept within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return last;
}

/** Asks a bench fixture on `port` for its pid (the `pid` command). */
export async function askPid(port: number): Promise<number> {
  const socket = await openRaw(port);
  try {
    const reply = await exchange(socket, 'pid\n');
    const match = /^pid \[(\d+)\]\n$/.exec(reply);
    if (!match) throw new Error(`127.0.0.1:${port} answered pid with ${JSON.stringify(reply)}`);
    return Number(match[1]);
  } finally {
    await closeRaw(socket);
  }
}

export interface Answered {
  /** performance.now() when a run other than `pid` answered. */
  at: number;
  /** Connects refused on the way (ECONNREFUSED). */
  refused: number;
  /** Connections accepted by the killed run and reset, or closed without an answer. */
  reset: number;
  /** The longest a single call waited before its answer (a connect held in the backlog while no run accepted). */
  longestWait: number;
}

// One `pid` call on a fresh connection: its answer, or why there was none.
function callPid(port: number, deadlineMs: number): Promise<{ pid: number } | { error: 'refused' | 'reset' }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = '';
    const done = (result: { pid: number } | { error: 'refused' | 'reset' }): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ error: 'reset' }), deadlineMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('pid\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const match = /^pid \[(\d+)\]\n/.exec(buffer);
      if (match) done({ pid: Number(match[1]) });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done({ error: error.code === 'ECONNREFUSED' ? 'refused' : 'reset' }));
    socket.once('close', () => done({ error: 'reset' }));
  });
}

/**
 * Calls `pid` on fresh connections back to back until a run other than `pid` answers, counting refusals and resets
 * on the way: what a client connecting in a tight loop sees while a run is killed and replaced.
 */
export async function untilAnsweredByAnother(port: number, pid: number, deadlineMs: number): Promise<Answered> {
  const end = performance.now() + deadlineMs;
  const seen: Answered = { at: 0, refused: 0, reset: 0, longestWait: 0 };
  for (;;) {
    const started = performance.now();
    const result = await callPid(port, Math.max(1, end - started));
    const now = performance.now();
    if ('pid' in result) {
      seen.longestWait = Math.max(seen.longestWait, now - started);
      if (result.pid !== pid) return { ...seen, at: now };
    } else if (result.error === 'refused') seen.refused++;
    else seen.reset++;
    if (now >= end) throw new Error(`127.0.0.1:${port}: no run other than pid ${pid} answered within ${deadlineMs} ms (${seen.refused} refused, ${seen.reset} reset)`);
  }
}
