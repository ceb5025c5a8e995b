// The entry helper for runnable daemon files: start, stop on SIGTERM/SIGINT, exit. The library itself never exits.
import type { DaeError } from '../errors.js';
import type { Daemon } from './daemon.js';

/** Starts `daemon`, prints where it listens, and stops it cleanly on SIGTERM or SIGINT. */
export function runDaemon(daemon: Daemon): Promise<void> {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    daemon.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`${daemon.name}: stop after ${signal} failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return daemon.start().then(
    () => {
      console.log(`${daemon.name} ready: ${JSON.stringify(daemon.identity().ports)} (pid ${process.pid})`);
    },
    (error: unknown) => {
      const code = (error as DaeError).code;
      console.error(`${daemon.name}: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
      process.exit(1);
    },
  );
}
