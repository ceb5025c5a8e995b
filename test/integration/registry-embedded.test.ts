// The embedded registry: the conformance suite, and needs that survive a restart of the LAN manager.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRegistry } from '../../src/lan/embedded.js';
import { checkNeed } from '../../src/lan/records.js';
import { registryConformance } from '../helpers/registry-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'dae-lan-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

registryConformance('embedded', async () => new EmbeddedRegistry(join(dir, `lan-${files++}.json`)));

test('needs and machine keys are persisted atomically (0600) and come back after a restart; machines and services do not', async () => {
  const file = join(dir, 'persist.json');
  const first = new EmbeddedRegistry(file);
  await first.createNeed(checkNeed({ instancename: 'kept', script: '/srv/kv.js' }));
  const lease = await first.registerMachine({ id: 'm1', address: '127.0.0.2', allowedscripts: ['/srv'] }, 60_000);
  await first.putService(lease, { instancename: 'kept', machine: { id: 'm1', address: '127.0.0.2' }, pid: 1, ports: {}, since: '', epoch: 1 });
  await first.setMachineKey('m1', 'digest');
  await first.close();
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const second = new EmbeddedRegistry(file);
  assert.deepEqual((await second.listNeeds()).map((n) => n.value.instancename), ['kept']);
  assert.deepEqual(await second.listServices(), []);
  assert.equal(await second.machineKey('m1'), 'digest', 'machine keys are kept with the needs');
  await second.close();
});
