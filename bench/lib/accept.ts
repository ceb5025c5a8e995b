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
