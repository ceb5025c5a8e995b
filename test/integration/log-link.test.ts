// The supervisor's side of the log process: it starts one, a run writing into the pipes gets its lines logged; the
// log process SIGKILLed, the run keeps writing unhurt and the next log process (started on demand) logs what waited.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogLink } from '../../src/supervisor/log-link.js';
import { parseRecord } from '../../src/logs/lines.js';
import { isAlive } from '../../src/supervisor/process.js';

const home = mkdtempSync(join(tmpdir(), 'dae-loglink-'));
mkdirSync(join(home, 'run'), { mode: 0o700 });
mkdirSync(join(home, 'logs'), { mode: 0o700 });
const link = new LogLink(home, { maxBytes: 1 << 20, files: 3, maxLine: 1000 });
after(async () => {
  await link.stop().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

async function lines(name: string, count: number): Promise<string[]> {
  for (;;) {
    let text = '';
    try {
      text = readFileSync(join(home, 'logs', `${name}.log`), 'utf8');
    } catch {
      // not yet
    }
    const got = text.split('\n').filter(Boolean).map((line) => `${parseRecord(line)!.stream} ${parseRecord(line)!.line}`);
    if (got.length >= count) return got;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('runs write into pipes the log process reads; it dies and the next one, started on demand, logs what waited', async () => {
  const pipes = await link.pipes('app');
  const first = await link.pid();
  const run = (script: string): Promise<unknown> => once(spawn('/bin/sh', ['-c', script], { stdio: ['ignore', pipes.out, pipes.err] }), 'exit');
  await run('echo one; sleep 0.05; echo two >&2; printf three');
  link.runEnded('app');
  assert.deepEqual(await lines('app', 3), ['out one', 'err two', 'out three']);

  process.kill(first, 'SIGKILL');
  while (isAlive(first)) await new Promise((resolve) => setImmediate(resolve));
  // No log process now: the run is not hurt, its lines wait in the pipe.
  await run('echo four');
  const again = await link.pipes('app');
  assert.deepEqual(again, pipes, 'the same pipes');
  assert.notEqual(await link.pid(), first, 'a new log process');
  assert.deepEqual((await lines('app', 4)).slice(3), ['out four']);
  await link.forget('app');
});
