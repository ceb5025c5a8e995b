// `npm start`, and the original's third sample: a supervisor created in-process that installs the two samples.
import { fileURLToPath } from 'node:url';
import { Dae } from '../src/index.js';

const samples = {
  kv: fileURLToPath(new URL('./kv.js', import.meta.url)),
  heartbeat: fileURLToPath(new URL('./heartbeat.js', import.meta.url)),
};

const dae = new Dae({ echo: true });
await dae.start();
for (const [name, path] of Object.entries(samples)) {
  const installed = dae.list().some((entry) => entry.name === name);
  if (!installed) await dae.install(name, path);
}
const port = (name: string): number | undefined => dae.list().find((entry) => entry.name === name)?.ports.tcp;
console.log(`
dae supervisor pid ${process.pid}, home ${dae.paths.root}
  supervisor  printf 'list\\n' | nc -N 127.0.0.1 ${dae.port}
  kv          printf 'all\\n' | nc -N 127.0.0.1 ${port('kv')}
  heartbeat   printf 'status\\n' | nc -N 127.0.0.1 ${port('heartbeat')}
Ctrl-C stops the supervisor and its daemons.`);
const stop = (): void => void dae.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
