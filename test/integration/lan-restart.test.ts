// The demo's second `npm start`: a LAN manager (needs kept in its home) and its machine manager stop together, the
// machine's daemons with it, and start again on the same homes. The needs are still satisfied by this machine's claim,
// but the LAN manager's services were not kept and the copies are new runs: the machine reports them again, so every
// need is a service once more (it was not: a copy's pid was not known yet when the machine registered, and a
// satisfied need was never reported again).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { Dae, type Service } from '../../src/index.js';
import { lanHomePaths, startLanHome } from '../../src/lan/home.js';
import { fixture, removeHomes, tempHome, testConfig } from '../helpers/supervisor.js';

after(() => removeHomes());

const NAMES = ['one', 'two'];

async function runOnce(home: string): Promise<Service[]> {
  const lan = await startLanHome(lanHomePaths(home), { port: 0, ws: 0 });
  const dae = new Dae({ home, config: testConfig(27900, { lanmanageraddress: `127.0.0.1:${lan.manager.identity().ports.ws}`, lantoken: lan.token, allowedscripts: [dirname(fixture('echo'))] }) });
  try {
    const served = new Promise<Service[]>((resolve) => {
      const look = (): void => void lan.registry.listServices().then((services) => {
        if (NAMES.every((name) => services.some((service) => service.instancename === name))) {
          stop();
          resolve(services);
        }
      });
      const stop = lan.registry.watch(look);
      look();
    });
    await dae.start();
    for (const name of NAMES) if ((await lan.registry.getNeed(name)) === null) await lan.manager.addNeed({ instancename: name, script: fixture('echo') });
    const services = await served;
    // Each service is the copy running now.
    for (const service of services) assert.equal(service.pid, dae.list().find((entry) => entry.name === service.instancename)!.pid);
    return services;
  } finally {
    await dae.stop();
    await lan.close();
  }
}

test('after both stop and start again on the same homes, every need is a service again, of the new runs', { timeout: 30_000 }, async () => {
  const home = tempHome();
  const first = await runOnce(home);
  const second = await runOnce(home);
  assert.deepEqual(second.map((s) => s.instancename).sort(), NAMES);
  for (const service of second) assert.notEqual(service.pid, first.find((s) => s.instancename === service.instancename)!.pid);
});
