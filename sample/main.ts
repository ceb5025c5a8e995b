// `npm start`: the whole stack on one machine, on the embedded default. A LAN manager (needs kept in <home>/lan) and a
// supervisor that is its machine manager, created in-process; the two samples are needs the LAN places on it. The demo
// has a home of its own (DAE_HOME, else ~/.dae-demo), so it never mixes with the daemons of a `dae start` in ~/.dae.
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dae, type Service } from '../src/index.js';
import { lanHomePaths, startLanHome } from '../src/lan/home.js';

const samples = {
  kv: fileURLToPath(new URL('./kv.js', import.meta.url)),
  heartbeat: fileURLToPath(new URL('./heartbeat.js', import.meta.url)),
};

const home = process.env.DAE_HOME || join(homedir(), '.dae-demo');
const lanHome = lanHomePaths(home);
const { manager: lan, registry, token, close: closeLan } = await startLanHome(lanHome);
const dae = new Dae({
  home,
  echo: true,
  config: {
    lanmanageraddress: `127.0.0.1:${lan.identity().ports.ws}`,
    lantoken: token,
    allowedscripts: [dirname(samples.kv)],
  },
});
// Before anything is spawned: a signal at any later moment stops whatever has started, and nothing is left behind.
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await dae.stop();
    await closeLan();
    process.exit(0);
  })();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await dae.start();
// A home from before the LAN had the samples installed by hand: they become needs instead.
for (const entry of dae.list()) if (entry.name in samples && entry.lan === undefined) await dae.uninstall(entry.name);

const served = new Promise<Service[]>((resolve) => {
  const look = (): void => void registry.listServices().then((services) => {
    if (Object.keys(samples).every((name) => services.some((service) => service.instancename === name))) {
      stopWatching();
      resolve(services);
    }
  });
  const stopWatching = registry.watch(look);
  look();
});
for (const [name, script] of Object.entries(samples)) {
  if ((await registry.getNeed(name)) === null) await lan.addNeed({ instancename: name, script });
}
const services = await served;
const port = (name: string): number | undefined => services.find((service) => service.instancename === name)?.ports.tcp;
const http = dae.identity().ports.http;
console.log(`
dae supervisor pid ${process.pid}, home ${dae.paths.root}; LAN manager on ws ${lan.identity().ports.ws}, home ${lanHome.root}
  dashboard   ${http === undefined ? 'off (see the log above)' : `http://127.0.0.1:${http}/      (signed in: DAE_HOME=${home} npx dae dashboard --token)`}
  supervisor  printf 'list\\n' | nc -N 127.0.0.1 ${dae.port}      (or: DAE_HOME=${home} npx dae list)
  LAN         printf 'services\\n' | nc -N 127.0.0.1 ${lan.port}      (or: DAE_HOME=${home} npx dae needs)
  kv          printf 'all\\n' | nc -N 127.0.0.1 ${port('kv')}
  heartbeat   printf 'status\\n' | nc -N 127.0.0.1 ${port('heartbeat')}
Ctrl-C (or SIGTERM) stops the supervisor, its daemons and the LAN manager (the needs are kept).`);
