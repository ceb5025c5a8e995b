// The LAN on etcd: the same behaviour suite as embedded, then what etcd adds: etcd restarting under the LAN, one of
// two LAN managers killed, one member of a three-member cluster lost. A missing etcd fails here, loudly.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EtcdRegistry } from '../../src/lan/etcd.js';
import type { Service } from '../../src/index.js';
import { startEtcd, startEtcdCluster, type EtcdCluster, type EtcdMember } from '../helpers/etcd.js';
import { ADDRESSES, KV, startClone, startRig, TOKEN, type Rig } from '../helpers/lan.js';
import { Client, type DaeError } from '../../src/index.js';
import { lanScenarios } from '../helpers/lan-scenarios.js';
import { removeHomes } from '../helpers/supervisor.js';

let member: EtcdMember;
let prefixes = 0;
before(async () => {
  member = await startEtcd();
});
after(async () => {
  await member?.stop();
  removeHomes();
});

// As the LAN manager loads it: etcd3 only when the etcd backend is chosen.
async function openEtcd(endpoints: string[], prefix: string): Promise<EtcdRegistry> {
  const { EtcdRegistry } = await import('../../src/lan/etcd.js');
  return EtcdRegistry.open({ endpoints, prefix });
}

function etcdRig(endpoints: () => string[], managers = 1): () => Promise<{ portBase: number; managers: number; openRegistry: () => Promise<EtcdRegistry>; observer: () => Promise<EtcdRegistry> }> {
  return async () => {
    const prefix = `lan-${process.pid}-${prefixes++}/`;
    const open = (): Promise<EtcdRegistry> => openEtcd(endpoints(), prefix);
    return { portBase: 27500, managers, openRegistry: open, observer: open };
  };
}

lanScenarios('etcd', etcdRig(() => [member.endpoint]));

/** Services by name, once all of `names` are satisfied by a service of the current claim. */
async function served(rig: Rig, names: string[]): Promise<Map<string, Service>> {
  return rig.until(`${names.join(', ')} served`, async () => {
    const needs = new Map((await rig.needs()).map((need) => [need.instancename, need]));
    const services = new Map((await rig.services()).map((service) => [service.instancename, service]));
    return names.every((name) => needs.get(name)?.status === 'satisfied' && services.get(name)?.epoch === needs.get(name)?.claim?.epoch) ? services : null;
  });
}

function assertSameRuns(before: Map<string, Service>, after: Map<string, Service>): void {
  for (const [name, service] of before) {
    assert.equal(after.get(name)?.pid, service.pid, `${name} kept its process`);
    assert.equal(after.get(name)?.epoch, service.epoch, `${name} was not placed again`);
  }
}

describe('the LAN on etcd: what etcd adds', () => {
  let rig: Rig | null = null;
  let cluster: EtcdCluster | null = null;
  afterEach(async () => {
    await rig?.stop();
    rig = null;
    await cluster?.stop();
    cluster = null;
  });

  test('etcd restarting under the LAN: machine leases come back, nothing is lost or placed twice', async () => {
    rig = await startRig(await etcdRig(() => [member.endpoint])());
    for (let i = 0; i < 3; i++) await rig.startMachine(i);
    const names = ['e0', 'e1', 'e2', 'e3'];
    for (const name of names) await rig.managers[0]!.addNeed({ instancename: name, script: KV });
    const before = await served(rig, names);
    await member.restart();
    // Longer than a machine's TTL after the restart: leases were kept alive (or granted again), not lapsed.
    await rig.managers[0]!.addNeed({ instancename: 'after-restart', script: KV });
    const after = await served(rig, [...names, 'after-restart']);
    assertSameRuns(before, after);
    assert.equal((await rig.registry().listMachines()).length, 3);
  });

  test('killing one of two LAN managers: machines move to the other, their services stay as they are', async () => {
    rig = await startRig(await etcdRig(() => [member.endpoint], 2)());
    for (let i = 0; i < 3; i++) await rig.startMachine(i);
    const names = ['k0', 'k1', 'k2', 'k3'];
    for (const name of names) await rig.managers[1]!.addNeed({ instancename: name, script: KV });
    const before = await served(rig, names);
    // Machines try the first address first: they are all on LAN manager 0.
    await rig.killManager(0);
    await rig.managers[1]!.addNeed({ instancename: 'k-after', script: KV });
    const after = await served(rig, [...names, 'k-after']);
    assertSameRuns(before, after);
    await rig.until('all three machines registered again', async () => (await rig!.registry().listMachines()).length === 3);
  });

  test('a cloned machine that asks the other LAN manager is refused there too: one live process per machine id on the LAN', async () => {
    rig = await startRig(await etcdRig(() => [member.endpoint], 2)());
    await rig.startMachine(0);
    await rig.managers[0]!.addNeed({ instancename: 'c0', script: KV });
    const before = await served(rig, ['c0']);
    const clone = await startClone(rig, 0, ADDRESSES[1]!, [1]);
    try {
      const refused = await rig.until('the clone refused by the second LAN manager', async () => (await rig!.managers[1]!.machines()).find((machine) => machine.clone)?.clone);
      assert.equal(refused.address, ADDRESSES[1]);
      await rig.managers[0]!.addNeed({ instancename: 'c1', script: KV });
      assertSameRuns(before, await served(rig, ['c0', 'c1']));
      assert.deepEqual((await rig.services()).map((service) => service.machine.address), [ADDRESSES[0], ADDRESSES[0]]);
    } finally {
      await clone.stop();
    }
  });

  test('a machine that moved to the other LAN manager is still its id\'s live holder: a copy asking the first is refused', async () => {
    rig = await startRig(await etcdRig(() => [member.endpoint], 2)());
    const door = (index: number): string => `ws://127.0.0.1:${rig!.managers[index]!.identity().ports.ws}`;
    const register = async (index: number, nonce: string): Promise<Client> => {
      const client = await Client.connect({ url: door(index) });
      await client.call('auth', TOKEN);
      await client.call('register', { id: 'moved', key: 'k'.repeat(32), address: '127.0.0.7', allowedscripts: [], nonce, running: [] });
      return client;
    };
    // The machine's process: on manager 0, its connection drops, and it registers again on manager 1 at once.
    const first = await register(0, 'a1a1a1a1a1a1');
    first.destroy();
    const moved = await register(1, 'a1a1a1a1a1a1');
    try {
      // A copy of its home (another process mark) asks manager 0, where the machine's connection closed lately.
      await assert.rejects(register(0, 'b2b2b2b2b2b2'), (error: DaeError) => error.code === 'ERR_MACHINE_CLONED');
      assert.deepEqual((await rig.registry().listMachines()).map((machine) => machine.nonce), ['a1a1a1a1a1a1']);
    } finally {
      moved.destroy();
    }
  });

  test('losing one member of a three-member etcd cluster loses nothing', async () => {
    cluster = await startEtcdCluster(3);
    const endpoints = cluster.endpoints;
    rig = await startRig(await etcdRig(() => endpoints)());
    for (let i = 0; i < 3; i++) await rig.startMachine(i);
    const names = ['q0', 'q1', 'q2'];
    for (const name of names) await rig.managers[0]!.addNeed({ instancename: name, script: KV });
    const before = await served(rig, names);
    await cluster.members[0]!.kill();
    await rig.managers[0]!.addNeed({ instancename: 'q-after', script: KV });
    const after = await served(rig, [...names, 'q-after']);
    assertSameRuns(before, after);
  });
});
