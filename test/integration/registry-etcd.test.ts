// The etcd registry: the conformance suite against a real etcd member, and what only etcd brings: restarts (data kept
// or lost), a lease revoked behind the registry's back, two LAN managers on one prefix, and a clean exit after close.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { DaeError } from '../../src/errors.js';
import type { EtcdRegistry, EtcdRegistryOptions } from '../../src/lan/etcd.js';
import { checkNeed, type Service } from '../../src/lan/records.js';
import type { MachineLease, MachineRecord, Registry, RegistryChange } from '../../src/lan/registry.js';
import { freePorts, startEtcd, type EtcdMember } from '../helpers/etcd.js';
import { nextChange, registryConformance } from '../helpers/registry-conformance.js';

/** How long a child process may take to exit after closing its registry. */
const EXIT_DEADLINE_MS = 3_000;
/** How long such a child may take in all (loading etcd3 and gRPC included). */
const CHILD_DEADLINE_MS = 15_000;

let shared: EtcdMember;
let restarted: EtcdMember;
const opened: EtcdRegistry[] = [];
let prefixes = 0;

// A missing etcd fails every test here (with how to install it): the etcd backend is never silently untested.
before(async () => {
  [shared, restarted] = await Promise.all([startEtcd(), startEtcd()]);
});
after(async () => {
  await Promise.all(opened.splice(0).map((registry) => registry.close()));
  await Promise.all([shared?.stop(), restarted?.stop()]);
});

const freshPrefix = (): string => `test-${process.pid}-${prefixes++}/`;

// As the LAN manager loads it: etcd3 and gRPC only when the etcd backend is chosen.
async function open(options: EtcdRegistryOptions): Promise<EtcdRegistry> {
  const { EtcdRegistry } = await import('../../src/lan/etcd.js');
  const registry = await EtcdRegistry.open(options);
  opened.push(registry);
  return registry;
}

registryConformance('etcd', () => open({ endpoints: [shared.endpoint], prefix: freshPrefix() }));

const need = (name: string) => checkNeed({ instancename: name, script: '/srv/daemons/kv.js' }, 0);
const machine = (id: string): MachineRecord => ({ id, address: '127.0.0.2', allowedscripts: ['/srv'] });
const service = (name: string, machineId: string, epoch: number): Service => ({
  instancename: name, machine: { id: machineId, address: '127.0.0.2' }, pid: 4242, ports: { tcp: 15000 }, since: new Date().toISOString(), epoch,
});

const is = (kind: RegistryChange['kind'], name: string, deleted: boolean) => (change: RegistryChange) =>
  change.kind === kind && change.name === name && change.deleted === deleted;

/** Whether `lease.lost` has resolved, checked after every pending callback had its turn. */
async function hasLost(lease: MachineLease): Promise<boolean> {
  return Promise.race([lease.lost.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);
}

/** The etcd lease id a key is attached to, read with a plain etcd3 client. */
async function leaseOf(raw: Etcd3, key: string): Promise<string> {
  const response = await raw.get(key).exec();
  const [kv] = response.kvs;
  assert.ok(kv, `${key} exists`);
  return kv.lease;
}

const sortedIds = async (registry: Registry) => (await registry.listMachines()).map((m) => m.id).sort();
const sortedServices = async (registry: Registry) => (await registry.listServices()).map((s) => `${s.instancename}@${s.machine.id}#${s.epoch}`).sort();

// A child process watches, registers a machine with a service, optionally freezes etcd (SIGSTOP), and closes the
// registry: it must exit on its own, soon after.
async function exitsSoonAfterClose(member: EtcdMember, freeze: boolean): Promise<void> {
  const module = fileURLToPath(new URL('../../src/lan/etcd.js', import.meta.url));
  const script = `
    const { EtcdRegistry } = await import(${JSON.stringify(module)});
    const registry = await EtcdRegistry.open({ endpoints: [${JSON.stringify(member.endpoint)}], prefix: ${JSON.stringify(freshPrefix())}, callTimeout: 500 });
    registry.watch(() => undefined);
    const lease = await registry.registerMachine({ id: 'm1', address: '127.0.0.2', allowedscripts: [] }, 60000);
    await registry.putService(lease, { instancename: 's1', machine: { id: 'm1', address: '127.0.0.2' }, pid: 1, ports: {}, since: '', epoch: 1 });
    await lease.keepAlive();
    if (${freeze}) process.kill(${member.pid}, 'SIGSTOP');
    await registry.close();
    process.stdout.write('closed');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let closedAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('closed') && closedAt === 0) closedAt = Date.now();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const deadline = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no exit'), CHILD_DEADLINE_MS)));
  try {
    const code = await Promise.race([exited, deadline]);
    assert.equal(code, 0, output);
    assert.ok(closedAt > 0, output);
    assert.ok(Date.now() - closedAt < EXIT_DEADLINE_MS, `exited ${Date.now() - closedAt} ms after close`);
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
}

describe('etcd registry: restarts', { timeout: 30_000 }, () => {
  test('etcd restarted with its data: the machine keeps its lease and services, and the watch goes on', async () => {
    const registry = await open({ endpoints: [restarted.endpoint], prefix: freshPrefix() });
    const ttl = 3_000;
    const lease = await registry.registerMachine(machine('m1'), ttl);
    await registry.putService(lease, service('r1', 'm1', 1));
    const watching = nextChange(registry, is('need', 'before', false));
    await registry.createNeed(need('before'));
    await watching;

    // The machine's heartbeats: a LAN manager renews on each one, etcd reachable or not.
    const heartbeat = setInterval(() => lease.keepAlive().catch(() => undefined), ttl / 3);
    try {
      await restarted.kill('SIGTERM');
      // etcd is down: the renewal fails as a connection problem, not as a lapsed registration.
      await assert.rejects(lease.keepAlive(), (error: unknown) => error instanceof DaeError && ['ERR_CONNECTION_FAILED', 'ERR_TIMEOUT'].includes(error.code));
      await restarted.restart();
      await lease.keepAlive();
    } finally {
      clearInterval(heartbeat);
    }
    assert.deepEqual(await sortedIds(registry), ['m1']);
    assert.deepEqual(await sortedServices(registry), ['r1@m1#1']);
    assert.equal(await hasLost(lease), false);
    const heard = nextChange(registry, is('need', 'after', false));
    await registry.createNeed(need('after'));
    await heard;
    await lease.revoke();
  });

  test('etcd restarted empty: the machine is granted a new lease, put again with its services, and watchers hear of it all', async () => {
    const registry = await open({ endpoints: [restarted.endpoint], prefix: freshPrefix() });
    const lease = await registry.registerMachine(machine('m1'), 3_000);
    await registry.putService(lease, service('e1', 'm1', 1));
    const seen: RegistryChange[] = [];
    registry.watch((change) => seen.push(change));
    // Enough revisions that the empty etcd answers with a lower one.
    const heard = nextChange(registry, is('need', 'n9', false));
    for (let i = 0; i < 10; i++) await registry.createNeed(need(`n${i}`));
    await heard;
    const needsGone = nextChange(registry, is('need', 'n9', true));

    await restarted.kill('SIGKILL');
    rmSync(restarted.dataDir, { recursive: true, force: true });
    const serviceBack = nextChange(registry, is('service', 'e1', false));
    await restarted.restart();

    await lease.keepAlive();
    assert.deepEqual(await sortedIds(registry), ['m1']);
    assert.deepEqual(await sortedServices(registry), ['e1@m1#1']);
    assert.equal(await hasLost(lease), false);
    assert.deepEqual(await registry.listNeeds(), []);
    // The watch noticed etcd went back in time, listed again, and reported what went and what came back.
    await Promise.all([needsGone, serviceBack]);
    await lease.keepAlive();
    await lease.revoke();
    assert.deepEqual(await registry.listServices(), []);
  });
});

describe('etcd registry: leases and LAN managers', { timeout: 30_000 }, () => {
  test('a lease revoked behind the registry\'s back is granted anew on the next keepAlive, without taking over a service someone else put meanwhile', async () => {
    const prefix = freshPrefix();
    const registry = await open({ endpoints: [shared.endpoint], prefix });
    const other = await open({ endpoints: [shared.endpoint], prefix });
    const raw = new Etcd3({ hosts: shared.endpoint, defaultCallOptions: () => ({ deadline: Date.now() + 2_000 }) });
    try {
      // Watching from the start: the registry's own writes wait for its watch, the raw client's do not.
      registry.watch(() => undefined);
      const lease = await registry.registerMachine(machine('m1'), 10_000);
      await registry.putService(lease, service('s1', 'm1', 1));
      await registry.putService(lease, service('s2', 'm1', 1));
      const before = await leaseOf(raw, `${prefix}machines/m1`);

      const gone = nextChange(registry, is('machine', 'm1', true));
      await raw.leaseClient.leaseRevoke({ ID: before });
      await gone;
      assert.deepEqual(await registry.listServices(), []);
      // Meanwhile another LAN manager places s2 on m2.
      const lease2 = await other.registerMachine(machine('m2'), 10_000);
      await other.putService(lease2, service('s2', 'm2', 2));

      const back = nextChange(registry, is('machine', 'm1', false));
      await lease.keepAlive();
      await back;
      assert.notEqual(await leaseOf(raw, `${prefix}machines/m1`), before);
      assert.deepEqual(await sortedIds(registry), ['m1', 'm2']);
      assert.deepEqual(await sortedServices(registry), ['s1@m1#1', 's2@m2#2']);
      assert.equal(await hasLost(lease), false);

      // s2 is no longer m1's: revoking m1 leaves it alone.
      await lease.revoke();
      assert.deepEqual(await sortedServices(registry), ['s2@m2#2']);
      await lease2.revoke();
    } finally {
      raw.close();
    }
  });

  test('two LAN managers on one prefix see each other\'s changes, and of their races exactly one wins', async () => {
    const prefix = freshPrefix();
    const a = await open({ endpoints: [shared.endpoint], prefix });
    const b = await open({ endpoints: [shared.endpoint], prefix });
    const seenByA: RegistryChange[] = [];
    const seenByB: RegistryChange[] = [];
    a.watch((change) => seenByA.push(change));
    b.watch((change) => seenByB.push(change));
    // A write waits for its own registry's watch to connect: after the second, both watches hear everything.
    await a.createNeed(need('from-a'));
    const aHeard = nextChange(a, is('need', 'from-b', false));
    await b.createNeed(need('from-b'));
    await aHeard;

    for (let round = 0; round < 20; round++) {
      const results = await Promise.all([a.createNeed(need(`race${round}`)), b.createNeed(need(`race${round}`))]);
      assert.equal(results.filter(Boolean).length, 1, `create round ${round}: ${JSON.stringify(results)}`);
    }
    for (let round = 0; round < 20; round++) {
      const [fromA, fromB] = await Promise.all([a.getNeed('from-a'), b.getNeed('from-a')]);
      assert.equal(fromA?.version, fromB?.version);
      const claim = (registry: Registry, id: string) => registry.updateNeed('from-a', fromA!.version, {
        ...fromA!.value, status: 'claimed', claim: { machine: id, epoch: fromA!.value.epoch + 1, at: Date.now() }, epoch: fromA!.value.epoch + 1,
      });
      const results = await Promise.all([claim(a, 'm1'), claim(b, 'm2')]);
      assert.equal(results.filter(Boolean).length, 1, `claim round ${round}: ${JSON.stringify(results)}`);
    }
    assert.equal((await b.getNeed('from-a'))?.value.epoch, 20);

    // A machine registered through A, a service deleted by both at once, the machine revoked: B hears all of it.
    const lease = await a.registerMachine(machine('m1'), 10_000);
    await a.putService(lease, service('from-a', 'm1', 20));
    await a.putService(lease, service('from-b', 'm1', 1));
    assert.deepEqual(await sortedServices(b), ['from-a@m1#20', 'from-b@m1#1']);
    const deletes = await Promise.all([a.deleteService('from-a', 20), b.deleteService('from-a', 20)]);
    assert.equal(deletes.filter(Boolean).length, 1, JSON.stringify(deletes));
    const machineGone = nextChange(b, is('machine', 'm1', true));
    await lease.revoke();
    await machineGone;
    const deleted = Promise.all([nextChange(a, is('need', 'from-b', true)), nextChange(b, is('need', 'from-b', true))]);
    assert.equal(await b.deleteNeed('from-b'), true);
    await deleted;

    const expected = [
      ['need', 'from-b', false],
      ...Array.from({ length: 20 }, (_, round) => ['need', `race${round}`, false]),
      ...Array.from({ length: 20 }, () => ['need', 'from-a', false]),
      ['machine', 'm1', false], ['service', 'from-a', false], ['service', 'from-b', false], ['service', 'from-a', true],
    ];
    assert.deepEqual(seenByA[0], { kind: 'need', name: 'from-a', deleted: false });
    for (const seen of [seenByA, seenByB]) {
      const changes = seen.map((c) => [c.kind, c.name, c.deleted]);
      changes.splice(0, changes.findIndex((c) => c[1] === 'from-b'));
      assert.deepEqual(changes.slice(0, expected.length), expected);
      // The revoke deletes the machine and its remaining service in one revision, in etcd's order; then the need.
      assert.deepEqual(changes.slice(expected.length).sort(), [['machine', 'm1', true], ['need', 'from-b', true], ['service', 'from-b', true]].sort());
      assert.deepEqual(changes.at(-1), ['need', 'from-b', true]);
    }
  });

  test('errors from etcd are DaeErrors with stable codes, and options are checked', async () => {
    const [port] = await freePorts(1);
    const nobody = await open({ endpoints: [`http://127.0.0.1:${port}`], prefix: freshPrefix(), callTimeout: 500 });
    await assert.rejects(nobody.listNeeds(), (error: unknown) => error instanceof DaeError && ['ERR_CONNECTION_FAILED', 'ERR_TIMEOUT'].includes(error.code));
    await assert.rejects(nobody.registerMachine(machine('m1'), 1_000), (error: unknown) => error instanceof DaeError);
    await nobody.close();
    await assert.rejects(nobody.getNeed('x'), { code: 'ERR_CONNECTION_CLOSED' });
    await assert.rejects(open({ endpoints: [] }), { code: 'ERR_BAD_OPTION', message: /endpoints/ });
    await assert.rejects(open({ endpoints: [shared.endpoint], callTimeout: 0 }), { code: 'ERR_BAD_OPTION', message: /callTimeout/ });
  });

  test('a process exits soon after closing a registry it watched and registered a machine with, etcd answering or frozen', async () => {
    await exitsSoonAfterClose(shared, false);
    const frozen = restarted;
    try {
      await exitsSoonAfterClose(frozen, true);
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
    }
  });
});
