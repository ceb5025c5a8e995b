// The fuzz loop: batches of generated lines on one raw connection, every reply checked against the model,
// a new connection whenever the daemon closes one (a limit, `dae`, auth failures, an HTTP request, a Host: header).
import { burst, fuzzLine, hugeLine, httpPreamble } from './fuzz-lines.js';
import { expectLine, newConnectionState, type ConnectionState, type Expectation, type TargetFacts } from './fuzz-model.js';
import { FuzzPeer } from './fuzz-peer.js';
import type { Rng } from './fuzz-random.js';
import { ReplyTracker, showLine, type SentLine } from './fuzz-tracker.js';

export interface FuzzOptions {
  readonly facts: TargetFacts;
  readonly rng: Rng;
  /** Fuzz lines to send (fences come on top). */
  readonly lines: number;
  /** The daemon's idle timeout (ms) and how many times the fuzz connection falls silent to meet it (default none). */
  readonly idleTimeout?: number;
  readonly idleCloses?: number;
  /** Safety limit for one batch's replies or close (ms). */
  readonly timeout?: number;
  /** Stop after this many failures. */
  readonly maxFailures?: number;
}

export interface FuzzReport {
  lines: number;
  fences: number;
  bytes: number;
  connections: number;
  /** Replies matched to the model's exact expectation, and replies of lines it could not pin down. */
  checked: number;
  loose: number;
  /** Closes by cause. */
  closes: Record<string, number>;
  failures: string[];
}

const LF = Buffer.from('\n');
const HTTP_FIRST = 0.05;
const BURST = 0.03;
const LEGACY_TAIL = 0.1;
const SPLIT_WRITES = 0.25;
const IDLE: Expectation = { replies: [{ kind: 'error', code: 'ERR_IDLE_TIMEOUT' }], close: 'must', reason: 'idle timeout' };

interface Connection {
  readonly peer: FuzzPeer;
  readonly tracker: ReplyTracker;
  readonly state: ConnectionState;
  /** The first problem seen in a reply. */
  problem: string | null;
  /** Called after each reply, to wake the batch waiting on it. */
  wake: () => void;
}

async function open(port: number, timeout: number): Promise<Connection> {
  const peer = await FuzzPeer.connect(port, timeout);
  // An empty line first: the connection speaks newlines from its first byte, so the daemon never takes it for an
  // original dae client (whose packets come unterminated; those are checked by their own tests).
  await peer.write(Buffer.from('\n'));
  const connection: Connection = { peer, tracker: new ReplyTracker(), state: newConnectionState(), problem: null, wake: () => undefined };
  peer.onLine = (text) => {
    const problem = connection.tracker.reply(text);
    if (problem !== null && connection.problem === null) {
      connection.problem = problem;
      peer.destroy();
    }
    connection.wake();
  };
  return connection;
}

// Resolves when every reply owed has arrived ('answered'), the connection closed, or the safety limit passed.
function settled(connection: Connection, mustClose: boolean, timeout: number): Promise<'answered' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeout);
    const finish = (how: 'answered' | 'closed'): void => {
      clearTimeout(timer);
      connection.wake = () => undefined;
      resolve(how);
    };
    connection.wake = () => {
      if (!mustClose && connection.tracker.done) finish('answered');
    };
    void connection.peer.closed.then(() => finish('closed'));
    connection.wake();
  });
}

// One write, or several cut at random bytes (inside lines, inside UTF-8 sequences): a line the model pins down
// must be read the same whatever the cuts.
async function writeInPieces(peer: FuzzPeer, bytes: Buffer, rng: Rng): Promise<void> {
  const cuts = rng.chance(SPLIT_WRITES) ? Array.from({ length: rng.between(1, 7) }, () => rng.int(bytes.length)).sort((a, b) => a - b) : [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > from) await peer.write(bytes.subarray(from, cut));
    from = Math.max(from, cut);
  }
}

/** Sends `options.lines` fuzz lines and checks every reply; never throws on a daemon bug, reports it. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const { facts, rng } = options;
  const timeout = options.timeout ?? 10_000;
  const maxFailures = options.maxFailures ?? 10;
  const report: FuzzReport = { lines: 0, fences: 0, bytes: 0, connections: 0, checked: 0, loose: 0, closes: {}, failures: [] };
  const idleCloses = options.idleTimeout === undefined ? 0 : (options.idleCloses ?? 0);
  let nextIdle = idleCloses > 0 ? options.lines / (idleCloses + 1) : Infinity;
  let connection: Connection | null = null;

  const finish = async (done: Connection): Promise<void> => {
    done.peer.destroy();
    await done.peer.closed;
    report.checked += done.tracker.checked;
    report.loose += done.tracker.loose;
  };

  // A line that may close the connection goes first in its write, once every earlier reply is in: then a close
  // is pinned on it, and no reply owed before it can be excused.
  let carried: Buffer | null = null;

  while (report.lines < options.lines && report.failures.length < maxFailures) {
    const fresh = connection === null;
    if (connection === null) {
      try {
        connection = await open(facts.port, timeout);
      } catch (error) {
        report.failures.push(`cannot connect again after ${report.lines} lines: ${(error as Error).message}`);
        break;
      }
      report.connections++;
    }
    const { peer, tracker, state } = connection;
    const batch: SentLine[] = [];
    const send = (bytes: Buffer, fuzz: boolean, expect = expectLine(bytes, state, facts)): SentLine => {
      const line: SentLine = { index: fuzz ? report.lines++ : -1, bytes, expect };
      if (!fuzz) report.fences++;
      batch.push(line);
      tracker.add(line);
      return line;
    };
    const fence = (): SentLine => send(Buffer.from(`echo [{"fence":${report.fences}}]`), false);

    let wait = timeout;
    if (!fresh && report.lines >= nextIdle) {
      // Fall silent: the daemon must say ERR_IDLE_TIMEOUT and close.
      nextIdle += options.lines / (idleCloses + 1);
      send(Buffer.alloc(0), false, IDLE);
      wait = timeout + (options.idleTimeout ?? 0);
    } else if (fresh && carried === null && rng.chance(HTTP_FIRST)) {
      for (const bytes of httpPreamble(rng)) if (send(bytes, true).expect.close === 'must') break;
    } else if (carried === null && rng.chance(BURST)) {
      for (const bytes of burst(rng, rng.between(300, 700))) send(bytes, true);
      // A limit while hundreds of commands run: those still running are dropped, the rest answered in order.
      if (rng.chance(0.3)) send(hugeLine(rng, facts.maxPacketBytes), true);
    } else {
      for (let size = rng.between(16, 256); size > 0 && report.lines < options.lines; size--) {
        const bytes: Buffer = carried ?? fuzzLine(rng, facts);
        carried = null;
        const probe = { ...state };
        const expect = expectLine(bytes, probe, facts);
        if (expect.close !== 'no' && batch.length > 0) {
          carried = bytes;
          break;
        }
        Object.assign(state, probe);
        const line = send(bytes, true, expect);
        if (line.expect.close === 'must') break;
        if (line.expect.replies === null) fence();
      }
    }
    const last = batch[batch.length - 1]!;
    const mustClose = last.expect.close === 'must';
    if (!mustClose && last.index !== -1) fence();

    // Now and then the last fence goes without its newline, as the original client wrote packets.
    const parts = batch.flatMap((line) => (line.bytes.length === 0 && line.expect === IDLE ? [] : [line.bytes, LF]));
    if (!mustClose && rng.chance(LEGACY_TAIL)) parts.pop();
    const bytes = Buffer.concat(parts);
    report.bytes += bytes.length;
    const [how] = await Promise.all([settled(connection, mustClose, wait), writeInPieces(peer, bytes, rng)]);
    if (connection.problem !== null) {
      report.failures.push(connection.problem);
    } else if (how === 'timeout') {
      report.failures.push(`no ${mustClose ? 'close' : 'reply'} within ${wait} ms after ${showLine(batch[batch.length - 1]!)}; ${tracker.done ? 'all replies in' : 'replies still owed'}`);
    } else if (how === 'closed') {
      const { problem, cause } = tracker.closed((await peer.closed).partial);
      if (problem !== null) report.failures.push(problem);
      report.closes[cause] = (report.closes[cause] ?? 0) + 1;
    }
    if (connection.problem !== null || how !== 'answered') {
      await finish(connection);
      connection = null;
    }
  }
  if (connection) await finish(connection);
  return report;
}
