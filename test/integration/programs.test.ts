// Any program under the supervisor: plain Node scripts, executable shell scripts, python3's http.server, with honest
// readiness (`--ready`), health checks (`--health`) and start order (`--after`). Real processes on loopback.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dae, type DaeError, type ListEntry, type StatusEvent } from '../../src/index.js';
import { fixture, removeHomes, startDae, tempHome, untilStatus } from '../helpers/supervisor.js';
import { isAlive } from '../../src/supervisor/process.js';
import { parseRecord } from '../../src/logs/lines.js';

const running: Dae[] = [];
let base = 28000; // below the ephemeral range (32768+), apart from the other files' ranges
async function supervisor(overrides: Record<string, unknown> = {}): Promise<Dae> {
  base += 20;
  const dae = await startDae(base, { readyAfter: 200, readyTimeout: 3000, ...overrides, portrangestart: { tcp: base, http: base + 5, ws: base + 10 } });
  running.push(dae);
  return dae;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((dae) => dae.stop()));
});
after(removeHomes);

const entry = (dae: Dae, name: string): ListEntry => dae.list().find((item) => item.name === name)!;

// Looks again after each sample of the supervisor (every 100 ms in tests) until `ok` holds; bounded.
function untilSampled(dae: Dae, ok: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not within 10 s')), 10_000);
    const look = (): void => {
      if (!ok()) return;
      clearTimeout(timer);
      dae.off('sampled', look);
      resolve();
    };
    dae.on('sampled', look);
    look();
  });
}

/** An executable shell script (made here: the build makes no file executable). */
function shellScript(body: string): string {
  const path = join(tempHome(), 'program.sh');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('programs', () => {
  test('a plain Node script (no dae library) is online after readyAfter and stays so; it learns its port from PORT', async () => {
    const dae = await supervisor();
    const seen: StatusEvent[] = [];
    const online = untilStatus(dae, 'plain', 'online', seen);
    const installed = await dae.install('plain', fixture('plain'));
    assert.equal(installed.status, 'online');
    await online;
    assert.deepEqual(seen.map((event) => event.to), ['starting', 'online']);
    assert.equal(dae.info('plain').interpreter, 'node');
    assert.equal(dae.info('plain').ready, 'auto');
    const logs = (await dae.logs('plain', { lines: 5 })).map((line) => parseRecord(line)?.line);
    assert.ok(logs.includes(`plain up, PORT=${installed.ports.tcp}`), logs.join('\n'));
  });

  test('an executable shell script runs by itself: python3\'s http.server on PORT, ready when GET / answers, then health-checked', async () => {
    const dae = await supervisor();
    const script = shellScript('exec python3 -m http.server "$PORT" --bind 127.0.0.1');
    const installed = await dae.install('web', script, { ready: 'http:/' });
    assert.equal(installed.status, 'online', installed.reason ?? '');
    const info = dae.info('web');
    assert.deepEqual([info.interpreter, info.ready, info.health], [null, 'http:/', 'http:/']);
    const response = await fetch(`http://127.0.0.1:${installed.ports.tcp}/`);
    assert.equal(response.status, 200);
    await untilSampled(dae, () => entry(dae, 'web').lastHealth?.ok === true);
  });

  test('a bare command name is found on PATH and recorded absolute; --interpreter runs a file under it', async () => {
    const dae = await supervisor();
    const sleeper = await dae.install('sleeper', 'sleep', { args: ['1000'], ready: 'none' });
    assert.equal(sleeper.status, 'online');
    assert.match(dae.info('sleeper').script, /^\/.*\/sleep$/);
    const script = join(tempHome(), 'not-executable.sh');
    writeFileSync(script, 'exec sleep 1000\n');
    await assert.rejects(dae.install('refused', script), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /neither a Node script .* nor executable: chmod \+x it, or give --interpreter/.test(error.message));
    const interpreted = await dae.install('interpreted', script, { interpreter: 'sh', ready: 'none' });
    assert.equal(interpreted.status, 'online');
    assert.match(dae.info('interpreted').interpreter ?? '', /^\/.*\/sh$/);
    await assert.rejects(dae.install('nothing', 'no-such-command-anywhere'), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /not a file here, nor a command on PATH/.test(error.message));
    await assert.rejects(dae.install('bad-mode', 'sleep', { ready: 'soon' }), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
  });

  test('a program that never listens, with --ready port, ends errored after maxRestarts instead of looping', async () => {
    const dae = await supervisor({ readyTimeout: 400 });
    const seen: StatusEvent[] = [];
    const errored = untilStatus(dae, 'deaf', 'errored', seen);
    await dae.install('deaf', fixture('plain'), { ready: 'port', maxRestarts: 2, minUptime: 100 });
    const event = await errored;
    assert.match(event.reason!, /^not ready within 400 ms \(ready: its port accepting\) \(killed by SIGKILL\); killed by SIGKILL; 2 exits in a row/);
    assert.ok(!seen.some((item) => item.to === 'online'), 'never online');
  });

  test('an HTTP health check that starts failing gets the program killed and restarted, with the reason', async () => {
    const dae = await supervisor();
    const installed = await dae.install('flaky', fixture('flaky-http'), { ready: 'http:/health' });
    assert.equal(installed.status, 'online');
    await untilSampled(dae, () => entry(dae, 'flaky').lastHealth?.ok === true);
    const backoff = untilStatus(dae, 'flaky', 'backoff');
    const back = untilStatus(dae, 'flaky', 'online');
    await fetch(`http://127.0.0.1:${installed.ports.tcp}/fail`);
    assert.match((await backoff).reason!, /^unhealthy: GET \/health answered 503 \(3 checks in a row\)/);
    await back;
    assert.notEqual(entry(dae, 'flaky').pid, installed.pid);
    assert.match(entry(dae, 'flaky').lastExit?.reason ?? '', /^unhealthy/);
  });

  test('--max-memory counts the whole process group, and the reason says so', async () => {
    const dae = await supervisor();
    const script = shellScript(`"${process.execPath}" -e 'const a = []; setInterval(() => a.push(Buffer.alloc(16e6, 1)), 20)' & wait`);
    const backoff = untilStatus(dae, 'leaky', 'backoff');
    await dae.install('leaky', script, { ready: 'none', maxMemory: 150 * 1024 * 1024 });
    assert.match((await backoff).reason!, /^memory \d+ bytes \(2 processes of its group\) stayed over max-memory 157286400/);
  });

  test('a plain program left by a supervisor is taken back as it runs: online at once, its death seen by its pid', async () => {
    const first = await supervisor();
    const plain = await first.install('plain', fixture('plain'), { ready: 'none' });
    await first.shutdown({ keepDaemons: true });
    running.length = 0;
    const second = new Dae({ home: first.paths.root, config: first.config });
    const online = untilStatus(second, 'plain', 'online');
    await second.start();
    running.push(second);
    await online;
    assert.deepEqual([entry(second, 'plain').pid, entry(second, 'plain').adopted], [plain.pid, true]);
    const back = untilStatus(second, 'plain', 'online');
    process.kill(plain.pid!, 'SIGKILL');
    await back;
    assert.notEqual(entry(second, 'plain').pid, plain.pid);
  });
});

describe('start order', () => {
  test('--after: a chain of three starts in order, also after a reboot; waiting says for whom; a dependency going down stops nobody', async () => {
    const dae = await supervisor();
    // `a` is ready only once it listens, 300 ms after it starts: b and c must wait for it.
    const slow = { ready: 'port', env: { LISTEN: '1', LISTEN_DELAY: '300' } };
    await dae.install('a', fixture('plain'), slow);
    await dae.install('b', fixture('plain'), { ...slow, after: ['a'] });
    await dae.install('c', fixture('plain'), { ready: 'none', after: ['b'] });
    assert.deepEqual(dae.info('c').after, ['b']);

    // Checked at install: itself, an unknown name; and a dependency named by others is not uninstalled.
    await assert.rejects(dae.install('d', fixture('plain'), { after: ['d'] }), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /cannot start after itself/.test(error.message));
    await assert.rejects(dae.install('d', fixture('plain'), { after: ['nobody'] }), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /nobody, which is not installed/.test(error.message));
    await assert.rejects(dae.uninstall('a'), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /a is named by --after of b: uninstall it first/.test(error.message));

    // Its dependency down: the dependent keeps running; a dependent starting meanwhile waits, saying for whom.
    await dae.stopDaemon('a');
    assert.equal(entry(dae, 'b').status, 'online');
    const waiting = await dae.restartDaemon('b');
    assert.deepEqual([waiting.status, waiting.reason], ['waiting', 'waiting for a to be online']);
    const bOnline = untilStatus(dae, 'b', 'online');
    await dae.startDaemon('a');
    await bOnline;

    // A reboot: every group killed; the next supervisor brings them up in dependency order.
    await dae.shutdown({ keepDaemons: true });
    running.length = 0;
    const pids = ['a', 'b', 'c'].map((name) => entry(dae, name).pid!);
    for (const pid of pids) process.kill(-pid, 'SIGKILL');
    // A SIGKILL takes effect a moment later: a process still alive then would be adopted, not started in order.
    while (pids.some((pid) => isAlive(pid))) await new Promise((resolve) => setImmediate(resolve));
    const order: string[] = [];
    const second = new Dae({ home: dae.paths.root, config: dae.config });
    second.on('daemon-status', (event: StatusEvent) => order.push(`${event.name} ${event.to}`));
    const cOnline = untilStatus(second, 'c', 'online');
    await second.start();
    running.push(second);
    await cOnline;
    const at = (what: string): number => order.indexOf(what);
    assert.ok(at('a online') !== -1 && at('a online') < at('b starting'), order.join(', '));
    assert.ok(at('b online') < at('c starting'), order.join(', '));
    assert.ok(at('b waiting') < at('a online'), `b waited for a: ${order.join(', ')}`);
  });
});
