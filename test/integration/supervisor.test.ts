// The supervisor as a library, with real child processes on loopback: lifecycle, policy, ports, liveness, state.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { Client, Dae, DaeError, type StatusEvent } from '../../src/index.js';
import { groupAlive, isAlive, isStopped } from '../../src/supervisor/process.js';
import { procStat } from '../helpers/cli.js';
import { formatTable } from '../../src/cli/table.js';
import { parseRecord } from '../../src/logs/lines.js';

const procGroup = (pid: number): number | undefined => procStat(pid)?.pgrp;
import { fixture, HEARTBEAT, removeHomes, SAMPLE_KV, startDae, untilStatus } from '../helpers/supervisor.js';

// Each test takes its own port range, so a slow teardown never collides with the next test.
// Below the ephemeral range (32768+), where the kernel's own ports would look like strangers.
let base = 20000;
const nextBase = (): number => (base += 50);
const running: Dae[] = [];
async function supervisor(overrides: Record<string, unknown> = {}): Promise<Dae> {
  const dae = await startDae(nextBase(), overrides);
  running.push(dae);
  return dae;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((dae) => dae.stop()));
});
after(removeHomes);

async function call(port: number, command: string, ...args: unknown[]): Promise<unknown> {
  const client = await Client.connect({ port });
  try {
    return await client.call(command, ...args);
  } finally {
    client.destroy();
  }
}

describe('install and list', () => {
  test('a daemon goes online with leased ports and answers on them; list tells the truth', async () => {
    const dae = await supervisor();
    const entry = await dae.install('kv', SAMPLE_KV);
    assert.equal(entry.status, 'online');
    assert.deepEqual(entry.ports, { tcp: base, http: base + 1000, ws: base + 2000 });
    assert.equal(await call(entry.ports.tcp!, 'set', 'a', 1), undefined);
    assert.equal(await call(entry.ports.tcp!, 'get', 'a'), 1);
    const whois = (await call(entry.ports.tcp!, 'whois')) as { name: string; pid: number };
    assert.deepEqual([whois.name, whois.pid], ['kv', entry.pid]);
    const [listed] = dae.list();
    assert.deepEqual(Object.keys(listed!).sort(), ['adopted', 'cpu', 'instance', 'lastExit', 'lastHealth', 'logBehind', 'memory', 'name', 'pid', 'ports', 'reason', 'restarts', 'script', 'socket', 'status', 'uptime']);
    assert.ok(!JSON.stringify(dae.list()).includes('DAE_SECRET'));
    assert.deepEqual(await dae.dispatch('list'), dae.list());
  });

  test('the daemon gets the environment contract, plus --env values, and no secret of the supervisor leaks', async () => {
    const dae = await supervisor();
    const entry = await dae.install('env', fixture('echo'), { env: { GREETING: 'hello' } });
    const get = (key: string): Promise<unknown> => call(entry.ports.tcp!, 'env', key);
    assert.equal(await get('GREETING'), 'hello');
    assert.equal(await get('DAE'), '1');
    assert.equal(await get('DAE_PID'), String(process.pid));
    assert.equal(await get('DAE_PORT'), String(dae.port));
    assert.equal(await get('DAE_NAME'), 'env');
    assert.equal(await get('DAE_TCP_PORT'), String(entry.ports.tcp));
    assert.equal(await get('DAE_HTTP_PORT'), String(entry.ports.http));
    assert.equal(await get('DAE_WS_PORT'), String(entry.ports.ws));
    assert.equal(await get('DAE_RUNTIME_DIR'), dae.paths.run);
    assert.match(String(await get('DAE_SECRET')), /^[0-9a-f]{48}$/);
    const info = dae.info('env');
    assert.deepEqual(info.env, ['GREETING']);
    assert.ok(!JSON.stringify(info).includes('hello'), 'info shows environment keys, never values');
  });

  test('a stranger on the first port of a range is skipped, never fought', async () => {
    const start = nextBase();
    const stranger: Server = createServer();
    stranger.listen(start, '127.0.0.1');
    await once(stranger, 'listening');
    try {
      const dae = await startDae(start);
      running.push(dae);
      const first = await dae.install('first', SAMPLE_KV);
      const second = await dae.install('second', SAMPLE_KV);
      assert.equal(first.ports.tcp, start + 1);
      assert.equal(second.ports.tcp, start + 2);
      assert.equal(first.status, 'online');
    } finally {
      stranger.close();
    }
  });

  test('names and paths are checked', async () => {
    const dae = await supervisor();
    for (const name of ['', '../x', 'a/b', 'x'.repeat(65), '..', 'sp ace']) {
      await assert.rejects(dae.install(name, SAMPLE_KV), (error: DaeError) => error.code === 'ERR_BAD_ARGS', name);
    }
    await assert.rejects(dae.install('missing', '/nonexistent/script.js'), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /does not exist/.test(error.message));
    await assert.rejects(dae.install('dir', '/tmp'), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
    await assert.rejects(dae.install('opt', SAMPLE_KV, { restart: 'sometimes' } as never), /option restart must be always, on-failure or never/);
    await assert.rejects(dae.install('opt', SAMPLE_KV, { env: { DAE_SECRET: 'x' } }), /DAE_SECRET is set by the supervisor/);
    await assert.rejects(dae.install('opt', SAMPLE_KV, { bogus: 1 } as never), /unknown install option "bogus"/);
    await dae.install('kv', SAMPLE_KV);
    await assert.rejects(dae.install('kv', SAMPLE_KV), (error: DaeError) => error.code === 'ERR_ALREADY_INSTALLED');
    await assert.rejects(dae.stopDaemon('nobody'), (error: DaeError) => error.code === 'ERR_NOT_INSTALLED');
  });
});

describe('restart policy', () => {
  test('a crash loop backs off and ends errored with the reason; restart clears it', async () => {
    const dae = await supervisor();
    const seen: StatusEvent[] = [];
    const errored = untilStatus(dae, 'crash', 'errored', seen);
    await dae.install('crash', fixture('crash-on-start'), { maxRestarts: 4, minUptime: 10_000 });
    const event = await errored;
    assert.match(event.reason!, /exited with code 1; 4 exits in a row within 10000 ms of starting/);
    assert.deepEqual(seen.map((e) => e.to), ['starting', 'backoff', 'starting', 'backoff', 'starting', 'backoff', 'starting', 'errored']);
    const [entry] = dae.list();
    assert.equal(entry!.status, 'errored');
    assert.equal(entry!.restarts, 3);
    assert.deepEqual(entry!.lastExit && [entry!.lastExit.code, entry!.lastExit.signal], [1, null]);
    const again = untilStatus(dae, 'crash', 'errored');
    await dae.restartDaemon('crash');
    await again;
  });

  test('a daemon that was up is restarted at once, keeping its ports', async () => {
    const dae = await supervisor();
    const entry = await dae.install('echo', fixture('echo'));
    const back = untilStatus(dae, 'echo', 'online');
    await call(entry.ports.tcp!, 'crash', 7).catch(() => undefined);
    await back;
    const [after] = dae.list();
    assert.notEqual(after!.pid, entry.pid);
    assert.equal(after!.restarts, 1);
    assert.deepEqual(after!.lastExit && after!.lastExit.code, 7);
    assert.deepEqual(after!.ports, entry.ports);
    assert.equal(await call(after!.ports.tcp!, 'echo', 'back'), 'back');
  });

  test('lifecycle commands on one daemon run one after another: two restarts at once leave one run', async () => {
    const dae = await supervisor();
    const first = await dae.install('twice', fixture('echo'));
    const [a, b] = await Promise.all([dae.restartDaemon('twice'), dae.restartDaemon('twice')]);
    assert.equal(a.status, 'online');
    assert.equal(b.status, 'online');
    assert.notEqual(a.pid, b.pid);
    assert.equal(isAlive(first.pid!), false);
    assert.equal(isAlive(a.pid!), false, 'the first restart\'s run was stopped by the second');
    assert.deepEqual(dae.list().map((e) => e.pid), [b.pid]);
    const [, gone] = await Promise.allSettled([dae.restartDaemon('twice'), dae.uninstall('twice')]);
    assert.equal(gone.status, 'fulfilled');
    assert.deepEqual(dae.list(), []);
    await assert.rejects(dae.install('nul', fixture('echo'), { args: ['a\0b'] }), /args\[0\] holds a NUL byte/);
    await assert.rejects(dae.install('big', fixture('echo'), { args: ['x'.repeat(200_000)] }), /args\[0\] is over 131072 bytes/);
  });

  test('restart never: an exit leaves it stopped; on-failure: a clean exit stays stopped', async () => {
    const dae = await supervisor();
    const never = await dae.install('never', fixture('crash-on-start'), { restart: 'never' });
    assert.equal(never.status, 'stopped');
    assert.match(never.reason!, /exited with code 1 \(restart: never\)/);
    const clean = await dae.install('clean', fixture('exit-zero'), { restart: 'on-failure' });
    assert.equal(clean.status, 'stopped');
  });
});

describe('ready, liveness and stop', () => {
  test('a daemon that never reports ready (--ready report) is killed at the deadline, never shows online, ends errored', async () => {
    // A start that is not ready in time is a failed start however long it lasted: errored after maxRestarts, never
    // restarted forever (readyTimeout 1.5 s is longer than minUptime 1 s here).
    const dae = await supervisor({ readyTimeout: 1500 });
    const seen: StatusEvent[] = [];
    const errored = untilStatus(dae, 'mute', 'errored', seen);
    await dae.install('mute', fixture('never-ready'), { maxRestarts: 2, minUptime: 1000, ready: 'report' });
    const event = await errored;
    assert.match(event.reason!, /^not ready within 1500 ms \(ready: report\) \(killed by SIGKILL\); killed by SIGKILL; 2 exits in a row/);
    assert.ok(!seen.some((e) => e.to === 'online'));
  });

  test('a daemon that reports a port other than its lease fails its start', async () => {
    const dae = await supervisor();
    const seen: StatusEvent[] = [];
    const errored = untilStatus(dae, 'stray', 'errored', seen);
    // It binds its own (held sockets would give it its leased port whatever it asks for).
    await dae.install('stray', fixture('wrong-port'), { maxRestarts: 2, sockets: 'own' });
    const event = await errored;
    assert.match(event.reason!, /reported tcp port \d+, but its lease is \d+/);
    assert.ok(!seen.some((e) => e.to === 'online'));
  });

  test('a daemon that crashes after a while is restarted at once when it was up long enough', async () => {
    const dae = await supervisor();
    const seen: StatusEvent[] = [];
    const entry = await dae.install('flaky', fixture('echo'), { env: { CRASH_AFTER: '200' }, minUptime: 100 });
    assert.equal(entry.status, 'online');
    await untilStatus(dae, 'flaky', 'backoff', seen);
    const back = await untilStatus(dae, 'flaky', 'online', seen);
    assert.match(seen[0]!.reason!, /^exited with code 3$/);
    assert.ok(Date.parse(back.at) - Date.parse(seen[0]!.at) < 2000, 'no backoff delay after a run that was up');
  });

  test('daemons find each other by name through the supervisor (connectWith)', async () => {
    const dae = await supervisor();
    await dae.install('kv', SAMPLE_KV);
    const heartbeat = await dae.install('heartbeat', HEARTBEAT, { env: { HEARTBEAT_INTERVAL: '600000' } });
    assert.equal(await call(heartbeat.ports.tcp!, 'beat'), 1);
    const kv = dae.list().find((e) => e.name === 'kv')!;
    const value = (await call(kv.ports.tcp!, 'get', 'heartbeat')) as { beats: number; pid: number };
    assert.deepEqual([value.beats, value.pid], [1, heartbeat.pid]);
  });

  test('a hung daemon is found by liveness pings, killed and restarted, with the reason shown', async () => {
    const dae = await supervisor();
    const entry = await dae.install('hung', fixture('echo'));
    const seen: StatusEvent[] = [];
    const backoff = untilStatus(dae, 'hung', 'backoff', seen);
    const online = untilStatus(dae, 'hung', 'online');
    const client = await Client.connect({ port: entry.ports.tcp! });
    await client.call('hang');
    client.destroy();
    const event = await backoff;
    assert.match(event.reason!, /hung: 3 liveness pings unanswered/);
    await online;
    assert.equal(isAlive(entry.pid!), false);
    // Back online, the cause of the restart stays in view: in lastExit, and in the table's reason column.
    const [up] = dae.list();
    assert.match(up!.lastExit!.reason!, /^hung: 3 liveness pings unanswered$/);
    assert.match(formatTable([up!], false), /restarted: hung: 3 liveness pings unanswered/);
  });

  test('a new run starts from nothing: no cpu of the last run, no socket file of a killed one; restarts survive adoption', async () => {
    const dae = await supervisor();
    const entry = await dae.install('busy', fixture('echo'));
    const client = await Client.connect({ port: entry.ports.tcp! });
    // Busy until a sample has seen it busy (each burn is short enough for the liveness pings).
    for (let round = 0; dae.list()[0]!.cpu <= 20; round++) {
      assert.ok(round < 100, 'the sampler never saw the daemon busy');
      await client.call('burn', 150);
    }
    client.destroy();
    const socket = dae.list()[0]!.socket!;
    assert.ok(existsSync(socket));
    let cpuAtExit = -1;
    const backoff = new Promise<void>((resolve) => dae.on('daemon-status', (event: StatusEvent) => {
      if (event.to !== 'backoff') return;
      cpuAtExit = dae.list()[0]!.cpu;
      resolve();
    }));
    const online = untilStatus(dae, 'busy', 'online');
    process.kill(entry.pid!, 'SIGKILL');
    await backoff;
    assert.equal(cpuAtExit, 0, 'the figures of the run that ended are gone');
    await online;
    assert.equal(existsSync(socket), false, 'the killed run\'s socket file was removed');
    assert.equal(dae.list()[0]!.restarts, 1);
    await dae.shutdown({ keepDaemons: true });
    running.length = 0;
    const second = new Dae({ home: dae.paths.root, config: dae.config });
    const adopted = untilStatus(second, 'busy', 'online');
    await second.start();
    running.push(second);
    await adopted;
    assert.deepEqual([second.list()[0]!.adopted, second.list()[0]!.restarts], [true, 1], 'adoption keeps the count');
  });

  test('stop: SIGTERM first, SIGKILL after the timeout; nothing of the group survives', async () => {
    const dae = await supervisor();
    const stubborn = await dae.install('stubborn', fixture('echo'), { env: { IGNORE_SIGTERM: '1' }, stopTimeout: 300 });
    const started = Date.now();
    const stopped = await dae.stopDaemon('stubborn');
    assert.ok(Date.now() - started >= 290, 'waited for the stop timeout');
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.lastExit!.signal, 'SIGKILL');
    assert.equal(groupAlive(stubborn.pid!), false);
    await dae.install('polite', fixture('echo'));
    const done = await dae.stopDaemon('polite');
    assert.deepEqual([done.lastExit!.code, done.lastExit!.signal], [0, null]);
  });

  test('a grandchild holding a port is killed with its group before the restart', async () => {
    const dae = await supervisor();
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as { port: number }).port;
    probe.close();
    const entry = await dae.install('parent', fixture('grandchild'), { env: { GRANDCHILD_PORT: String(port) } });
    const grandchild = (await call(entry.ports.tcp!, 'child')) as number;
    assert.equal(isAlive(grandchild), true);
    await dae.stopDaemon('parent');
    assert.equal(isAlive(grandchild), false);
    assert.equal(groupAlive(entry.pid!), false);
  });

  test('a grandchild that left the group with setsid is stopped too (it carries the run\'s secret)', async () => {
    const dae = await supervisor();
    const entry = await dae.install('escaper', fixture('grandchild'), { env: { GRANDCHILD_PORT: '0', GRANDCHILD_SETSID: '1' } });
    const grandchild = (await call(entry.ports.tcp!, 'child')) as number;
    assert.equal(isAlive(grandchild), true);
    assert.notEqual(procGroup(grandchild), entry.pid, 'the grandchild runs in a group of its own');
    await dae.stopDaemon('escaper');
    assert.equal(isAlive(grandchild), false);
  });

  test('status events reach subscribers', async () => {
    const dae = await supervisor();
    const client = await Client.connect({ path: dae.paths.socket });
    const events: StatusEvent[] = [];
    const online = new Promise<void>((resolve) => client.on('push', (name: string, args: unknown[]) => {
      if (name !== 'event') return;
      events.push(args[0] as StatusEvent);
      if ((args[0] as StatusEvent).to === 'online') resolve();
    }));
    assert.equal(await client.call('events'), true);
    await client.call('install', 'kv', SAMPLE_KV, {});
    await online;
    assert.deepEqual(events.map((e) => [e.name, e.from, e.to]), [['kv', 'stopped', 'starting'], ['kv', 'starting', 'online']]);
    assert.ok(events.every((e) => !Number.isNaN(Date.parse(e.at))));
    client.destroy();
  });
});

describe('resources', () => {
  test('cpu and memory are sampled in the background; max-memory restarts a leaking daemon', async () => {
    const dae = await supervisor();
    const entry = await dae.install('leak', fixture('echo'), { maxMemory: 150 * 1024 * 1024 });
    const client = await Client.connect({ port: entry.ports.tcp! });
    await client.call('burn', 300);
    const sampled = (): ReturnType<Dae['list']>[number] => dae.list().find((e) => e.name === 'leak')!;
    await untilSample(dae, () => sampled().cpu > 0 && sampled().memory > 10 * 1024 * 1024);
    const backoff = untilStatus(dae, 'leak', 'backoff');
    // The kill may come before the reply.
    await client.call('leak', 200).catch(() => undefined);
    client.destroy();
    assert.match((await backoff).reason!, /memory \d+ bytes \(1 process of its group\) stayed over max-memory 157286400/);
  });
});

// Resolves after the first background sample (every 100 ms here) whose results satisfy `ok`.
function untilSample(dae: Dae, ok: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!ok()) return;
      dae.off('sampled', check);
      resolve();
    };
    dae.on('sampled', check);
  });
}

describe('logs', () => {
  test('stdout and stderr land in one log in the order they came, each line stamped; a fast logger is rotated by size, no line lost or split', async () => {
    const dae = await supervisor({ logs: { maxBytes: 4096, files: 3, maxLine: 1024 } });
    const entry = await dae.install('chatty', fixture('echo'));
    const client = await Client.connect({ port: entry.ports.tcp! });
    const before = Date.now();
    await client.call('log', 2, 'hello');
    await client.call('log', 1, 'oops', 'err');
    // (Two pipes: lines on both at the same instant may be kept in either order; a read of the log in between orders them.)
    await dae.logs('chatty', { lines: 1 });
    await client.call('log', 1, 'again');
    // What the daemon wrote before the call is in the log when it answers.
    const records = (await dae.logs('chatty', { lines: 4 })).map((line) => parseRecord(line)!);
    assert.deepEqual(records.map((r) => `${r.stream} ${r.line}`), ['out hello 0', 'out hello 1', 'err oops 0', 'out again 0']);
    assert.ok(records.every((r, i) => r.time >= before && r.time <= Date.now() && (i === 0 || r.time >= records[i - 1]!.time)));
    assert.deepEqual(await dae.logs('chatty', { lines: 2, since: records[2]!.time }), (await dae.logs('chatty', { lines: 9 })).slice(-2));

    await client.call('log', 500, 'bulk');
    const rotated = `${dae.info('chatty').log}.1`;
    const kept = await dae.logs('chatty', { lines: 1000 });
    client.destroy();
    assert.ok(existsSync(rotated) && readFileSync(rotated, 'utf8').includes('bulk'));
    // The newest lines, whole and consecutive, across the rotated files.
    const bulk = kept.map((line) => parseRecord(line)!.line).filter((line) => line.startsWith('bulk '));
    assert.equal(bulk.at(-1), 'bulk 499');
    bulk.forEach((line, i) => assert.equal(line, `bulk ${500 - bulk.length + i}`));
    await assert.rejects(dae.logs('nobody'), (error: DaeError) => error.code === 'ERR_NOT_INSTALLED');
    await assert.rejects(dae.logs('chatty', { lines: -1 }), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
  });
});

describe('security and files', () => {
  test('over TCP, protected commands need auth with the token; read-only ones do not', async () => {
    const dae = await supervisor();
    const client = await Client.connect({ port: dae.port });
    await assert.rejects(client.call('install', 'kv', SAMPLE_KV), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
    await assert.rejects(client.call('logs', 'kv'), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
    await assert.rejects(client.call('kill'), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
    assert.deepEqual(await client.call('list'), []);
    await assert.rejects(client.call('auth', 'wrong'), (error: DaeError) => error.code === 'ERR_AUTH_FAILED' && error.message === 'wrong token');
    const token = readFileSync(`${dae.paths.root}/token`, 'utf8').trim();
    assert.equal(await client.call('auth', token), true);
    assert.equal(((await client.call('install', 'kv', SAMPLE_KV, { args: ['--password=hunter2'] })) as { status: string }).status, 'online');
    const full = (await client.call('info', 'kv')) as Record<string, unknown>;
    assert.deepEqual(full.args, ['--password=hunter2']);
    client.destroy();
    // Anyone may list, and find a daemon's doors by name; its arguments, cwd and environment names are the owner's.
    const anonymous = await Client.connect({ port: dae.port });
    const shown = (await anonymous.call('info', 'kv')) as Record<string, unknown>;
    assert.equal(shown.name, 'kv');
    assert.deepEqual(shown.ports, full.ports);
    for (const key of ['args', 'cwd', 'env']) assert.ok(!(key in shown), `info without auth shows ${key}`);
    assert.ok(!JSON.stringify(shown).includes('hunter2'));
    anonymous.destroy();
  });

  test('a ready report with a wrong secret is refused', async () => {
    const dae = await supervisor();
    await dae.install('kv', SAMPLE_KV);
    const client = await Client.connect({ path: dae.paths.socket });
    await assert.rejects(client.call('ready', { name: 'kv', pid: 1, secret: 'guess', ports: {} }), (error: DaeError) => error.code === 'ERR_AUTH_FAILED');
    client.destroy();
  });

  test('the home, token, state, logs and socket are private', async () => {
    const dae = await supervisor();
    await dae.install('kv', SAMPLE_KV);
    const mode = (path: string): number => statSync(path).mode & 0o777;
    assert.equal(mode(dae.paths.root), 0o700);
    assert.equal(mode(dae.paths.run), 0o700);
    assert.equal(mode(dae.paths.logs), 0o700);
    assert.equal(mode(dae.paths.token), 0o600);
    assert.equal(mode(dae.paths.state), 0o600);
    assert.equal(mode(dae.paths.socket), 0o600);
    assert.equal(mode(`${dae.paths.logs}/kv.log`), 0o600);
    assert.equal(mode(`${dae.paths.run}/fifo`), 0o700);
    assert.equal(mode(`${dae.paths.run}/fifo/kv.out`), 0o600);
  });

  test('the state is written on every change, atomically, with no temporary file left', async () => {
    const dae = await supervisor();
    await dae.install('kv', SAMPLE_KV, { args: ['--x'] });
    const state = JSON.parse(readFileSync(dae.paths.state, 'utf8'));
    assert.equal(state.version, 1);
    assert.equal(state.daemons[0].spec.name, 'kv');
    assert.deepEqual(state.daemons[0].spec.args, ['--x']);
    assert.equal(state.daemons[0].spec.stopped, false);
    await dae.stopDaemon('kv');
    assert.equal(JSON.parse(readFileSync(dae.paths.state, 'utf8')).daemons[0].spec.stopped, true);
    await dae.uninstall('kv');
    assert.deepEqual(JSON.parse(readFileSync(dae.paths.state, 'utf8')).daemons, []);
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(dae.paths.root).filter((f) => f.endsWith('.tmp')), []);
  });

  test('a second supervisor on the same home is refused, also when two start at once', async () => {
    const dae = await supervisor();
    const second = new Dae({ home: dae.paths.root, config: { port: 0, http: null } });
    await assert.rejects(second.start(), (error: DaeError) => error.code === 'ERR_ALREADY_RUNNING' && error.message.includes(`pid ${process.pid}`));
    await dae.stop();
    running.length = 0;
    const a = new Dae({ home: dae.paths.root, config: { port: 0, http: null } });
    const b = new Dae({ home: dae.paths.root, config: { port: 0, http: null } });
    const results = await Promise.allSettled([a.start(), b.start()]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const winner = results[0]!.status === 'fulfilled' ? a : b;
    await winner.stop();
  });

  test('a stale lock is broken: our own pid from a previous life, or an old lock whose live pid does not answer', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, utimesSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const home = mkdtempSync(`${tmpdir()}/dae-lock-`);
    mkdirSync(`${home}/run`, { recursive: true });
    writeFileSync(`${home}/dae.lock`, `${process.pid}\n`);
    const a = new Dae({ home, config: { port: 0, http: null } });
    await a.start();
    await a.stop();
    writeFileSync(`${home}/dae.lock`, '1\n');
    utimesSync(`${home}/dae.lock`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const b = new Dae({ home, config: { port: 0, http: null } });
    await b.start();
    await b.stop();
    writeFileSync(`${home}/dae.lock`, '1\n');
    await assert.rejects(new Dae({ home, config: { port: 0, http: null } }).start(), (error: DaeError) => error.code === 'ERR_ALREADY_RUNNING');
    // An old lock of a frozen process (SIGSTOP): it cannot answer, but it is alive; its lock is never broken.
    const { spawn } = await import('node:child_process');
    const frozen = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await once(frozen, 'spawn');
    process.kill(frozen.pid!, 'SIGSTOP');
    // The stop takes effect when the kernel next schedules it: wait until /proc says so.
    while (!isStopped(frozen.pid!)) await new Promise((resolve) => setImmediate(resolve));
    try {
      writeFileSync(`${home}/dae.lock`, `${frozen.pid}\n`);
      utimesSync(`${home}/dae.lock`, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      await assert.rejects(new Dae({ home, config: { port: 0, http: null } }).start(), (error: DaeError) => error.code === 'ERR_ALREADY_RUNNING' && error.message.includes(`pid ${frozen.pid}`));
      assert.equal(readFileSync(`${home}/dae.lock`, 'utf8'), `${frozen.pid}\n`, 'the lock is still the frozen one\'s');
    } finally {
      frozen.kill('SIGKILL');
    }
    const { rmSync } = await import('node:fs');
    rmSync(home, { recursive: true, force: true });
  });

  test('a supervisor that stops with --keep-daemons leaves them running; the next one adopts them by secret', async () => {
    const first = await supervisor();
    const entry = await first.install('kv', SAMPLE_KV);
    await first.shutdown({ keepDaemons: true });
    running.length = 0;
    assert.equal(isAlive(entry.pid!), true);
    const second = new Dae({ home: first.paths.root, config: first.config });
    const online = untilStatus(second, 'kv', 'online');
    await second.start();
    running.push(second);
    await online;
    const [adopted] = second.list();
    assert.deepEqual([adopted!.pid, adopted!.adopted], [entry.pid, true]);
    // An adopted daemon that dies is noticed at once and restarted.
    const back = untilStatus(second, 'kv', 'online');
    process.kill(entry.pid!, 'SIGKILL');
    await back;
    const [restarted] = second.list();
    assert.notEqual(restarted!.pid, entry.pid);
    assert.equal(restarted!.adopted, false);
  });

  test('daemons a LAN placed are given back (stopped and forgotten) by a supervisor that follows no LAN manager', async () => {
    const first = await supervisor();
    const placed = await first.installPlaced('kv', SAMPLE_KV, {}, { host: '127.0.0.1', lan: { need: 'kv', epoch: 7 } });
    await first.install('mine', SAMPLE_KV);
    await first.shutdown({ keepDaemons: true });
    running.length = 0;
    assert.equal(isAlive(placed.pid!), true);
    const second = new Dae({ home: first.paths.root, config: first.config });
    await second.start();
    running.push(second);
    assert.deepEqual(second.list().map((entry) => entry.name), ['mine']);
    assert.equal(isAlive(placed.pid!), false, 'its process was stopped');
    assert.match(readFileSync(second.paths.log, 'utf8'), /giving kv back \(it ran for the LAN's need kv; this supervisor follows no LAN manager\)/);
    assert.ok(!readFileSync(second.paths.state, 'utf8').includes('"kv"'), 'and forgotten on disk');
  });

  test('after a simulated reboot every installed daemon comes back as it was', async () => {
    const first = await supervisor();
    const kv = await first.install('kv', SAMPLE_KV);
    await first.install('off', SAMPLE_KV);
    await first.stopDaemon('off');
    await first.shutdown({ keepDaemons: true });
    running.length = 0;
    process.kill(-kv.pid!, 'SIGKILL'); // the reboot
    const second = new Dae({ home: first.paths.root, config: first.config });
    const online = untilStatus(second, 'kv', 'online');
    await second.start();
    running.push(second);
    await online;
    const list = second.list();
    assert.deepEqual(list.map((e) => [e.name, e.status]), [['kv', 'online'], ['off', 'stopped']]);
    assert.deepEqual(list[0]!.ports, kv.ports);
    assert.equal(await call(list[0]!.ports.tcp!, 'ping'), undefined);
  });
});
