// Reading logs back: the newest lines across rotated files, read from their ends in chunks (lines longer than a chunk
// included); `--since`; and following a log as it grows and rotates, nothing missed or repeated.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatRecord } from '../../src/logs/lines.js';
import { followLog, readLog } from '../../src/logs/read.js';
import { RotatingFile } from '../../src/logs/rotating-file.js';

const dir = mkdtempSync(join(tmpdir(), 'dae-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const stamped = (i: number, text = `line ${i}`): string => formatRecord({ time: Date.UTC(2026, 11, 7, 10, 0, i), stream: i % 3 === 0 ? 'err' : 'out', line: text });

test('the newest lines across the rotated files, oldest first; since keeps only the lines stamped from then on', async () => {
  const path = join(dir, 'rot.log');
  const file = new RotatingFile(path, { maxBytes: 1000, files: 4 });
  for (let i = 0; i < 50; i++) await file.append(stamped(i));
  await file.close();
  const all = await readLog(path, 4, { lines: 1000 });
  // 4 files of up to 1000 bytes keep the newest lines, whole and in order.
  const numbers = all.map((line) => Number(/ line (\d+)$/.exec(line)![1]));
  assert.equal(numbers.at(-1), 49);
  numbers.forEach((n, i) => i > 0 && assert.equal(n, numbers[i - 1]! + 1));
  assert.deepEqual(await readLog(path, 4, { lines: 3 }), [stamped(47), stamped(48), stamped(49)].map((line) => line.trimEnd()));
  assert.deepEqual(await readLog(path, 4, { lines: 100, since: Date.UTC(2026, 11, 7, 10, 0, 48) }), [stamped(48), stamped(49)].map((line) => line.trimEnd()));
  assert.deepEqual(await readLog(path, 4, { lines: 0 }), []);
  assert.deepEqual(await readLog(join(dir, 'none.log'), 4, { lines: 10 }), []);
  // Fewer files asked for than there are: the newest of them.
  assert.ok((await readLog(path, 1, { lines: 1000 })).length < all.length);
});

test('a named pipe where a rotated log belongs is left out (never waited on); --since leaves out lines without a stamp', async () => {
  const path = join(dir, 'odd.log');
  writeFileSync(path, `${stamped(1)}crash trace without a stamp\n${stamped(2)}`);
  execFileSync('mkfifo', [`${path}.1`]);
  writeFileSync(`${path}.2`, stamped(0));
  assert.deepEqual(await readLog(path, 3, { lines: 10 }), [stamped(0), stamped(1), 'crash trace without a stamp', stamped(2)].map((line) => line.trimEnd()));
  assert.deepEqual(await readLog(path, 3, { lines: 10, since: Date.UTC(2026, 11, 7, 10, 0, 1) }), [stamped(1), stamped(2)].map((line) => line.trimEnd()));
});

test('lines longer than a read chunk and empty lines come back as written; text after the last newline is not a line yet', async () => {
  const path = join(dir, 'long.log');
  const long = 'L'.repeat(200 * 1024);
  writeFileSync(path, `first\n${long}\n\nshort\n${long}x\nbeing written`);
  assert.deepEqual(await readLog(path, 1, { lines: 100 }), ['first', long, '', 'short', `${long}x`]);
  assert.deepEqual(await readLog(path, 1, { lines: 2 }), ['short', `${long}x`]);
  writeFileSync(path, `${long}`);
  assert.deepEqual(await readLog(path, 1, { lines: 2 }), []);
});

test('following a log sees every line appended, in order, across rotations', async () => {
  const path = join(dir, 'follow.log');
  writeFileSync(path, 'before\n');
  const seen: string[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const following = followLog(path, (line) => {
    seen.push(line);
    if (seen.length === 300) done();
  });
  await following.ready;
  // Following starts at the end: `before` is not seen.
  const file = new RotatingFile(path, { maxBytes: 2000, files: 50 });
  for (let i = 0; i < 300; i++) {
    await file.append(stamped(i));
    // A writer that does not wait for the follower: let it fall behind now and then.
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await file.close();
  await all;
  following.stop();
  assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => stamped(i).trimEnd()));
  appendFileSync(path, 'after the stop\n');
});
