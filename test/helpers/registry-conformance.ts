// One conformance suite for every registry backend: the embedded one now, etcd with the same tests.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNeed, type Service } from '../../src/lan/records.js';
import type { Registry, RegistryChange } from '../../src/lan/registry.js';

const need = (name: string) => checkNeed({ instancename: name, script: '/srv/daemons/kv.js' });
const service = (name: string, epoch: number): Service => ({
  instancename: name, machine: { id: 'm1', address: '127.0.0.2' }, pid: 4242, ports: { tcp: 15000 }, since: new Date().toISOString(), epoch,
});

/** Resolves with the first change `matches` accepts (changes arrive in order). */
export function nextChange(registry: Registry, matches: (change: RegistryChange) => boolean): Promise<RegistryChange> {
  return new Promise((resolve) => {
    const stop = registry.watch((change) => {
      if (!matches(change)) return;
      stop();
      resolve(change);
    });
  });
}

/** The behaviour every backend must show. `open` gives a fresh, empty registry. */
export function registryConformance(backend: string, open: () => Promise<Registry>): void {
  describe(`registry conformance: ${backend}`, () => {
    const opened: Registry[] = [];
    const fresh = async (): Promise<Registry> => {
      const registry = await open();
      opened.push(registry);
      return registry;
    };
    after(() => Promise.all(opened.map((registry) => registry.close())));

    test('needs: create once, read, list, delete', async () => {
      const registry = await fresh();
      assert.equal(await registry.createNeed(need('a')), true);
      assert.equal(await registry.createNeed(need('a')), false);
      assert.equal(await registry.createNeed(need('b')), true);
      const a = await registry.getNeed('a');
      assert.equal(a?.value.instancename, 'a');
      assert.equal(a?.value.status, 'unsatisfied');
      assert.deepEqual((await registry.listNeeds()).map((entry) => entry.value.instancename).sort(), ['a', 'b']);
      assert.equal(await registry.deleteNeed('a'), true);
      assert.equal(await registry.deleteNeed('a'), false);
      assert.equal(await registry.getNeed('a'), null);
    });

    test('a claim is compare-and-set: of racing writers exactly one wins, every time', async () => {
      const registry = await fresh();
      await registry.createNeed(need('raced'));
      for (let round = 0; round < 50; round++) {
        const current = (await registry.getNeed('raced'))!;
        const claim = (machine: string) => registry.updateNeed('raced', current.version, {
          ...current.value, status: 'claimed', claim: { machine, epoch: current.value.epoch + 1, at: Date.now() }, epoch: current.value.epoch + 1,
        });
        const results = await Promise.all([claim('m1'), claim('m2'), claim('m3')]);
        assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(results)}`);
        const after = (await registry.getNeed('raced'))!;
        assert.equal(after.value.epoch, current.value.epoch + 1);
        assert.notEqual(after.version, current.version);
      }
      assert.equal(await registry.updateNeed('missing', 1, need('missing')), false);
    });

    test('services live with their machine: a revoked or lapsed registration takes them along', async () => {
      const registry = await fresh();
      const lease = await registry.registerMachine({ id: 'm1', address: '127.0.0.2', allowedscripts: ['/srv'] }, 60_000);
      assert.deepEqual((await registry.listMachines()).map((m) => m.id), ['m1']);
      await registry.putService(lease, service('s1', 1));
      await registry.putService(lease, service('s2', 1));
      assert.deepEqual((await registry.listServices()).map((s) => s.instancename).sort(), ['s1', 's2']);
      assert.equal(await registry.deleteService('s1', 7), false, 'an old epoch deletes nothing');
      assert.equal(await registry.deleteService('s1', 1), true);
      const gone = nextChange(registry, (change) => change.kind === 'service' && change.name === 's2' && change.deleted);
      await lease.revoke();
      await gone;
      await lease.lost;
      assert.deepEqual(await registry.listServices(), []);
      assert.deepEqual(await registry.listMachines(), []);
      await assert.rejects(registry.putService(lease, service('s3', 1)));

      const short = await registry.registerMachine({ id: 'm2', address: '127.0.0.3', allowedscripts: ['/srv'] }, 2000);
      await registry.putService(short, service('s4', 2));
      await short.keepAlive();
      // Not kept alive again: the registration lapses within its TTL (plus the backend's slack) and takes s4.
      await short.lost;
      assert.deepEqual(await registry.listServices(), []);
      await assert.rejects(short.keepAlive());
    });

    test('a machine key: the first recorded stays, for good', async () => {
      const registry = await fresh();
      assert.equal(await registry.machineKey('m1'), null);
      const results = await Promise.all([registry.setMachineKey('m1', 'digest-a'), registry.setMachineKey('m1', 'digest-b')]);
      assert.deepEqual(results.filter(Boolean), [true]);
      const kept = await registry.machineKey('m1');
      assert.equal(kept, results[0] ? 'digest-a' : 'digest-b');
      assert.equal(await registry.setMachineKey('m1', 'digest-c'), false);
      assert.equal(await registry.machineKey('m1'), kept);
    });

    test('watchers see need changes in order', async () => {
      const registry = await fresh();
      const seen: RegistryChange[] = [];
      const stop = registry.watch((change) => seen.push(change));
      const deleted = nextChange(registry, (change) => change.kind === 'need' && change.deleted);
      await registry.createNeed(need('w'));
      const current = (await registry.getNeed('w'))!;
      await registry.updateNeed('w', current.version, { ...current.value, status: 'errored', reason: 'test' });
      await registry.deleteNeed('w');
      await deleted;
      stop();
      assert.deepEqual(seen.filter((c) => c.kind === 'need').map((c) => [c.name, c.deleted]), [['w', false], ['w', false], ['w', true]]);
    });
  });
}
