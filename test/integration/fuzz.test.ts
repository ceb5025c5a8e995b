// The fuzzer from the issue: 100,000+ random and mutated lines at a daemon in its own process (binary, huge,
// invalid JSON, reserved names, valid packets mixed in and checked), reconnecting whenever a limit closes the
// connection, while a second connection keeps getting correct answers and the process stays up.
// Replay a run with FUZZ_SEED=<seed>; FUZZ_LINES changes the count.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '../../src/client/client.js';
import { startFuzzTarget, type FuzzTarget } from '../helpers/fuzz-child.js';
import { runFuzz } from '../helpers/fuzz-driver.js';
import { Monitor } from '../helpers/fuzz-monitor.js';
import { FuzzPeer } from '../helpers/fuzz-peer.js';
import { fuzzSeed, Rng } from '../helpers/fuzz-random.js';

const MAX_PACKET_BYTES = 64 * 1024;
// Long enough that a busy machine (tests run two at a time) never starves the neighbour into it; the fuzz
// connection meets it once.
const IDLE_TIMEOUT = 3000;
const LINES = Number(process.env.FUZZ_LINES ?? 100_000);

let target: FuzzTarget | undefined;

before(async () => {
  target = await startFuzzTarget({ env: { FUZZ_MAX_PACKET_BYTES: String(MAX_PACKET_BYTES), FUZZ_IDLE_TIMEOUT: String(IDLE_TIMEOUT) } });
});

after(async () => {
  await target?.stop(2000);
});

// Everything the daemon writes back to `input` sent on a fresh connection that we then end.
async function repliesTo(port: number, input: string): Promise<string[]> {
  const peer = await FuzzPeer.connect(port, 5000);
  const lines: string[] = [];
  peer.onLine = (text) => void lines.push(text);
  await peer.write(Buffer.from(input));
  peer.end();
  await peer.closed;
  return lines;
}

const BAD_PACKET = /^error \[\{"code":"ERR_BAD_PACKET",/;

test('regression: a first line of non-protocol whitespace gets ERR_BAD_PACKET, like the same line later', async () => {
  assert.ok(target);
  for (const blank of ['\v', '\f', '\u00a0', '\ufeff', '\u2028']) {
    const shown = JSON.stringify(blank);
    const later = await repliesTo(target.port, `ping\n${blank}\nping\n`);
    assert.equal(later.length, 3, `${shown} as a later line: ${JSON.stringify(later)}`);
    assert.match(later[1]!, BAD_PACKET, `${shown} as a later line`);
    // Found by the fuzzer: as the first line it is skipped without a reply (Session#receive uses String#trim()).
    const first = await repliesTo(target.port, `${blank}\nping\n`);
    assert.deepEqual(first.map((line) => line.replace(/ \[.*/, '')), ['error', 'pong'], `${shown} as the first line: ${JSON.stringify(first)}`);
    assert.match(first[0]!, BAD_PACKET, `${shown} as the first line`);
  }
});

test(`${LINES} fuzz lines: every checked reply right, the neighbour always answered, the process up`, { timeout: 120_000 }, async (t) => {
  assert.ok(target);
  const seed = fuzzSeed();
  t.diagnostic(`seed ${seed} (replay: FUZZ_SEED=${seed})`);
  const rng = new Rng(seed);
  const facts = { name: target.name, pid: target.pid, port: target.port, maxPacketBytes: MAX_PACKET_BYTES };

  const monitor = await Monitor.start(target.port, rng.fork());
  const started = performance.now();
  // Daemon misbehaviour lands in fuzz.failures (a lost connection too); it does not throw.
  const fuzz = await runFuzz({ facts, rng: rng.fork(), lines: LINES, idleTimeout: IDLE_TIMEOUT, idleCloses: 1 });
  const callsDuringFuzz = monitor.calls;
  const neighbour = await monitor.stop();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);

  t.diagnostic(`${fuzz.lines} fuzz lines + ${fuzz.fences} fences, ${(fuzz.bytes / 2 ** 20).toFixed(1)} MiB in ${seconds} s`);
  t.diagnostic(`${fuzz.connections} connections; closes: ${JSON.stringify(fuzz.closes)}`);
  t.diagnostic(`${fuzz.checked} replies checked exactly, ${fuzz.loose} replies of cut lines checked for form`);
  t.diagnostic(`neighbour: ${neighbour.calls} calls, slowest round ${neighbour.slowest.toFixed(0)} ms`);

  const where = `(seed ${seed}; stderr: ${target.stderr() || 'empty'})`;
  assert.deepEqual(fuzz.failures, [], `fuzz failures ${where}`);
  assert.deepEqual(neighbour.failures, [], `neighbour failures ${where}`);
  assert.ok(fuzz.lines >= LINES, `sent ${fuzz.lines} of ${LINES} lines`);
  assert.ok(fuzz.connections > 1, 'limits closed the fuzz connection and it reconnected');
  assert.ok(callsDuringFuzz > 0, 'the neighbour got answers while the fuzzer ran');

  assert.equal(target.alive(), true, `the daemon process is still running ${where}`);
  const late = await Client.connect({ port: target.port, timeout: 5000 });
  try {
    assert.equal(await late.call('ping'), undefined);
    assert.equal(await late.call('echo', 'still here'), 'still here');
  } finally {
    await late.close();
  }
  assert.deepEqual(await target.stop(), { code: 0, signal: null }, 'SIGTERM stops it cleanly after all that');
});
