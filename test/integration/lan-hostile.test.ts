// The LAN against a hostile local user and a stalled machine: a flood of another uid costs no machine its registration
// and refuses no machine manager; a machine manager frozen past its TTL (SIGSTOP) claims its need again within the bound
// once it runs (SIGCONT), with no other event. Needs root (setpriv to uid 65534) for the flood.
import { after, afterEach, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { EmbeddedRegistry, type Need } from '../../src/index.js';
import { DEFAULT_LIMITS } from '../../src/protocol/limits.js';
import { requireRoot, spawnAttacker } from '../helpers/attacker.js';
import { dae, ok, processesWhere, sigkill } from '../helpers/cli.js';
import { ADDRESSES, ALLOWED, KV, startRig, TOKEN, type Rig } from '../helpers/lan.js';
import { removeHomes, tempHome } from '../helpers/supervisor.js';

const ATTACKER = fileURLToPath(new URL('../fixtures/attacker.js', import.meta.url));
let rig: Rig | null = null;
const children: ChildProcess[] = [];
const homes: string[] = [];

before(requireRoot);
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const home of homes.splice(0)) {
    await dae({ home, cwd: home }, 'kill');
    for (const pid of processesWhere((env) => env.includes(`DAE_HOME=${home}`) || env.includes(`DAE_RUNTIME_DIR=${join(home, 'run')}`))) sigkill(pid);
  }
  await rig?.stop();
  rig = null;
});
after(removeHomes);

async function lanRig(portBase: number): Promise<Rig> {
  const file = join(tempHome(), 'state.json');
  rig = await startRig({ portBase, openRegistry: async () => new EmbeddedRegistry(file) });
  return rig;
}

function need(lan: Rig, name: string): Promise<Need | undefined> {
  return lan.needs().then((needs) => needs.find((item) => item.instancename === name));
}

interface Flood {
  held: number;
  /** Resolves once the LAN manager has closed every connection the attacker held (the deadline). */
  drained: Promise<void>;
  stop(): void;
}

/** The attacker floods `port` with `count` idle connections; resolves once all are opened and the excess refused. */
async function flood(port: number, count: number): Promise<Flood> {
  const child = spawnAttacker(process.execPath, [ATTACKER, 'flood', '127.0.0.1', String(port), String(count)]);
  children.push(child);
  let opened = false;
  let drain = (): void => undefined;
  const drained = new Promise<void>((resolve) => (drain = resolve));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the attacker exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const report = JSON.parse(line) as { phase: string; held?: number; opened?: number; closed?: number };
      if (report.phase === 'opened') opened = true;
      const held = report.phase === 'opened' ? report.opened! - report.closed! : report.held!;
      if (opened && held <= DEFAULT_LIMITS.maxConnectionsPerPeer) resolve({ held, drained, stop: () => child.kill('SIGTERM') });
      if (opened && held === 0) drain();
    });
  });
}

test('a flood of another uid on the LAN manager\'s doors: registered machines stay, a new machine registers and serves', async (t: TestContext) => {
  const lan = await lanRig(34000);
  await lan.startMachine(0);
  await lan.until('machine 0 registered', async () => (await lan.registry().listMachines()).length === 1);
  await lan.managers[0]!.addNeed({ instancename: 'steady', script: KV, pin: ADDRESSES[0] });
  const steady = await lan.until('steady served', async () => ((await need(lan, 'steady'))?.status === 'satisfied' ? need(lan, 'steady') : null));
  const lost: string[] = [];
  const unwatch = lan.registry().watch((change) => change.kind === 'machine' && change.deleted && lost.push(change.name));
  const { tcp, ws } = lan.managers[0]!.identity().ports as { tcp: number; ws: number };
  const floods = await Promise.all([flood(ws, 1100), flood(tcp, 1100)]);
  t.diagnostic(`the attacker holds ${floods[0]!.held} connections on the WebSocket door and ${floods[1]!.held} on Common TCP`);
  // A machine manager that joins now gets in, registers and serves a need pinned to it.
  const started = Date.now();
  await lan.startMachine(1);
  await lan.managers[0]!.addNeed({ instancename: 'newcomer', script: KV, pin: ADDRESSES[1] });
  await lan.until('newcomer served', async () => (await need(lan, 'newcomer'))?.status === 'satisfied');
  t.diagnostic(`during the flood a new machine registered and served its need in ${Date.now() - started} ms`);
  const still = await need(lan, 'steady');
  assert.deepEqual([still?.status, still?.epoch], ['satisfied', steady!.epoch], `the steady need was never placed again (${JSON.stringify(still)})`);
  assert.deepEqual(lost, [], 'no machine lost its registration');
  // Nothing the attacker holds authenticated: every connection is closed at the deadline, on both doors.
  await Promise.all(floods.map((each) => each.drained));
  unwatch();
  for (const each of floods) each.stop();
});

test('a machine manager frozen past its TTL claims its need again within the bound once it runs, with no other event', async (t: TestContext) => {
  const lan = await lanRig(34500);
  const home = tempHome();
  homes.push(home);
  const place = { home, cwd: tempHome() };
  const config = join(place.cwd, 'machine.json');
  writeFileSync(config, JSON.stringify({
    port: 0, http: null, portrangestart: { tcp: 34600, http: 34700, ws: 34800 }, liveness: { interval: 100, misses: 3 }, adoptTimeout: 3000,
    lanmanageraddress: `127.0.0.1:${lan.managers[0]!.identity().ports.ws}`, lantoken: TOKEN, advertisedaddress: ADDRESSES[0], allowedscripts: ALLOWED,
  }));
  const pid = Number(/pid (\d+)/.exec(await ok(place, 'start', '--config', config))?.[1]);
  await lan.managers[0]!.addNeed({ instancename: 'frozen', script: KV });
  // Stalls of random length, some shorter than the machine's TTL (nothing may change), some past it (the need is lost
  // and must come back as soon as the machine runs).
  const stalls = [300, 'past', 'past', 600, 'past'] as const;
  for (const stall of stalls) {
    const before = await lan.until('frozen served', async () => {
      const found = await need(lan, 'frozen');
      return found?.status === 'satisfied' ? found : null;
    });
    process.kill(pid, 'SIGSTOP');
    if (stall === 'past') {
      await lan.until('the frozen machine lost its need', async () => (await need(lan, 'frozen'))?.claim?.epoch !== before.epoch);
    } else {
      // A stall shorter than the TTL (1 s here): the input of this round, not a wait for an outcome.
      await delay(stall);
    }
    const resumed = Date.now();
    process.kill(pid, 'SIGCONT');
    if (stall !== 'past') {
      const same = await need(lan, 'frozen');
      assert.equal(same?.epoch, before.epoch, `a ${stall} ms stall changed nothing`);
      continue;
    }
    const claimed = await lan.until('claimed again', async () => {
      const found = await need(lan, 'frozen');
      return found?.claim !== null && found!.epoch > before.epoch ? found : null;
    });
    const ms = Date.now() - resumed;
    t.diagnostic(`stall past the TTL: claimed again ${ms} ms after SIGCONT (epoch ${before.epoch} -> ${claimed.epoch})`);
    assert.ok(ms < 3000, `claimed again only after ${ms} ms`);
  }
});
