// A program writing as fast as it can: its logs never take more than the bound on disk at any moment (every file of it
// counted, sampled continuously), each file within maxBytes, every line whole and stamped, none lost.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseRecord } from '../../src/logs/lines.js';
import { removeHomes, startDae } from '../helpers/supervisor.js';

after(() => removeHomes());

const MAX_BYTES = 64 * 1024;
const FILES = 3;

test('a flood of numbered 100-byte lines: disk within maxBytes × (files + 1) at every sample, through 40 rotations; the lines kept are whole and consecutive', async () => {
  const dae = await startDae(31800, { portrangestart: { tcp: 31800, http: 31805, ws: 31810 }, logs: { maxBytes: MAX_BYTES, files: FILES, maxLine: 4096 } });
  try {
    // GNU seq, zero-padded to 99 digits: some 400 MB/s on this machine.
    const entry = await dae.install('flood', 'seq', { args: ['-f', '%099.0f', '1', '1000000000'] });
    assert.equal(entry.status, 'online');
    const dir = dae.paths.logs;
    let rotations = 0;
    let lastSize = 0;
    let peak = 0;
    let mostFiles = 0;
    let samples = 0;
    while (rotations < 40) {
      // Every file of it, whatever its name (a temporary one would count too). The current file first: a rotation
      // between two stats can count one file twice (never miss one), so a sample may read up to maxBytes high.
      const names = readdirSync(dir).filter((name) => name.startsWith('flood')).sort();
      let total = 0;
      for (const name of names) {
        try {
          const { size } = statSync(join(dir, name));
          assert.ok(size <= MAX_BYTES, `${name} holds ${size} bytes`);
          total += size;
          if (name !== 'flood.log') continue;
          // The current file shrank: it was rotated (at least once since the last sample).
          if (size < lastSize) rotations++;
          lastSize = size;
        } catch (error) {
          // rotated away between the listing and the stat
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
      peak = Math.max(peak, total);
      mostFiles = Math.max(mostFiles, names.length);
      samples++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(peak <= MAX_BYTES * (FILES + 1), `peak ${peak} bytes over ${samples} samples`);
    assert.ok(mostFiles <= FILES, `${mostFiles} files at once`);
    // Read while it floods: the read waits for what was written before it, not for the flood to end.
    assert.equal((await dae.logs('flood', { lines: 10 })).length, 10);
    // Stopped, its log holds still: what is kept must be consecutive.
    await dae.stopDaemon('flood');
    const kept = await dae.logs('flood', { lines: 100_000 });
    // Stopped mid-line, its partial last line is kept as it was (the digits it had written).
    const last = parseRecord(kept.pop()!)!.line;
    const numbers = kept.map((line) => {
      const text = parseRecord(line)?.line ?? '';
      assert.match(text, /^\d{99}$/, `a split or unstamped line: ${line.slice(0, 80)}`);
      return Number(text);
    });
    assert.ok(numbers.length > 1000, `${numbers.length} lines kept`);
    numbers.forEach((n, i) => i > 0 && assert.equal(n, numbers[i - 1]! + 1, 'a line lost'));
    assert.ok(String(numbers.at(-1)! + 1).padStart(99, '0').startsWith(last), `the last line ${last.slice(-20)} follows`);
  } finally {
    await dae.stop();
  }
});
