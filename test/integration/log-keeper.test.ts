// The log process: a program writing into its named pipes gets every line stamped in logs/<name>.log, both streams
// merged in arrival order; the run-end marker keeps a partial line; output written while no log process runs waits in
// the pipe (the writer never gets EPIPE) and is logged by the next one.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fifoPath, LogKeeper } from '../../src/logs/log-keeper.js';
import { parseRecord, RUN_END } from '../../src/logs/lines.js';

const root = mkdtempSync(join(tmpdir(), 'dae-logkeeper-'));
after(() => rmSync(root, { recursive: true, force: true }));
const fifoDir = join(root, 'fifo');
const logDir = join(root, 'logs');
mkdirSync(fifoDir);
mkdirSync(logDir);

function keeper(): LogKeeper {
  return new LogKeeper({ fifoDir, logDir, socket: join(root, 'log.sock'), limits: { maxBytes: 1 << 20, files: 3, maxLine: 1000 } });
}

// The log's records, once `count` of them are there (the keeper writes as lines arrive: wait on its file).
async function records(name: string, count: number): Promise<NonNullable<ReturnType<typeof parseRecord>>[]> {
  for (;;) {
    let text = '';
    try {
      text = readFileSync(join(logDir, `${name}.log`), 'utf8');
    } catch {
      // not yet
    }
    const parsed = text.split('\n').filter(Boolean).map((line) => parseRecord(line)!);
    if (parsed.length >= count) return parsed;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('both streams of a run land in one log, stamped, in order; the partial line at its end is kept', async () => {
  for (const stream of ['out', 'err'] as const) execFileSync('mkfifo', ['-m', '600', fifoPath(fifoDir, 'app', stream)]);
  const logs = keeper();
  await logs.start();
  try {
    const [out, err] = (['out', 'err'] as const).map((stream) => openSync(fifoPath(fifoDir, 'app', stream), constants.O_RDWR));
    const before = Date.now();
    const child = spawn('/bin/sh', ['-c', 'echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; printf partial'], { stdio: ['ignore', out!, err!] });
    await once(child, 'exit');
    // What the supervisor does once a run has exited.
    writeSync(out!, RUN_END);
    const got = await records('app', 4);
    assert.deepEqual(got.map((r) => [r.stream, r.line]), [['out', 'one'], ['err', 'two'], ['out', 'three'], ['out', 'partial']]);
    assert.ok(got.every((r) => r.time >= before - 1 && r.time <= Date.now()));
    closeSync(out!);
    closeSync(err!);
  } finally {
    await logs.stop();
  }
});

test('while no log process runs, a writer is not hurt and its output waits in the pipe; the next log process logs it', async () => {
  for (const stream of ['out', 'err'] as const) execFileSync('mkfifo', ['-m', '600', fifoPath(fifoDir, 'gap', stream)]);
  const first = keeper();
  await first.start();
  const out = openSync(fifoPath(fifoDir, 'gap', 'out'), constants.O_RDWR);
  writeSync(out, 'before\n');
  await records('gap', 1);
  await first.stop();
  // No reader but the writer itself: no EPIPE, the pipe keeps it.
  writeSync(out, 'during\n');
  const second = keeper();
  await second.start();
  try {
    writeSync(out, 'after\n');
    assert.deepEqual((await records('gap', 3)).map((r) => r.line), ['before', 'during', 'after']);
  } finally {
    closeSync(out);
    await second.stop();
  }
});
