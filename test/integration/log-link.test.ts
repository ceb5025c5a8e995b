// The supervisor's side of the log process: it starts one, a run writing into its pipes gets its lines logged; the log
// process SIGKILLed, the run keeps writing unhurt and a new log process, started by the link on its own, logs what
// waited; each run has a pipe description of its own, blocking whatever a run before it did to its own.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogLink } from '../../src/supervisor/log-link.js';
import { parseRecord } from '../../src/logs/lines.js';
import { isAlive } from '../../src/supervisor/process.js';

const home = mkdtempSync(join(tmpdir(), 'dae-loglink-'));
mkdirSync(join(home, 'run'), { mode: 0o700 });
mkdirSync(join(home, 'logs'), { mode: 0o700 });
const said: string[] = [];
const link = new LogLink(home, { maxBytes: 1 << 20, files: 3, maxLine: 1000 }, (line) => said.push(line));
after(async () => {
  await link.stop().catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

// The log's lines as `<stream> <text>` once there are `count`: the link's flush waits until what was written is in.
async function lines(name: string, count: number): Promise<string[]> {
  for (;;) {
    await link.flush(name);
    let text = '';
    try {
      text = readFileSync(join(home, 'logs', `${name}.log`), 'utf8');
    } catch {
      // not yet
    }
    const got = text.split('\n').filter(Boolean).map((line) => {
      const record = parseRecord(line)!;
      return `${record.stream}${record.instance ? `@${record.instance}` : ''} ${record.line}`;
    });
    if (got.length >= count) return got;
  }
}

function run(pipes: { out: number; err: number; close(): void }, script: string): Promise<unknown> {
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', pipes.out, pipes.err] });
  pipes.close();
  return once(child, 'exit');
}

test('runs write into pipes the log process reads; it dies and the link starts another on its own, which logs what waited', async () => {
  // (Two pipes: lines written on both at the same instant may come in either order; these are spaced apart.)
  await run(await link.pipes('app'), 'echo one; sleep 0.05; echo two >&2; sleep 0.05; printf three');
  link.runEnded('app');
  assert.deepEqual(await lines('app', 3), ['out one', 'err two', 'out three']);

  const later = await link.pipes('app');
  const first = await link.pid();
  process.kill(first, 'SIGKILL');
  while (isAlive(first)) await new Promise((resolve) => setImmediate(resolve));
  // No log process now: the run is not hurt, its lines wait in the pipe, and a new log process logs them with nobody
  // asking the link for anything.
  await run(later, 'echo four');
  while (!readFileSync(join(home, 'logs', 'app.log'), 'utf8').includes(' out four\n')) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(said.some((line) => /the log process died: another starts in \d+ ms/.test(line)), said.join('\n'));
  assert.notEqual(await link.pid(), first, 'a new log process');

  // Another instance: pipes of its own, its lines tagged.
  await run(await link.pipes('app', 1), 'echo ready');
  assert.deepEqual((await lines('app', 5)).slice(3), ['out four', 'out@1 ready']);
  await link.forget('app');
  assert.deepEqual(readdirSync(join(home, 'run', 'fifo')), [], 'its pipes are removed');
});

test('a run gets a blocking pipe description of its own: one that a Node run made non-blocking does not reach the next', async () => {
  const O_NONBLOCK = 0o4000;
  // A Node run puts its stdout pipe in non-blocking mode (libuv) on the description it was given: it says so.
  await run(await link.pipes('nb'), `node -e "const out = process.stdout; out.write(require('fs').readFileSync('/proc/self/fdinfo/1', 'utf8').match(/flags:\\s*(\\d+)/)[1] + '\\n')"`);
  // The next run's stdout, as a plain program (which blocks when the pipe is full) sees it.
  await run(await link.pipes('nb'), "sed -n 's/^flags:[[:space:]]*//p' /proc/self/fdinfo/1");
  const [node, next] = (await lines('nb', 2)).map((line) => parseInt(line.slice('out '.length), 8));
  assert.ok((node! & O_NONBLOCK) !== 0, 'the Node run made its stdout non-blocking');
  assert.equal(next! & O_NONBLOCK, 0, 'the next run blocks');
  await link.forget('nb');
});

test('a log process whose home is removed goes by itself', async () => {
  const pid = await link.pid();
  rmSync(join(home, 'run', 'log.sock'));
  while (isAlive(pid)) await new Promise((resolve) => setImmediate(resolve));
});
