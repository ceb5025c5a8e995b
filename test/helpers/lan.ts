// A LAN in one test process: LAN managers on loopback and three machine managers (127.0.0.2, .3, .4) with their homes.
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Dae, LanManager, type Need, type Registry, type Service } from '../../src/index.js';
import { fixture, SAMPLE_KV, tempHome, testConfig } from './supervisor.js';

export const TOKEN = 'lan-test-token-0123456789abcdef';
export const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
/** Fast timings so machine loss, backoff and crash loops play out in a test's time. */
export const LAN_TEST_OPTIONS = {
  machineTtl: 1000,
  lostGrace: 300,
  reachTimeout: 1000,
  startupGrace: 2500,
  policy: { minUptime: 1000, backoffBase: 50, backoffMax: 400, maxRestarts: 3, resetAfter: 30_000 },
};
/** Generous: what a test waits for at most before it fails with the state it saw. */
const UNTIL_MS = 20_000;
/** Some conditions have no event of their own (a daemon's entry leaving `list` after uninstall): look again this often. */
const FALLBACK_LOOK_MS = 250;

export interface Rig {
  managers: LanManager[];
  machines: Array<Dae | null>;
  /** The registry every condition is read from (the first LAN manager's). */
  registry(): Registry;
  startMachine(index: number): Promise<Dae>;
  /** Stops LAN manager `index` for good, as a crash would for its machines: connections drop, nothing is revoked. */
  killManager(index: number): Promise<void>;
  /** Stops machine `index` as a crash would: the connection drops and its supervisor is gone; daemons keep running. */
  dropMachine(index: number): Promise<void>;
  restartManager(index: number): Promise<void>;
  needs(): Promise<Need[]>;
  services(): Promise<Service[]>;
  /** Resolves once `check` holds, looking again on every registry change and every daemon status change. */
  until<T>(what: string, check: () => Promise<T | null | undefined | false>): Promise<T>;
  stop(): Promise<void>;
}

export interface RigOptions {
  /** A fresh registry for each LAN manager (the same store behind them: one file, or one etcd prefix). */
  openRegistry(): Promise<Registry>;
  /** LAN managers to run (etcd allows several). */
  managers?: number;
  /** A registry of its own to watch and read from (etcd); without it the first LAN manager's is read. */
  observer?: () => Promise<Registry>;
  /** Base of the machines' port ranges (each protocol's range starts 1000 apart). */
  portBase: number;
}

/**
 * A second supervisor with machine `index`'s id and key, as a cloned disk would have them, at `address`, joining the LAN
 * through the LAN managers `managers` (default: all). It installs nothing of its own.
 */
export async function startClone(rig: Rig, index: number, address: string, managers?: number[]): Promise<Dae> {
  const original = rig.machines[index]!;
  const home = tempHome();
  for (const file of ['machine-id', 'machine-key']) copyFileSync(join(original.paths.root, file), join(home, file));
  const doors = (managers ?? rig.managers.map((_, i) => i)).map((i) => `127.0.0.1:${rig.managers[i]!.identity().ports.ws}`);
  const clone = new Dae({
    home,
    config: testConfig(33000, { lanmanageraddress: doors, lantoken: TOKEN, advertisedaddress: address, allowedscripts: ALLOWED }),
  });
  await clone.start();
  return clone;
}

export const KV = SAMPLE_KV;
/** An allowed directory holding only a symbolic link to a script elsewhere: following it must be refused. */
export const LINKS = mkdtempSync(join(tmpdir(), 'dae-links-'));
export const LINK_OUT = join(LINKS, 'outside.js');
symlinkSync(fixture('../../../src/index'), LINK_OUT);
export const ALLOWED = [dirname(SAMPLE_KV), dirname(fixture('echo')), LINKS];
export function removeLinks(): void {
  rmSync(LINKS, { recursive: true, force: true });
}

export async function startRig(options: RigOptions): Promise<Rig> {
  const managers: LanManager[] = [];
  const registries: Registry[] = [];
  const ports: Array<{ tcp: number; ws: number }> = [];
  const homes = ADDRESSES.map(() => tempHome());
  const machines: Array<Dae | null> = ADDRESSES.map(() => null);
  const wakers = new Set<() => void>();
  const wakeAll = (): void => {
    for (const wake of wakers) wake();
  };
  let unwatch: (() => void) | null = null;
  const observer = options.observer ? await options.observer() : null;
  if (observer) unwatch = observer.watch(wakeAll);
  const read = (): Registry => observer ?? registries[0]!;

  const startManager = async (index: number): Promise<void> => {
    const registry = await options.openRegistry();
    const manager = new LanManager({ registry, token: TOKEN, port: ports[index]?.tcp ?? 0, ws: ports[index]?.ws ?? 0, ...LAN_TEST_OPTIONS });
    await manager.start();
    const doors = manager.identity().ports;
    ports[index] = { tcp: doors.tcp as number, ws: doors.ws as number };
    managers[index] = manager;
    registries[index] = registry;
    if (index === 0 && observer === null) {
      unwatch?.();
      unwatch = registry.watch(wakeAll);
    }
    wakeAll();
  };
  for (let i = 0; i < (options.managers ?? 1); i++) await startManager(i);

  const rig: Rig = {
    managers,
    machines,
    registry: read,
    async startMachine(index) {
      const dae = new Dae({
        home: homes[index],
        config: testConfig(options.portBase + index * 100, {
          lanmanageraddress: ports.map((p) => `127.0.0.1:${p.ws}`),
          lantoken: TOKEN,
          advertisedaddress: ADDRESSES[index],
          allowedscripts: ALLOWED,
        }),
      });
      dae.on('daemon-status', wakeAll);
      await dae.start();
      machines[index] = dae;
      return dae;
    },
    async dropMachine(index) {
      const dae = machines[index]!;
      machines[index] = null;
      await dae.shutdown({ keepDaemons: true });
    },
    async killManager(index) {
      await managers[index]!.stop();
      await registries[index]!.close();
    },
    async restartManager(index) {
      await managers[index]!.stop();
      await registries[index]!.close();
      await startManager(index);
    },
    needs: async () => (await read().listNeeds()).map((entry) => entry.value),
    services: () => read().listServices(),
    until(what, check) {
      return new Promise((resolve, reject) => {
        let last: unknown = null;
        let busy = false;
        let again = false;
        const tick = setInterval(() => look(), FALLBACK_LOOK_MS);
        const done = (error: Error | null, value?: unknown): void => {
          clearTimeout(timer);
          clearInterval(tick);
          wakers.delete(look);
          if (error) reject(error);
          else resolve(value as never);
        };
        const timer = setTimeout(() => {
          void Promise.all([rig.needs(), rig.services()]).then(([needs, services]) => {
            done(new Error(`${what}: not within ${UNTIL_MS} ms (last check ${JSON.stringify(last)}); needs ${JSON.stringify(needs.map((n) => [n.instancename, n.status, n.claim?.machine, n.reason]))}; services ${JSON.stringify(services.map((s) => [s.instancename, s.machine.address, s.pid]))}`));
          }, (error: Error) => done(error));
        }, UNTIL_MS);
        function look(): void {
          if (busy) {
            again = true;
            return;
          }
          busy = true;
          check().then((value) => {
            busy = false;
            last = value;
            if (value !== null && value !== undefined && value !== false) return done(null, value);
            if (again) {
              again = false;
              look();
            }
          }, (error: Error) => {
            busy = false;
            last = error.message;
          });
        }
        wakers.add(look);
        look();
      });
    },
    async stop() {
      unwatch?.();
      for (const dae of machines) await dae?.stop();
      for (const manager of managers) if (manager.status === 'listening') await manager.stop();
      for (const registry of registries) await registry.close().catch(() => undefined);
      await observer?.close();
    },
  };
  return rig;
}
