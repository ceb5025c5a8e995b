// Reload and instances on held sockets: a reload under a steady load refuses and fails nothing and answers what the
// old run had received; a new run that fails leaves the old one serving; instances share one port and are spread by
// the kernel; scale adds and removes them; a rolling reload replaces every instance.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Dae, type DaeError, type ListEntry } from '../../src/index.js';
import { fixture, removeHomes, startDae, untilStatus } from '../helpers/supervisor.js';
import { scanRuns } from '../../src/supervisor/runs.js';
import { startLoad } from '../helpers/load.js';

const running: Dae[] = [];
let base = 30000; // below the ephemeral range (32768+), apart from the other files' ranges
async function supervisor(): Promise<Dae> {
  base += 20;
  const dae = await startDae(base, { portrangestart: { tcp: base, http: base + 5, ws: base + 10 } });
  running.push(dae);
  return dae;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((dae) => dae.stop()));
});
after(removeHomes);

const pids = (entries: ListEntry[]): number[] => entries.map((entry) => entry.pid!);
// Live processes of this supervisor's home (its runtime folder in their environment).
const processesOf = async (dae: Dae): Promise<number[]> => (await scanRuns()).filter((run) => run.runtimeDir === dae.paths.run).map((run) => run.pid);

describe('reload and instances', () => {
  test('reload under load: 100 Common TCP clients and 20 HTTP keep-alive clients see no refusal and no failed call; a call in flight is answered by the old run', async (t) => {
    const dae = await supervisor();
    const echo = await dae.install('echo', fixture('echo'));
    const ports = { tcp: echo.ports.tcp!, http: echo.ports.http! };
    const load = startLoad(ports, { tcp: 100, http: 20 });
    // However the test ends, the load stops with it.
    t.after(() => load.stop());
    await load.calls(500);
    const seen = [echo.pid!];
    for (let i = 0; i < 3; i++) {
      // A slow call the old run received before the reload: its answer comes from the old run, after the new one is up.
      const slow = await Client.connect({ port: ports.tcp });
      assert.equal(await slow.call('pid'), seen.at(-1));
      const late = slow.call('late', 300);
      const result = await dae.reload('echo');
      assert.deepEqual([result.reloaded, result.entries[0]!.status], [true, 'online']);
      assert.equal(await late, seen.at(-1), 'the old run answered what it had received');
      slow.destroy();
      seen.push(result.entries[0]!.pid!);
      await load.calls(500);
    }
    const counts = await load.stop();
    t.diagnostic(`3 reloads under load: ${counts.answered} answered, ${counts.refused} refused, ${counts.failed} failed, ${counts.retried} retried once, longest ${counts.longest.toFixed(0)} ms, pids ${[...counts.pids].join(' ')}`);
    assert.equal(new Set(seen).size, 4, 'every reload put a new run in place');
    assert.deepEqual([counts.refused, counts.failed], [0, 0], JSON.stringify([...counts.failures]));
    assert.deepEqual([...counts.pids].sort(), [...seen].sort(), 'every run answered the load, nothing else did');
  });

  test('a new run that fails to come online leaves the old one serving, and reload fails with the reason', async () => {
    const dae = await supervisor();
    const flag = join(tmpdir(), `dae-fail-${process.pid}-${base}`);
    const echo = await dae.install('echo', fixture('echo'), { env: { FAIL_IF: flag } });
    writeFileSync(flag, '');
    await assert.rejects(dae.reload('echo'), (error: DaeError) => error.code === 'ERR_NOT_ONLINE' && /the new run did not come online .*the old run \(pid \d+\) keeps serving/.test(error.message));
    const [now] = dae.list();
    assert.deepEqual([now!.pid, now!.status, dae.list().length], [echo.pid, 'online', 1]);
    const client = await Client.connect({ port: echo.ports.tcp! });
    assert.equal(await client.call('pid'), echo.pid);
    client.destroy();
  });

  test('instances share one port: distinct pids answer on it; scale adds and removes them; a rolling reload replaces each; stop refuses', async (t) => {
    const dae = await supervisor();
    await dae.install('echo', fixture('echo'), { instances: 3 });
    const entries = dae.list();
    assert.deepEqual(entries.map((e) => [e.name, e.instance, e.status]), [['echo', 0, 'online'], ['echo', 1, 'online'], ['echo', 2, 'online']]);
    assert.equal(new Set(pids(entries)).size, 3);
    assert.equal(dae.info('echo').instances, 3);
    const port = entries[0]!.ports.tcp!;
    // The kernel spreads the connections: more than one instance answers.
    const answered = new Set<number>();
    for (let i = 0; i < 200 && answered.size < 2; i++) {
      const client = await Client.connect({ port });
      answered.add((await client.call('pid')) as number);
      client.destroy();
    }
    assert.ok(answered.size >= 2, `one pid answered 200 connections: ${[...answered].join(' ')}`);
    assert.ok([...answered].every((pid) => pids(entries).includes(pid)));

    const load = startLoad({ tcp: port, http: entries[0]!.ports.http! }, { tcp: 20, http: 5 });
    t.after(() => load.stop());
    await load.calls(200);
    const reloaded = await dae.reload('echo');
    assert.equal(reloaded.entries.length, 3);
    assert.ok(reloaded.entries.every((e, i) => e.status === 'online' && e.instance === i && !pids(entries).includes(e.pid!)), 'every instance has a new run');
    await load.calls(200);
    const counts = await load.stop();
    assert.deepEqual([counts.refused, counts.failed], [0, 0]);

    assert.deepEqual((await dae.scale('echo', 1)).map((e) => e.instance), [0]);
    assert.equal(dae.list().length, 1);
    const grown = await dae.scale('echo', 2);
    assert.deepEqual(grown.map((e) => [e.instance, e.status]), [[0, 'online'], [1, 'online']]);
    await assert.rejects(dae.scale('echo', 0), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
    await assert.rejects(dae.scale('echo', 65), (error: DaeError) => error.code === 'ERR_BAD_ARGS');

    const stopped = await dae.stopDaemon('echo');
    assert.equal(stopped.status, 'stopped');
    assert.deepEqual(dae.list().map((e) => e.status), ['stopped', 'stopped']);
    await assert.rejects(Client.connect({ port }), /ECONNREFUSED|ERR_CONNECTION_FAILED/);
  });

  test('the supervisor stopping in the middle of a rolling reload leaves nothing running', async () => {
    const dae = await supervisor();
    await dae.install('echo', fixture('echo'), { instances: 3 });
    const replaced = new Promise<void>((resolve) => dae.on('daemon-status', (event: { reason: string | null }) => event.reason?.startsWith('reloaded') && resolve()));
    const reload = dae.reload('echo').catch((error: DaeError) => error);
    await replaced;
    running.splice(running.indexOf(dae), 1);
    await dae.stop();
    await reload;
    assert.deepEqual(dae.list().map((e) => [e.status, e.pid]), [['stopped', null], ['stopped', null], ['stopped', null]]);
    assert.deepEqual(await processesOf(dae), [], 'no run of the home is left');
  });

  test('scaling down to the instances that errored lets the sockets go: refused at once', async () => {
    const dae = await supervisor();
    const flag = join(tmpdir(), `dae-fail-${process.pid}-${base}`);
    const echo = await dae.install('echo', fixture('echo'), { instances: 2, maxRestarts: 1, env: { FAIL_IF: flag } });
    // Instance 0 dies, and its next runs fail at once: errored.
    writeFileSync(flag, '');
    const errored = untilStatus(dae, 'echo', 'errored');
    process.kill(dae.list()[0]!.pid!, 'SIGKILL');
    await errored;
    await dae.scale('echo', 1);
    assert.equal(dae.info('echo').held, false);
    await assert.rejects(Client.connect({ port: echo.ports.tcp! }), /ECONNREFUSED|ERR_CONNECTION_FAILED/);
  });

  test('a program that binds its own port cannot run instances: nothing stays installed; reload is a restart, and says so', async () => {
    const dae = await supervisor();
    await assert.rejects(dae.install('plain', fixture('plain'), { env: { LISTEN: '1' }, instances: 2 }), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /cannot share them/.test(error.message));
    assert.deepEqual(dae.list(), []);
    const plain = await dae.install('plain', fixture('plain'), { env: { LISTEN: '1' } });
    const result = await dae.reload('plain');
    assert.deepEqual([result.reloaded, result.reason, result.entries[0]!.status], [false, 'restarted: it binds its own sockets', 'online']);
    assert.notEqual(result.entries[0]!.pid, plain.pid);
    await assert.rejects(dae.scale('plain', 2), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
  });
});
