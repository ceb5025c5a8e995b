// Another local user floods our doors: 1,100 idle connections cost them their own share only (a cap per uid), never
// the control socket or a daemon's ready channel, and unauthenticated connections are closed at the deadline; token
// guesses slow down per uid, never for the owner. Needs root (setpriv to uid 65534).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { Client, Dae, type StatusEvent } from '../../src/index.js';
import { DEFAULT_LIMITS } from '../../src/protocol/limits.js';
import { requireRoot, spawnAttacker } from '../helpers/attacker.js';
import { ok } from '../helpers/cli.js';
import { TestDaemon } from '../helpers/daemons.js';
import { fixture, removeHomes, tempHome, testConfig, untilStatus } from '../helpers/supervisor.js';

const ATTACKER = fileURLToPath(new URL('../fixtures/attacker.js', import.meta.url));
const PER_PEER = DEFAULT_LIMITS.maxConnectionsPerPeer;
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

before(requireRoot);
after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(cleanups.map((cleanup) => cleanup().catch(() => undefined)));
  removeHomes();
});

/** The attacker's process and its reports, awaited one predicate at a time. */
function attack(...args: string[]): { next(test: (report: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>; stop(): void } {
  const child = spawnAttacker(process.execPath, [ATTACKER, ...args]);
  children.push(child);
  const reports: Array<Record<string, unknown>> = [];
  const waiters: Array<{ test(report: Record<string, unknown>): boolean; resolve(report: Record<string, unknown>): void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const report = JSON.parse(line) as Record<string, unknown>;
    reports.push(report);
    for (const waiter of [...waiters]) {
      if (!waiter.test(report)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(report);
    }
  });
  return {
    next: (check) => {
      const found = reports.find(check);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ test: check, resolve });
        child.once('exit', (code) => reject(new Error(`the attacker exited (${code}) first`)));
      });
    },
    stop: () => child.kill('SIGTERM'),
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - started) };
}

for (const host of ['127.0.0.1', '::']) {
  test(`1,100 idle connections of another uid to a daemon on ${host}: that uid holds exactly its share, others still get in`, async () => {
    const daemon = new TestDaemon({ host });
    cleanups.push(() => daemon.stop());
    await daemon.start();
    const flood = attack('flood', '127.0.0.1', String(daemon.port), '1100');
    const opened = await flood.next((report) => report.phase === 'opened');
    assert.equal(opened.opened, 1100, 'the kernel accepted every connection; the daemon then refused the excess');
    const held = await flood.next((report) => report.phase === 'closed' && report.closed === 1100 - PER_PEER);
    assert.equal(held.held, PER_PEER, 'the attacker keeps exactly its share (on a dual-stack listener too: its peers are ::ffff:127.x)');
    const client = await Client.connect({ port: daemon.port });
    assert.equal(await client.call('echo', 'in'), 'in');
    client.destroy();
    flood.stop();
  });
}

test('connections the attacker closes at once (the kernel shows them as uid 0) never count as the owner\'s', async () => {
  const token = 'the-owner-token-0123456789abcdef';
  const daemon = new TestDaemon({ token, limits: { authTimeout: 5000 } });
  cleanups.push(() => daemon.stop());
  await daemon.start();
  for (let round = 0; round < 3; round++) await attack('orphans', '127.0.0.1', String(daemon.port), '300').next((report) => report.phase === 'done');
  const owner = await timed(async () => {
    const client = await Client.connect({ port: daemon.port });
    try {
      return await client.call('auth', token);
    } finally {
      client.destroy();
    }
  });
  assert.equal(owner.value, true);
  assert.ok(owner.ms < 500, `the owner waited ${owner.ms} ms: the attacker's closed sockets counted as root's`);
});

test('1,100 idle connections of another uid to the supervisor: list, restart and a killed daemon\'s ready report go through; the deadline closes them', async (t: TestContext) => {
  const dae = new Dae({ home: tempHome(), config: testConfig(32600) });
  cleanups.push(() => dae.stop());
  await dae.start();
  const kv = await dae.install('kv', fixture('echo'));
  // The owner follows events over TCP without a token: a read-only subscription outlives the auth deadline.
  const follower = await Client.connect({ port: dae.port });
  const events: StatusEvent[] = [];
  follower.on('push', (name: string, args: unknown[]) => name === 'event' && events.push(args[0] as StatusEvent));
  await follower.call('events');

  const flood = attack('flood', '127.0.0.1', String(dae.port), '1100');
  const opened = await flood.next((report) => report.phase === 'opened');
  // (Under load the 5 s deadline may already have closed some of them.)
  const held = await flood.next((report) => report.phase === 'closed' && (report.held as number) <= PER_PEER);
  t.diagnostic(`attacker connected ${opened.opened} of 1100 (failed ${opened.failed}), holds ${held.held} after refusals`);

  const place = { home: dae.paths.root, cwd: dae.paths.root };
  const list = await timed(() => ok(place, 'list', '--json'));
  assert.match(list.value, /"name":"kv"/);
  const restart = await timed(() => ok(place, 'restart', 'kv'));
  assert.match(restart.value, /kv: online/);
  const before = dae.list()[0]!.pid!;
  const back = untilStatus(dae, 'kv', 'online');
  const killed = await timed(async () => {
    process.kill(before, 'SIGKILL');
    return back;
  });
  assert.notEqual(dae.list()[0]!.pid, before);
  // Another peer (the owner's uid) still gets in over TCP, and authenticates.
  const owner = await timed(async () => {
    const client = await Client.connect({ port: dae.port });
    const listed = await client.call('list');
    client.destroy();
    return listed;
  });
  assert.equal((owner.value as unknown[]).length, 1);
  t.diagnostic(`while ${held.held} were held: dae list ${list.ms} ms, dae restart ${restart.ms} ms, SIGKILL -> online ${killed.ms} ms, owner TCP list ${owner.ms} ms`);

  // The attacker's connections never authenticated: the deadline closes every one of them.
  await flood.next((report) => report.phase === 'closed' && report.held === 0);
  assert.equal(follower.closed, false, 'the events subscription stays');
  assert.ok(events.some((event) => event.to === 'online'), 'and it saw the restarts');
  follower.destroy();
  flood.stop();
  assert.ok(kv.pid !== null);
});

test('token guesses of another uid slow down, doubling per failure; the owner authenticates at once meanwhile', async (t: TestContext) => {
  const token = 'the-owner-token-0123456789abcdef';
  const daemon = new TestDaemon({ token });
  cleanups.push(() => daemon.stop());
  await daemon.start();
  const guesses = attack('guess', '127.0.0.1', String(daemon.port), '8');
  const reports = await Promise.all(Array.from({ length: 8 }, (_, i) => guesses.next((report) => report.attempt === i)));
  for (const report of reports) assert.match(String(report.line), /ERR_AUTH_FAILED/);
  const delays = reports.map((report) => report.ms as number);
  t.diagnostic(`answer delays of 8 wrong guesses (ms): ${delays.join(', ')}`);
  // Three free failures, then 100, 200, 400, 800, 1600 ms. Each delay runs from the previous failure on the daemon's
  // side, so the guesser sees it shortened by the time that answer took to reach it and the next guess to come back
  // (tens of ms on a loaded machine): up to 50 ms is allowed for that.
  [0, 0, 0, 100, 200, 400, 800, 1600].forEach((wait, i) => assert.ok(delays[i]! >= wait - 50, `guess ${i} waited ${delays[i]} ms, at least ${wait} expected`));
  const owner = await timed(async () => {
    const client = await Client.connect({ port: daemon.port });
    const answer = await client.call('auth', token);
    client.destroy();
    return answer;
  });
  assert.equal(owner.value, true);
  assert.ok(owner.ms < 500, `the owner waited ${owner.ms} ms`);
});
