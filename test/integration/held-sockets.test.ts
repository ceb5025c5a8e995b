// The supervisor holds the listening sockets: a connect loop across SIGKILL restarts sees no refusal; stop refuses at
// once; uninstall frees the port; a program written for systemd takes them with --sockets inherit; a Daemon started by
// hand with LISTEN_FDS (as systemd would) serves on the descriptor it was given.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import net, { connect, createServer } from 'node:net';
import { Client, Dae, type DaeError } from '../../src/index.js';
import { fixture, removeHomes, SAMPLE_KV, startDae, untilStatus } from '../helpers/supervisor.js';

const running: Dae[] = [];
let base = 29000; // below the ephemeral range (32768+), apart from the other files' ranges
async function supervisor(overrides: Record<string, unknown> = {}): Promise<Dae> {
  base += 20;
  const dae = await startDae(base, { ...overrides, portrangestart: { tcp: base, http: base + 5, ws: base + 10 } });
  running.push(dae);
  return dae;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((dae) => dae.stop()));
});
after(removeHomes);

type Outcome = 'answered' | 'refused' | 'reset';

/** One Common TCP `ping` on a fresh connection: answered, refused, or reset (accepted by a run that then died). */
function ping(port: number): Promise<{ outcome: Outcome; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    const done = (outcome: Outcome): void => {
      socket.destroy();
      resolve({ outcome, ms: performance.now() - started });
    };
    socket.once('connect', () => socket.write('ping\n'));
    socket.once('data', () => done('answered'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' ? 'refused' : 'reset'));
    socket.once('close', () => done('reset'));
  });
}

/** `ping`s on fresh connections back to back until `stop()`, counting what they met. */
function connectLoop(port: number): {
  counts: Record<Outcome, number>;
  longest(): number;
  refusedFor(): number;
  answered(more: number): Promise<void>;
  stop(): Promise<void>;
} {
  const counts: Record<Outcome, number> = { answered: 0, refused: 0, reset: 0 };
  let longest = 0;
  let firstRefused = 0;
  let lastRefused = 0;
  let looping = true;
  const progress = new EventEmitter();
  const loop = (async () => {
    while (looping) {
      const { outcome, ms } = await ping(port);
      counts[outcome]++;
      if (outcome === 'answered') longest = Math.max(longest, ms);
      if (outcome === 'refused') {
        lastRefused = performance.now();
        firstRefused ||= lastRefused;
      }
      progress.emit('ping');
    }
  })();
  return {
    counts,
    longest: () => longest,
    refusedFor: () => lastRefused - firstRefused,
    /** Resolves once `more` calls were answered from now on. */
    answered: async (more) => {
      const before = counts.answered;
      while (counts.answered < before + more) await once(progress, 'ping');
    },
    stop: async () => {
      looping = false;
      await loop;
    },
  };
}

/** SIGKILLs the daemon's run; resolves once it is online again. */
async function killAndRestart(dae: Dae, name: string): Promise<void> {
  const back = untilStatus(dae, name, 'online');
  process.kill(dae.list()[0]!.pid!, 'SIGKILL');
  await back;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

describe('held sockets', () => {
  test('a dae daemon takes its sockets from the supervisor: no connection refused across ten SIGKILL restarts', async (t) => {
    const dae = await supervisor();
    // minUptime 0: every restart is immediate, as after a crash of a daemon that was up.
    const kv = await dae.install('kv', SAMPLE_KV, { minUptime: 0 });
    // Its first run bound its own and handed them over on the IPC channel: held from the first crash on.
    assert.deepEqual([dae.info('kv').sockets, dae.info('kv').held], ['inherit', true]);
    const loop = connectLoop(kv.ports.tcp!);
    const { counts } = loop;
    for (let i = 0; i < 10; i++) {
      await killAndRestart(dae, 'kv');
      // A few calls answered by the new run before the next kill.
      await loop.answered(3);
    }
    await loop.stop();
    t.diagnostic(`ten SIGKILL restarts under a connect loop: ${counts.answered} answered, ${counts.refused} refused, ${counts.reset} reset (accepted by the killed run), longest wait ${loop.longest().toFixed(0)} ms`);
    assert.equal(counts.refused, 0, 'no connection refused');
    assert.ok(counts.answered > 30);
  });

  test('stop refuses at once, start holds the sockets again, uninstall frees the port for anyone', async () => {
    const dae = await supervisor();
    const kv = await dae.install('kv', SAMPLE_KV);
    await dae.restartDaemon('kv');
    assert.equal(dae.info('kv').held, true);
    const port = kv.ports.tcp!;
    await dae.stopDaemon('kv');
    assert.equal((await ping(port)).outcome, 'refused', 'a stopped daemon\'s port refuses at once');
    await dae.startDaemon('kv');
    assert.equal((await ping(port)).outcome, 'answered');
    await dae.uninstall('kv');
    assert.equal(await bindable(port), true, 'uninstalled: the port is free');
  });

  test('after the supervisor goes, an adopted run keeps serving on its own copy; reload of it is a restart; when it dies its port refuses until the next run, which is held again', async (t) => {
    const first = await supervisor();
    const kv = await first.install('kv', SAMPLE_KV, { minUptime: 0 });
    const port = kv.ports.tcp!;
    // The supervisor goes (its daemons stay) and the next one adopts them.
    const takeOver = async (from: Dae): Promise<Dae> => {
      await from.shutdown({ keepDaemons: true });
      running.length = 0;
      assert.equal((await ping(port)).outcome, 'answered', 'the run serves with no supervisor');
      const next = new Dae({ home: from.paths.root, config: from.config });
      const adopted = untilStatus(next, 'kv', 'online');
      await next.start();
      running.push(next);
      await adopted;
      assert.deepEqual([next.list()[0]!.adopted, next.info('kv').held], [true, false], 'a supervisor cannot hold what an adopted run listens on');
      return next;
    };
    // A connect loop across a SIGKILL of the current run: what it met, and how long it was refused.
    const killUnderLoad = async (dae: Dae): Promise<{ counts: Record<Outcome, number>; refusedFor: number }> => {
      const loop = connectLoop(port);
      await loop.answered(3);
      await killAndRestart(dae, 'kv');
      await loop.answered(3);
      await loop.stop();
      return { counts: loop.counts, refusedFor: loop.refusedFor() };
    };

    const second = await takeOver(first);
    const result = await second.reload('kv');
    assert.deepEqual([result.reloaded, result.reason], [false, 'restarted: its adopted runs hold its sockets, not this supervisor']);
    assert.equal(second.info('kv').held, true, 'held again from the run the restart started');

    const third = await takeOver(second);
    const adoptedDies = await killUnderLoad(third);
    t.diagnostic(`an adopted run SIGKILLed: ${adoptedDies.counts.refused} connects refused over ${adoptedDies.refusedFor.toFixed(0)} ms, until its next run listened`);
    assert.ok(adoptedDies.counts.refused > 0, 'nobody held its port while no run listened');
    assert.equal(third.info('kv').held, true, 'its next run is held');
    const heldDies = await killUnderLoad(third);
    t.diagnostic(`then a held run SIGKILLed: ${heldDies.counts.answered} answered, ${heldDies.counts.refused} refused`);
    assert.equal(heldDies.counts.refused, 0);
  });

  test('a program that binds its own port is never held: it binds it again on restart', async () => {
    const dae = await supervisor();
    const plain = await dae.install('plain', fixture('plain'), { env: { LISTEN: '1' } });
    assert.deepEqual([dae.info('plain').sockets, dae.info('plain').held], ['own', false]);
    const again = await dae.restartDaemon('plain');
    assert.deepEqual([again.status, dae.info('plain').held], ['online', false], JSON.stringify(again));
    const hi = connect({ port: plain.ports.tcp!, host: '127.0.0.1' });
    assert.equal(String((await once(hi, 'data'))[0]), 'hi\n', 'its own listener answers');
    hi.destroy();
  });

  test('--sockets inherit: a program written for systemd gets them at exec (LISTEN_FDS, LISTEN_PID), from its first run', async () => {
    const dae = await supervisor();
    await assert.rejects(dae.install('probe', fixture('socket-activated'), { sockets: 'inherit', ready: 'port' }), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && /a port probe cannot tell/.test(error.message));
    const web = await dae.install('web', fixture('socket-activated'), { sockets: 'inherit', ready: 'http:/', minUptime: 0 });
    assert.equal(web.status, 'online', web.reason ?? '');
    assert.deepEqual([dae.info('web').sockets, dae.info('web').held], ['inherit', true]);
    const answer = async (): Promise<string> => (await (await fetch(`http://127.0.0.1:${web.ports.tcp}/`)).text()).trim();
    assert.equal(await answer(), String(web.pid));
    const back = untilStatus(dae, 'web', 'online');
    process.kill(web.pid!, 'SIGKILL');
    // Sent while no run accepts: it waits in the backlog and the next run answers it.
    const pending = answer();
    await back;
    assert.equal(await pending, String(dae.list()[0]!.pid));
  });

  test('a Daemon started by hand with LISTEN_FDS, as systemd starts it, serves on the socket it was given', async () => {
    const handle = (net as unknown as { _createServerHandle(a: string, p: number, t: number): { fd: number; close(): void; getsockname(out: Record<string, unknown>): void } })._createServerHandle('127.0.0.1', 0, 4);
    const out: Record<string, unknown> = {};
    handle.getsockname(out);
    const env: NodeJS.ProcessEnv = { ...process.env, LISTEN_FDS: '1', LISTEN_FDNAMES: 'dae.socket' };
    delete env.DAE;
    const child = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', process.execPath, SAMPLE_KV], { env, stdio: ['ignore', 'pipe', 'inherit', handle.fd] });
    try {
      await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve()));
      const client = await Client.connect({ port: out.port as number });
      const who = (await client.call('whois')) as { pid: number; port: number };
      client.destroy();
      assert.deepEqual([who.pid, who.port], [child.pid, out.port]);
    } finally {
      child.kill('SIGKILL');
      handle.close();
    }
  });
});
