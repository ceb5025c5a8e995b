// The LAN's behaviour, one suite for every registry backend: 1 LAN manager (or more) and 3 machine managers.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, type DaeError, type Need, type Service, type StatusEvent } from '../../src/index.js';
import { isAlive } from '../../src/supervisor/process.js';
import { fixture } from './supervisor.js';
import { readFileSync } from 'node:fs';
import { ADDRESSES, KV, LINK_OUT, removeLinks, startClone, startRig, TOKEN, type Rig, type RigOptions } from './lan.js';

/** The key of the made-up machines these tests register by hand. */
const KEY = 'k'.repeat(32);

async function whois(service: Service): Promise<{ name: string; pid: number }> {
  const client = await Client.connect({ host: service.machine.address, port: service.ports.tcp!, timeout: 2000 });
  try {
    return (await client.call('whois')) as { name: string; pid: number };
  } finally {
    client.destroy();
  }
}

/** Every need in `names` satisfied, each by one service: returns them by name. */
function allServed(rig: Rig, names: string[]): () => Promise<Map<string, Service> | null> {
  return async () => {
    const needs = new Map((await rig.needs()).map((need) => [need.instancename, need]));
    const services = new Map((await rig.services()).map((service) => [service.instancename, service]));
    const ok = names.every((name) => needs.get(name)?.status === 'satisfied' && services.get(name)?.epoch === needs.get(name)?.claim?.epoch);
    return ok ? services : null;
  };
}

function need(rig: Rig, name: string): Promise<Need | undefined> {
  return rig.needs().then((needs) => needs.find((item) => item.instancename === name));
}

/** Machines (by index) that have `name` installed right now. */
function holders(rig: Rig, name: string): number[] {
  return rig.machines.flatMap((dae, index) => (dae?.list().some((entry) => entry.name === name) ? [index] : []));
}

/** Fails the test if a need is ever online on two machines at once. */
function watchDoubles(rig: Rig): { stop(): void; doubles: string[] } {
  const online = new Map<string, Set<number>>();
  const doubles: string[] = [];
  const listeners = rig.machines.map((dae, index) => {
    const listener = (event: StatusEvent): void => {
      const set = online.get(event.name) ?? new Set<number>();
      online.set(event.name, set);
      if (event.to === 'online') set.add(index);
      else set.delete(index);
      if (set.size > 1) doubles.push(`${event.name} online on machines ${[...set].join(', ')}`);
    };
    dae?.on('daemon-status', listener);
    return () => dae?.off('daemon-status', listener);
  });
  return { stop: () => listeners.forEach((off) => off()), doubles };
}

export function lanScenarios(backend: string, rigOptions: () => Promise<RigOptions>): void {
  describe(`LAN with the ${backend} registry`, () => {
    let rig: Rig | null = null;
    const open = async (machines = 3): Promise<Rig> => {
      const opened = await startRig(await rigOptions());
      rig = opened;
      for (let i = 0; i < machines; i++) await opened.startMachine(i);
      // Each machine registers in the background: needs added before that would all go to the first one.
      await opened.until(`${machines} machines registered`, async () => (await opened.registry().listMachines()).length === machines);
      return opened;
    };
    afterEach(async () => {
      await rig?.stop();
      rig = null;
    });
    after(removeLinks);

    test('needs become services: reachable at their machine, spread over the machines', async () => {
      const lan = await open();
      const names = ['a', 'b', 'c', 'd', 'e', 'f'];
      const doubles = watchDoubles(lan);
      for (const name of names) await lan.managers[0]!.addNeed({ instancename: name, script: KV });
      const services = await lan.until('six services', allServed(lan, names));
      for (const service of services.values()) {
        assert.ok(ADDRESSES.includes(service.machine.address));
        assert.deepEqual(pick(await whois(service)), { name: service.instancename, pid: service.pid });
        const placed = lan.machines[ADDRESSES.indexOf(service.machine.address)]!.list().find((entry) => entry.name === service.instancename);
        assert.equal(placed?.lan?.need, service.instancename, 'the machine manager lists which need its daemon satisfies');
        assert.equal(placed?.pid, service.pid);
      }
      const [one] = [...services.values()];
      const machine = lan.machines[ADDRESSES.indexOf(one!.machine.address)]!;
      await assert.rejects(machine.restartDaemon(one!.instancename), (error: DaeError) => error.code === 'ERR_PLACEMENT', 'the LAN restarts its daemons, not the machine');
      assert.ok(new Set([...services.values()].map((s) => s.machine.id)).size >= 2, 'placed on more than one machine');
      doubles.stop();
      assert.deepEqual(doubles.doubles, []);
    });

    test('a second live process with a machine\'s id and key (a cloned home) is refused, naming both addresses; nothing flaps', async () => {
      const lan = await open(1);
      await lan.managers[0]!.addNeed({ instancename: 'solo', script: KV });
      const before = (await lan.until('solo served', allServed(lan, ['solo']))).get('solo')!;
      const changes: string[] = [];
      const unwatch = lan.registry().watch((change) => changes.push(`${change.kind} ${change.name}${change.deleted ? ' deleted' : ''}`));
      const clone = await startClone(lan, 0, ADDRESSES[1]!);
      try {
        const refused = async (): Promise<{ address: string; at: string } | undefined> => (await lan.managers[0]!.machines()).find((machine) => machine.clone)?.clone;
        const first = await lan.until('the clone refused', refused);
        assert.equal(first.address, ADDRESSES[1]);
        // It keeps asking, and is refused each time: the original never loses its registration or its need.
        await lan.until('the clone refused again', async () => ((await refused())?.at ?? first.at) !== first.at);
        assert.match(readFileSync(clone.paths.log, 'utf8'), new RegExp(`ERR_MACHINE_CLONED: machine \\S+ is registered by another live process at ${ADDRESSES[0]!.replace(/\./g, '\\.')} .*this one is at ${ADDRESSES[1]!.replace(/\./g, '\\.')}`));
        assert.deepEqual(changes.filter((change) => change.startsWith('machine') || change.startsWith('need solo')), []);
        const after = (await lan.services()).find((service) => service.instancename === 'solo');
        assert.deepEqual([after?.pid, after?.epoch, after?.machine.address], [before.pid, before.epoch, ADDRESSES[0]]);
      } finally {
        unwatch();
        await clone.stop();
      }
    });

    test('any program as a need: checked by its ready mode (a probe, or the machine\'s word, said so); after waits for its need', async () => {
      const lan = await open(2);
      // `web` waits for `base`: nothing claims it, and the need says why.
      await lan.managers[0]!.addNeed({ instancename: 'web', script: fixture('plain'), ready: 'port', env: { LISTEN: '1' }, after: ['base'] });
      await lan.managers[0]!.addNeed({ instancename: 'quiet', script: fixture('plain'), ready: 'none' });
      const waiting = await lan.until('web to say whom it waits for', async () => {
        const found = await need(lan, 'web');
        return found?.reason === 'waiting for need base to be satisfied' ? found : null;
      });
      assert.deepEqual([waiting.status, waiting.claim], ['unsatisfied', null]);
      const quiet = (await lan.until('quiet served', allServed(lan, ['quiet']))).get('quiet')!;
      assert.match((await need(lan, 'quiet'))!.reason ?? '', /^on machine \S+'s word: ready none without a dae ready report, not checked$/);
      assert.ok(isAlive(quiet.pid));
      await lan.managers[0]!.addNeed({ instancename: 'base', script: KV });
      const served = await lan.until('base, then web served', allServed(lan, ['base', 'web']));
      // Satisfied by the LAN manager's own probe of its port: no word taken.
      assert.equal((await need(lan, 'web'))!.reason, null);
      assert.ok(served.get('web')!.ports.tcp !== undefined);
    });

    test('a pinned need lands only on its machine', async () => {
      const lan = await open();
      for (let i = 0; i < 4; i++) await lan.managers[0]!.addNeed({ instancename: `pinned${i}`, script: KV, pin: '127.0.0.3' });
      await lan.managers[0]!.addNeed({ instancename: 'cidr', script: KV, pin: '127.0.0.4/32' });
      const services = await lan.until('pinned services', allServed(lan, ['pinned0', 'pinned1', 'pinned2', 'pinned3', 'cidr']));
      for (let i = 0; i < 4; i++) assert.equal(services.get(`pinned${i}`)!.machine.address, '127.0.0.3');
      assert.equal(services.get('cidr')!.machine.address, '127.0.0.4');
    });

    test('killing a service brings it back (the LAN restarts it, not the machine)', async () => {
      const lan = await open();
      await lan.managers[0]!.addNeed({ instancename: 'victim', script: KV });
      const first = (await lan.until('served', allServed(lan, ['victim']))).get('victim')!;
      process.kill(first.pid, 'SIGKILL');
      const second = await lan.until('served again', async () => {
        const service = (await allServed(lan, ['victim'])())?.get('victim');
        return service !== undefined && service.pid !== first.pid ? service : null;
      });
      assert.ok(second.epoch > first.epoch);
      assert.deepEqual(pick(await whois(second)), { name: 'victim', pid: second.pid });
      assert.equal(isAlive(first.pid), false);
    });

    test('a crash-looping need ends errored, with the reason, and runs nowhere', async () => {
      const lan = await open();
      await lan.managers[0]!.addNeed({ instancename: 'crasher', script: fixture('crash-on-start') });
      const errored = await lan.until('errored', async () => ((await need(lan, 'crasher'))?.status === 'errored' ? need(lan, 'crasher') : null));
      assert.match(errored!.reason!, /exits in a row/);
      assert.equal(errored!.history.quickExits, 3);
      await lan.until('uninstalled everywhere', async () => holders(lan, 'crasher').length === 0);
    });

    test('a script outside allowedscripts is refused with the reason shown, and nothing runs it', async () => {
      const lan = await open();
      await lan.managers[0]!.addNeed({ instancename: 'outside', script: '/usr/bin/env' });
      const refused = await lan.until('refused', async () => {
        const current = await need(lan, 'outside');
        return current?.reason?.includes('outside allowedscripts') ? current : null;
      });
      assert.equal(refused.status, 'unsatisfied');
      assert.deepEqual(holders(lan, 'outside'), []);
      // A token holder cannot claim it for a machine either: the LAN manager checks placement too.
      const client = await Client.connect({ port: lan.managers[0]!.port });
      try {
        await client.call('auth', TOKEN);
        await client.call('register', { id: 'intruder', key: KEY, address: '127.0.0.9', allowedscripts: ['/srv'] });
        await assert.rejects(client.call('claim', 'outside'), (error: DaeError) => error.code === 'ERR_PLACEMENT');
      } finally {
        client.destroy();
      }
    });

    test('a symbolic link in an allowed directory that leads outside is refused on the machine', async () => {
      const lan = await open();
      await lan.managers[0]!.addNeed({ instancename: 'linked', script: LINK_OUT });
      const refused = await lan.until('refused', async () => {
        const current = await need(lan, 'linked');
        return current?.reason?.includes('outside allowedscripts') ? current : null;
      });
      assert.match(refused.reason!, /leads to .*index\.js, outside allowedscripts/);
      assert.equal(refused.status, 'unsatisfied');
      assert.deepEqual(holders(lan, 'linked'), []);
    });

    test('unreachable ports release the claim cleanly: reason kept, process stopped', async () => {
      const lan = await open();
      // `report`: a loaded machine may pass `auto`'s readyAfter before the report comes, and a copy online on the
      // machine's word is not checked (the rule this test is not about).
      await lan.managers[0]!.addNeed({ instancename: 'hidden', script: fixture('loopback-only'), ready: 'report' });
      const failed = await lan.until('released as unreachable', async () => {
        const current = await need(lan, 'hidden');
        return current?.status === 'errored' ? current : null;
      });
      assert.match(failed.reason!, /unreachable/);
      assert.equal((await lan.services()).some((service) => service.instancename === 'hidden'), false);
      await lan.until('stopped everywhere', async () => holders(lan, 'hidden').length === 0);
    });

    test('killing a whole machine re-places its services on the others', async () => {
      const lan = await open();
      const names = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];
      for (const name of names) await lan.managers[0]!.addNeed({ instancename: name, script: KV, pin: name === 'm0' ? '127.0.0.2' : null });
      const before = await lan.until('all served', allServed(lan, names));
      const victim = 0;
      const lost = [...before.values()].filter((service) => service.machine.address === ADDRESSES[victim]);
      assert.ok(lost.length >= 1);
      await lan.dropMachine(victim);
      for (const service of lost) process.kill(-service.pid, 'SIGKILL');
      const after = await lan.until('re-placed', async () => {
        const served = await allServed(lan, names.filter((name) => name !== 'm0'))();
        const pinnedBack = (await need(lan, 'm0'))?.status === 'unsatisfied';
        return pinnedBack && served && [...served.values()].every((service) => service.machine.address !== ADDRESSES[victim]) ? served : null;
      });
      for (const service of after.values()) assert.deepEqual(pick(await whois(service)), { name: service.instancename, pid: service.pid });
      // The pinned one has nowhere to go: it waits, unsatisfied, with the reason.
      assert.match((await need(lan, 'm0'))!.reason!, /lost|pinned to 127\.0\.0\.2/);
    });

    test('a machine manager that comes back stops its stale copies: a need never runs twice', async () => {
      const lan = await open();
      const names = ['s0', 's1', 's2', 's3', 's4', 's5'];
      for (const name of names) await lan.managers[0]!.addNeed({ instancename: name, script: KV });
      const before = await lan.until('all served', allServed(lan, names));
      // The machine that drops is one that runs something (how the needs spread depends on timing).
      const victim = ADDRESSES.indexOf([...before.values()][0]!.machine.address);
      const stale = [...before.values()].filter((service) => service.machine.address === ADDRESSES[victim]);
      await lan.dropMachine(victim); // its daemons keep running
      await lan.until('re-placed elsewhere', async () => {
        const served = await allServed(lan, names)();
        return served && [...served.values()].every((service) => service.machine.address !== ADDRESSES[victim]);
      });
      const back = await lan.startMachine(victim);
      await lan.until('stale copies stopped', async () => stale.every((service) => !isAlive(service.pid)) && back.list().every((entry) => !names.includes(entry.name)));
      const served = await allServed(lan, names)();
      assert.ok(served, 'still all served');
      for (const name of names) assert.equal(holders(lan, name).length, 1, `${name} runs once`);
    });

    test('a LAN manager restart loses no need and duplicates no service', async () => {
      const lan = await open();
      const names = ['r0', 'r1', 'r2', 'r3'];
      for (const name of names) await lan.managers[0]!.addNeed({ instancename: name, script: KV });
      const before = await lan.until('all served', allServed(lan, names));
      await lan.restartManager(0);
      const after = await lan.until('all served again', allServed(lan, names));
      for (const name of names) {
        assert.equal(after.get(name)!.pid, before.get(name)!.pid, `${name} kept its process`);
        assert.equal(after.get(name)!.epoch, before.get(name)!.epoch);
        assert.equal(holders(lan, name).length, 1);
      }
      assert.deepEqual((await lan.needs()).map((n) => n.instancename).sort(), names);
    });

    test('machine managers racing for a burst of needs: each runs exactly once', async () => {
      const lan = await open();
      const names = Array.from({ length: 12 }, (_, i) => `race${i}`);
      const doubles = watchDoubles(lan);
      const added = new Map((await Promise.all(names.map((name) => lan.managers[0]!.addNeed({ instancename: name, script: KV })))).map((n) => [n.instancename, n]));
      const services = await lan.until('all served', allServed(lan, names));
      doubles.stop();
      assert.deepEqual(doubles.doubles, []);
      for (const name of names) assert.deepEqual(holders(lan, name), [ADDRESSES.indexOf(services.get(name)!.machine.address)]);
      // Claimed at least once; more only if a run failed (a loaded machine can miss the reachability deadline).
      for (const need of await lan.needs()) assert.ok(need.epoch > added.get(need.instancename)!.epoch, need.instancename);
    });

    test('a machine reports and releases only its own claims, and cannot be impersonated; changing needs takes the token', async () => {
      const lan = await open(1);
      await lan.managers[0]!.addNeed({ instancename: 'owned', script: KV });
      const service = (await lan.until('served', allServed(lan, ['owned']))).get('owned')!;
      const client = await Client.connect({ port: lan.managers[0]!.port });
      try {
        await assert.rejects(client.call('need.add', { instancename: 'x', script: KV }), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
        await assert.rejects(client.call('register', { id: 'other', key: KEY, address: '127.0.0.5', allowedscripts: [] }), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
        assert.equal((await client.call('services') as Service[]).length, 1, 'services are readable without the token');
        await client.call('auth', TOKEN);
        await assert.rejects(client.call('report', { instancename: 'owned', epoch: service.epoch, pid: 1, ports: { tcp: 1 } }), (error: DaeError) => error.code === 'ERR_NOT_REGISTERED');
        // A token holder cannot speak for a machine that exists: the id belongs to the key it first registered with.
        await assert.rejects(client.call('register', { id: service.machine.id, key: KEY, address: '127.0.0.5', allowedscripts: [] }), (error: DaeError) => error.code === 'ERR_AUTH_FAILED');
        await assert.rejects(client.call('register', { id: 'other', address: '127.0.0.5', allowedscripts: [] }), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
        await client.call('register', { id: 'other', key: KEY, address: '127.0.0.5', allowedscripts: [] });
        await assert.rejects(client.call('report', { instancename: 'owned', epoch: service.epoch, pid: 1, ports: { tcp: 1 } }), (error: DaeError) => error.code === 'ERR_CONFLICT');
        assert.equal(await client.call('exited', { instancename: 'owned', epoch: service.epoch, exitCode: 1, signal: null, uptime: 0 }), null);
        await assert.rejects(client.call('need.add', { instancename: 'bad name!', script: KV }), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
        await assert.rejects(client.call('need.add', { instancename: 'owned', script: KV }), (error: DaeError) => error.code === 'ERR_NEED_EXISTS');
        await assert.rejects(client.call('need.rm', 'nothing'), (error: DaeError) => error.code === 'ERR_NO_SUCH_NEED');
      } finally {
        client.destroy();
      }
      assert.equal((await need(lan, 'owned'))?.status, 'satisfied');
      assert.equal((await lan.services())[0]?.pid, service.pid);
      await lan.managers[0]!.removeNeed('owned');
      await lan.until('stopped after need rm', async () => !isAlive(service.pid) && holders(lan, 'owned').length === 0 && (await lan.services()).length === 0);
    });
  });
}

function pick(who: { name: string; pid: number }): { name: string; pid: number } {
  return { name: who.name, pid: who.pid };
}
