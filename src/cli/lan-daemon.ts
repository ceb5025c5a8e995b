// `dae lan start|stop|token`: the LAN manager of this home, in the foreground or detached, its stop and its token.
import { setTimeout as delay } from 'node:timers/promises';
import { DaeError } from '../errors.js';
import { startLanHome, type LanHome } from '../lan/home.js';
import { loadToken, prepareHome, type HomePaths } from '../supervisor/home.js';
import { isAlive } from '../supervisor/process.js';
import { appendPrivate } from '../supervisor/private.js';
import { startDetached } from './detached.js';
import { lanPaths, lanRuns, type LanRunning } from './lan-reach.js';

const STOP_WAIT_MS = 15_000;

export interface LanStartOptions {
  /** etcd client URLs, comma-separated; none = the embedded registry, needs kept in the LAN home. */
  etcd?: string;
  host: string;
  port: number;
  ws: number;
}

function logger(paths: HomePaths, echo: boolean): (line: string) => void {
  return (message) => {
    const line = `${new Date().toISOString()} ${message}\n`;
    appendPrivate(paths.log, line);
    if (echo) process.stdout.write(line);
  };
}

/** Runs the LAN manager in this process until SIGTERM or SIGINT. */
export async function runLanForeground(options: LanStartOptions): Promise<void> {
  const paths = lanPaths();
  const send = process.send?.bind(process);
  const log = logger(paths, send === undefined);
  let lan: LanHome;
  try {
    lan = await startLanHome(paths, { ...options, log });
  } catch (error) {
    if (send) send({ error: (error as Error).message });
    throw error;
  }
  const { tcp, ws } = lan.manager.identity().ports as { tcp: number; ws: number };
  log(`token file ${paths.token}; needs in ${options.etcd === undefined ? paths.state : `etcd ${options.etcd}`}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log('LAN manager stopping');
    void lan.close().then(() => process.exit(0), (error: unknown) => {
      log(`stopping failed: ${(error as Error).message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (send) {
    send({ pid: process.pid, port: tcp, ws } satisfies LanRunning);
    process.disconnect?.();
  }
}

/** Starts the LAN manager detached; resolves once it answers. */
export function startLanBackground(options: LanStartOptions): Promise<LanRunning & { already: boolean }> {
  const paths = lanPaths();
  const args = ['lan', 'start', '--foreground', '--host', options.host, '--port', String(options.port), '--ws', String(options.ws)];
  if (options.etcd !== undefined) args.push('--etcd', options.etcd);
  return startDetached({ paths, what: 'the LAN manager', running: () => lanRuns(paths), args: () => args });
}

/** SIGTERMs this home's LAN manager and waits until it is gone; null when none runs. */
export async function stopLan(): Promise<LanRunning | null> {
  const running = await lanRuns();
  if (running === null) return null;
  process.kill(running.pid, 'SIGTERM');
  const deadline = Date.now() + STOP_WAIT_MS;
  while (isAlive(running.pid)) {
    if (Date.now() > deadline) throw new DaeError('ERR_TIMEOUT', `the LAN manager (pid ${running.pid}) did not stop within ${STOP_WAIT_MS} ms (see ${lanPaths().log})`);
    await delay(25);
  }
  return running;
}

/** The cluster token, made (0600) on first use. */
export function lanToken(): string {
  const paths = lanPaths();
  prepareHome(paths);
  return loadToken(paths);
}
