// Log files: rotation by size with copy-and-truncate, and tails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logPath, openLogs, rotateIfLarge, tailFile } from '../../src/supervisor/logs.js';

test('rotation shifts old files, keeps `files` of them, and the writer keeps appending to the live file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dae-logs-'));
  try {
    const logs = openLogs(dir, 'kv');
    const path = logPath(dir, 'kv', 'out');
    const rounds = ['a', 'b', 'c', 'd'];
    for (const mark of rounds) {
      writeSync(logs.out, `${mark.repeat(2000)}\n`);
      assert.equal(rotateIfLarge(path, 1024, 3), true);
      assert.equal(readFileSync(path, 'utf8'), '');
    }
    assert.equal(rotateIfLarge(path, 1024, 3), false, 'nothing to rotate under the limit');
    // The descriptor opened before every rotation still writes to the live file, from its start (append mode).
    writeSync(logs.out, 'after\n');
    logs.close();
    assert.equal(readFileSync(path, 'utf8'), 'after\n');
    assert.equal(readFileSync(`${path}.1`, 'utf8')[0], 'd');
    assert.equal(readFileSync(`${path}.2`, 'utf8')[0], 'c');
    assert.equal(existsSync(`${path}.3`), false, 'files = 3: the live file and two rotated');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one file only: rotation truncates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dae-logs-'));
  try {
    const path = join(dir, 'x.log');
    appendFileSync(path, 'x'.repeat(5000));
    assert.equal(rotateIfLarge(path, 1024, 1), true);
    assert.equal(readFileSync(path, 'utf8'), '');
    assert.equal(existsSync(`${path}.1`), false);
    assert.equal(rotateIfLarge(join(dir, 'missing.log'), 1024, 3), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tail gives the last lines, UTF-8 intact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dae-logs-'));
  try {
    const path = join(dir, 't.log');
    assert.deepEqual(tailFile(path, 5), []);
    appendFileSync(path, Array.from({ length: 100 }, (_, i) => `line ${i} é`).join('\n') + '\n');
    assert.deepEqual(tailFile(path, 3), ['line 97 é', 'line 98 é', 'line 99 é']);
    assert.deepEqual(tailFile(path, 0), []);
    assert.equal(tailFile(path, 1000).length, 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a log that is a symbolic link is never opened, rotated or truncated through it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dae-logs-'));
  try {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'x'.repeat(4096));
    symlinkSync(victim, logPath(dir, 'kv', 'out'));
    assert.throws(() => openLogs(dir, 'kv'), (error: { code?: string }) => error.code === 'ERR_UNSAFE_FILE');
    assert.equal(existsSync(logPath(dir, 'kv', 'err')), false, 'nothing is left open or created when the pair fails');
    assert.equal(rotateIfLarge(logPath(dir, 'kv', 'out'), 1024, 3), false);
    assert.equal(readFileSync(victim, 'utf8').length, 4096);
    assert.throws(() => tailFile(logPath(dir, 'kv', 'out'), 5), (error: { code?: string }) => error.code === 'ERR_UNSAFE_FILE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
