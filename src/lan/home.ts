// A LAN manager on its home: the lock, the cluster token, the registry (embedded or etcd), the control socket and the
// port file; `close()` undoes all of it. The `dae lan start` foreground process and `npm start` both run on it.
import { unlinkSync } from 'node:fs';
import { DaeError } from '../errors.js';
import { join } from 'node:path';
import { acquireLock, homePaths, loadToken, prepareHome, releaseLock, removeLeftovers, writePrivate, type HomePaths } from '../supervisor/home.js';
import { EmbeddedRegistry } from './embedded.js';
import { LanManager, type LanManagerOptions } from './manager.js';
import type { Registry } from './registry.js';

export interface LanHomeOptions extends Pick<LanManagerOptions, 'host' | 'port' | 'ws' | 'log'> {
  /** etcd client URLs, comma-separated; none = the embedded registry, needs kept in the home. */
  etcd?: string;
}

export interface LanHome {
  manager: LanManager;
  registry: Registry;
  token: string;
  close(): Promise<void>;
}

/** The LAN manager's home: `lan/` in the dae home. */
export function lanHomePaths(root = homePaths().root): HomePaths {
  return homePaths(join(root, 'lan'));
}

// etcd3 (and gRPC) load only when etcd is asked for.
async function openRegistry(etcd: string | undefined, file: string): Promise<Registry> {
  if (etcd === undefined) return new EmbeddedRegistry(file);
  const endpoints = etcd.split(',').map((e) => e.trim()).filter(Boolean).map((e) => (e.includes('://') ? e : `http://${e}`));
  // etcd3 and cockatiel are optional peer dependencies: only `--etcd` needs them.
  const { EtcdRegistry } = await import('./etcd.js').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new DaeError('ERR_MISSING_PACKAGE', `--etcd needs the npm packages etcd3 and cockatiel, which are not installed: npm install etcd3 cockatiel (${(error as Error).message})`, { cause: error });
  });
  const registry = await EtcdRegistry.open({ endpoints });
  try {
    // Opening connects lazily: a first read proves etcd answers before anyone is told the LAN manager runs.
    await registry.listNeeds();
  } catch (error) {
    await registry.close().catch(() => undefined);
    throw new DaeError('ERR_START_FAILED', `etcd at ${endpoints.join(', ')} does not answer: ${(error as Error).message}`, { cause: error });
  }
  return registry;
}

/** Starts a LAN manager on `paths`; ERR_ALREADY_RUNNING when one holds the home. */
export async function startLanHome(paths: HomePaths, options: LanHomeOptions = {}): Promise<LanHome> {
  let registry: Registry | undefined;
  let manager: LanManager | undefined;
  let locked = false;
  const close = async (): Promise<void> => {
    await manager?.stop();
    await registry?.close();
    if (!locked) return;
    try {
      unlinkSync(paths.portFile);
    } catch {
      // never written
    }
    releaseLock(paths);
  };
  try {
    prepareHome(paths, options.log);
    const lock = await acquireLock(paths);
    if (!lock.ok) throw new DaeError('ERR_ALREADY_RUNNING', `a LAN manager is already running (pid ${lock.pid}, home ${paths.root})`);
    locked = true;
    removeLeftovers(paths);
    const token = loadToken(paths, options.log);
    registry = await openRegistry(options.etcd, paths.state);
    const { host, port, ws, log } = options;
    manager = new LanManager({ host, port, ws, log, registry, token, control: paths.socket });
    await manager.start();
    const doors = manager.identity().ports;
    writePrivate(paths.portFile, `${JSON.stringify({ tcp: doors.tcp, ws: doors.ws })}\n`);
    return { manager, registry, token, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
