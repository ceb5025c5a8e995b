// The log process's file: appends in order and rotates by renaming before a write would pass the limit, so no line is
// lost or split and the files never hold more than maxBytes × files; a link where the log belongs is refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { mustRotate, RotatingFile } from '../../src/logs/rotating-file.js';

// Bytes a log takes on disk, every rotated file included.
async function diskUse(path: string, files: number): Promise<number> {
  let total = 0;
  for (const name of [path, ...Array.from({ length: files }, (_, i) => `${path}.${i + 1}`)]) total += await stat(name).then((stats) => stats.size, () => 0);
  return total;
}

const dir = mkdtempSync(join(tmpdir(), 'dae-rotate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('rotation is decided before a write would pass the limit; an empty file takes any record', () => {
  assert.equal(mustRotate(0, 500, 100), false);
  assert.equal(mustRotate(90, 10, 100), false);
  assert.equal(mustRotate(90, 11, 100), true);
});

test('10,000 lines written as fast as they come: every one is kept whole, in order, in the files kept; disk stays within maxBytes × files', async () => {
  const path = join(dir, 'fast.log');
  const file = new RotatingFile(path, { maxBytes: 4096, files: 3 });
  const sizes: number[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 10_000; i++) {
    writes.push(file.append(`line ${String(i).padStart(5, '0')} ${'x'.repeat(i % 50)}\n`));
    if (i % 500 === 0) sizes.push(await diskUse(path, 3));
  }
  await Promise.all(writes);
  sizes.push(await diskUse(path, 3));
  await file.close();
  assert.ok(Math.max(...sizes) <= 4096 * 3, `peak ${Math.max(...sizes)} bytes`);
  const kept = [`${path}.2`, `${path}.1`, path].flatMap((name) => readFileSync(name, 'utf8').split('\n').filter(Boolean));
  // The newest lines, consecutive, each whole: nothing lost or split at a rotation.
  const numbers = kept.map((line) => {
    const match = /^line (\d{5}) x*$/.exec(line);
    assert.ok(match, `a split line: ${JSON.stringify(line)}`);
    return Number(match[1]);
  });
  assert.equal(numbers.at(-1), 9999);
  numbers.forEach((n, i) => i > 0 && assert.equal(n, numbers[i - 1]! + 1));
  for (const name of [path, `${path}.1`, `${path}.2`]) {
    assert.ok(statSync(name).size <= 4096);
    assert.equal(statSync(name).mode & 0o777, 0o600);
  }
});

test('an existing file is appended to, its size counted; a link where the log belongs is refused', async () => {
  const path = join(dir, 'kept.log');
  writeFileSync(path, 'old\n', { mode: 0o600 });
  const file = new RotatingFile(path, { maxBytes: 100, files: 2 });
  await file.append('new\n');
  assert.equal(file.size, 8);
  await file.close();
  assert.equal(readFileSync(path, 'utf8'), 'old\nnew\n');

  const target = join(dir, 'elsewhere');
  writeFileSync(target, '');
  const link = join(dir, 'linked.log');
  symlinkSync(target, link);
  await assert.rejects(new RotatingFile(link, { maxBytes: 100, files: 2 }).append('x\n'), /ELOOP/);
  assert.equal(readFileSync(target, 'utf8'), '');
});
