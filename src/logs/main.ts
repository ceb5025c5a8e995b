// The log process's entry, one per home, started detached by the supervisor so that it outlives it:
// `node main.js <home> <limits as JSON>`. It says it is up on the IPC channel its starter opened, then lets it go.
import { existsSync } from 'node:fs';
import { LogKeeper, logHome } from './log-keeper.js';

const HOME_CHECK_MS = 2000;
const [home, limits] = process.argv.slice(2);
if (home === undefined || limits === undefined) {
  console.error('usage: main.js <home> <limits JSON>');
  process.exit(2);
}
const { fifoDir, logDir, socket, ownLog } = logHome(home);
const keeper = new LogKeeper({ fifoDir, logDir, socket, limits: JSON.parse(limits), ownLog });
const stop = (): void => void keeper.stop().then(() => process.exit(0), () => process.exit(1));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
try {
  await keeper.start();
  process.send?.({ pid: process.pid });
} catch (error) {
  process.send?.({ error: (error as Error).message });
  process.exit(1);
}
process.disconnect?.();
// A home removed under it (`rm -rf ~/.dae`): nothing is left to read or write; it goes.
const homeCheck = setInterval(() => {
  if (existsSync(socket)) return;
  clearInterval(homeCheck);
  stop();
}, HOME_CHECK_MS).unref();
