// The log process: a program writing into its named pipes gets every line stamped in logs/<name>.log, both streams
// merged in arrival order; the run-end marker keeps a partial line; output written while no log process runs waits in
// the pipe (the writer never gets EPIPE) and is logged by the next one.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fifoPath, HIGH_WATER, LogKeeper, type LogFile, type LogStatus } from '../../src/logs/log-keeper.js';
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

test('a disk that falls behind holds the writer back: the log process stops reading at its high-water mark, its memory stays bounded, and nothing is lost once the disk catches up', async () => {
  // The "disk": a log file whose writes wait until the test lets them through.
  const written: string[] = [];
  let letThrough: () => void = () => undefined;
  const caughtUp = new Promise<void>((resolve) => (letThrough = resolve));
  const slowFile = (path: string): LogFile => ({
    path,
    open: () => Promise.resolve(),
    append: async (text: string) => {
      await caughtUp;
      written.push(text);
    },
    close: () => Promise.resolve(),
  });
  const logs = new LogKeeper({ fifoDir, logDir, socket: join(root, 'slow.sock'), limits: { maxBytes: 1 << 20, files: 3, maxLine: 1000 }, openFile: slowFile });
  await logs.start();
  try {
    await logs.watch('slow');
    const writer = spawn('/bin/sh', ['-c', `yes ${'z'.repeat(99)} | head -n 20000 >${fifoPath(fifoDir, 'slow', 'out')}`]);
    const exited = once(writer, 'exit');
    const status = (): LogStatus => logs.commands.status().slow!;
    while (status().reading) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(status().held, 1);
    assert.ok(status().pending <= 2 * HIGH_WATER + 128 * 1024, `pending ${status().pending}`);
    // Held back: the writer is blocked on the full pipe, not finished.
    assert.equal(writer.exitCode, null);
    letThrough();
    await exited;
    await logs.flush('slow');
    const lines = written.join('').split('\n').filter(Boolean).map((line) => parseRecord(line)!.line);
    assert.equal(lines.length, 20_000);
    assert.ok(lines.every((line) => line === 'z'.repeat(99)));
    assert.equal(status().reading, true);
  } finally {
    await logs.stop();
  }
});

test('a link where a log belongs is refused by watch, and nothing is written through it', async () => {
  const victim = join(root, 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(logDir, 'linked.log'));
  const logs = keeper();
  await logs.start();
  try {
    await assert.rejects(logs.watch('linked'), /linked\.log is a symbolic link: never written through/);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  } finally {
    await logs.stop();
  }
});
