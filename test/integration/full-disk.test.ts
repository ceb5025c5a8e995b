// A full disk: a command whose state write fails changes nothing and answers ERR_STATE_WRITE; a spawn whose record
// cannot be written does not happen (errored, retried once a write succeeds); memory and disk never disagree. The home
// is a real 2 MiB tmpfs (mounting needs root: without it the test fails, it is never skipped).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { writeFileAtomic } from '../../src/supervisor/atomic.js';
import { parseRecord } from '../../src/logs/lines.js';
import { join } from 'node:path';
import { Client, Dae, type DaeError } from '../../src/index.js';
import { requireRoot } from '../helpers/attacker.js';
import { processesWhere } from '../helpers/cli.js';
import { fixture, removeHomes, SAMPLE_KV, tempHome, testConfig, untilStatus } from '../helpers/supervisor.js';

const home = tempHome();
const filler = join(home, 'filler');
let dae: Dae | null = null;

before(() => {
  requireRoot();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', home]);
});
after(async () => {
  await dae?.stop().catch(() => undefined);
  execFileSync('umount', ['-l', home]);
  removeHomes();
});

// Writes until the file system is full.
function fillDisk(): void {
  const fd = openSync(filler, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

const stateWrite = (error: DaeError): boolean => error.code === 'ERR_STATE_WRITE';
const runsOf = (name: string): number[] => processesWhere((env) => env.includes(`DAE_NAME=${name}`) && env.includes(`DAE_RUNTIME_DIR=${join(home, 'run')}`));

function onDisk(): Array<[string, boolean]> {
  const state = JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')) as { daemons: Array<{ spec: { name: string; stopped: boolean } }> };
  return state.daemons.map(({ spec }) => [spec.name, spec.stopped]);
}

function inMemory(supervisor: Dae): Array<[string, boolean]> {
  return supervisor.list().map((entry) => [entry.name, supervisor.info(entry.name).stopped]);
}

test('on a full disk every command changes nothing, nothing is spawned unrecorded, and all resumes once there is room', async () => {
  writeFileSync(join(home, '.state.json.999.0.tmp'), 'left by a crash');
  dae = new Dae({ home, config: testConfig(32200) });
  await dae.start();
  assert.ok(!readdirSync(home).some((name) => name.endsWith('.tmp')), 'temporary files left by a crash are removed at start');
  const kv = await dae.install('kv', SAMPLE_KV);
  await dae.install('off', SAMPLE_KV);
  await dae.stopDaemon('off');
  fillDisk();

  await assert.rejects(dae.install('late', SAMPLE_KV), stateWrite);
  assert.equal(dae.list().some((entry) => entry.name === 'late'), false, 'install was rolled back');
  assert.deepEqual(runsOf('late'), [], 'nothing was spawned for it');

  await assert.rejects(dae.startDaemon('off'), stateWrite);
  assert.equal(dae.list().find((entry) => entry.name === 'off')!.status, 'stopped');
  assert.deepEqual(runsOf('off'), []);

  await assert.rejects(dae.stopDaemon('kv'), stateWrite);
  await assert.rejects(dae.uninstall('kv'), stateWrite);
  assert.equal(dae.list().find((entry) => entry.name === 'kv')!.pid, kv.pid, 'kv runs on as it was');
  assert.deepEqual(inMemory(dae), onDisk());

  // A crash now: its restart needs a record written first, so it waits, errored, with the reason.
  const errored = untilStatus(dae, 'kv', 'errored');
  process.kill(kv.pid!, 'SIGKILL');
  assert.match((await errored).reason ?? '', /state not writable .*retried once a write succeeds/);
  assert.deepEqual(runsOf('kv'), [], 'no process runs that the state does not know');

  // Room again: the held-back spawn goes ahead without anyone asking.
  const back = untilStatus(dae, 'kv', 'online');
  rmSync(filler);
  await back;
  assert.equal(runsOf('kv').length, 1);
  assert.deepEqual(inMemory(dae), onDisk());
  assert.deepEqual(inMemory(dae), [['kv', false], ['off', true]]);
});

test('on a full disk a failed state write leaves no temporary file; a daemon\'s output is lost in whole lines only, the daemon is not held, and its lines flow again once there is room', async () => {
  fillDisk();
  for (let i = 0; i < 3; i++) await assert.rejects(writeFileAtomic(join(home, 'probe.json'), 'y'.repeat(64 * 1024)), /ENOSPC/);
  assert.deepEqual(readdirSync(home).filter((name) => name.startsWith('.probe.json')), [], 'no temporary file is left');
  rmSync(filler);

  const talker = await dae!.install('talker', fixture('echo'));
  const client = await Client.connect({ port: talker.ports.tcp! });
  try {
    fillDisk();
    // 200 lines of 2 KiB with no room for them: the daemon is answered (not held by a full pipe), nothing half-written.
    assert.equal(await client.call('log', 200, 'x'.repeat(2048)), 200);
    const bulk = (await dae!.logs('talker', { lines: 1000 })).map((line) => parseRecord(line)?.line ?? `not a record: ${line}`).filter((line) => !line.includes(' ready'));
    assert.ok(bulk.length < 200, `the disk was full, yet all ${bulk.length} lines were written`);
    for (const line of bulk) assert.match(line, /^x{2048} \d+$/, 'a line half-written');
    rmSync(filler);
    await client.call('log', 1, 'room again');
    // What the daemon (a Node program) still held in its own heap while its pipe was full comes first: each `logs` call
    // is a round trip through the log process.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const [last] = await dae!.logs('talker', { lines: 1 });
      const record = last === undefined ? null : parseRecord(last);
      assert.ok(last === undefined || record !== null, `not a record: ${JSON.stringify(last?.slice(0, 100))}`);
      if (record?.line === 'room again 0') break;
      assert.ok(Date.now() < deadline, 'the line after the disk had room again');
    }
  } finally {
    client.destroy();
  }
});
