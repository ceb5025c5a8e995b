// The supervisor's private home: state, logs, token, lock and the runtime directory with the control socket.
import { mkdirSync, chmodSync, readFileSync, writeFileSync, openSync, closeSync, unlinkSync, statSync, linkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DaeError } from '../errors.js';
import { isAlive } from './process.js';
import { Client } from '../client/client.js';
import { setTimeout as delay } from 'node:timers/promises';

export interface HomePaths {
  root: string;
  state: string;
  token: string;
  lock: string;
  log: string;
  logs: string;
  run: string;
  socket: string;
  /** The port the supervisor really listens on (for the CLI when `port` is 0). */
  portFile: string;
  /** This machine's id among the LAN's machine managers. */
  machineId: string;
  /** The secret that proves this machine's id to the LAN managers (0600). */
  machineKey: string;
}

/** The home: `DAE_HOME`, else `~/.dae`. */
export function homePaths(root = process.env.DAE_HOME || join(homedir(), '.dae')): HomePaths {
  const abs = resolve(root);
  return {
    root: abs,
    state: join(abs, 'state.json'),
    token: join(abs, 'token'),
    lock: join(abs, 'dae.lock'),
    log: join(abs, 'dae.log'),
    logs: join(abs, 'logs'),
    run: join(abs, 'run'),
    socket: join(abs, 'run', 'dae.sock'),
    portFile: join(abs, 'run', 'dae.port'),
    machineId: join(abs, 'machine-id'),
    machineKey: join(abs, 'machine-key'),
  };
}

/** Creates the home and its folders, private (0700). */
export function prepareHome(paths: HomePaths): void {
  for (const dir of [paths.root, paths.logs, paths.run]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
}

// Reads a private file, creating it (0600) with `make()` when missing or shorter than `minLength`.
function loadOrCreate(path: string, minLength: number, make: () => string): string {
  try {
    const value = readFileSync(path, 'utf8').trim();
    if (value.length >= minLength) return value;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return value;
}

/** Reads the token, creating a fresh one (0600) on first start. */
export function loadToken(paths: HomePaths): string {
  return loadOrCreate(paths.token, 32, () => randomBytes(32).toString('hex'));
}

/** This machine's id for the LAN and the key that proves it, made once and kept in the home. */
export function loadMachineIdentity(paths: HomePaths): { id: string; key: string } {
  return {
    id: loadOrCreate(paths.machineId, 8, () => `m-${randomBytes(6).toString('hex')}`),
    key: loadOrCreate(paths.machineKey, 32, () => randomBytes(32).toString('hex')),
  };
}

function readPid(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const BREAK_STALE_MS = 5000;
// A starting supervisor holds the lock this long before its socket must answer.
const START_GRACE_MS = 10_000;
const heldHere = new Set<string>();

/** Who answers on the home's control socket: the supervisor's pid and port, or null when nobody does. */
export async function supervisorOn(paths: HomePaths): Promise<{ pid: number; port: number } | null> {
  let client: Client | undefined;
  try {
    client = await Client.connect({ path: paths.socket, timeout: 2000, connectTimeout: 2000 });
    const who = (await client.call('whois')) as { pid: number; port: number };
    return { pid: who.pid, port: who.port };
  } catch {
    return null;
  } finally {
    client?.destroy();
  }
}

// A lock is held when its pid lives and is not a stranger that inherited the pid: our own pid counts only when this
// process took the lock (a container restarts its supervisor as pid 1 every time), and an old lock must answer.
async function isHeld(paths: HomePaths, holder: number): Promise<boolean> {
  if (!isAlive(holder)) return false;
  if (holder === process.pid) return heldHere.has(paths.lock);
  let age = 0;
  try {
    age = Date.now() - statSync(paths.lock).mtimeMs;
  } catch {
    return false;
  }
  return age < START_GRACE_MS || (await supervisorOn(paths))?.pid === holder;
}

/**
 * Takes the home's lock (a file holding our pid, created exclusively). A stale lock is broken under a second
 * exclusive file, so two starts at once never both win. Returns the holder's pid when someone else holds it.
 */
export async function acquireLock(paths: HomePaths): Promise<{ ok: true } | { ok: false; pid: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // link() creates the lock with its content in one step: nobody ever reads a lock without a pid.
    const mine = `${paths.lock}.${process.pid}`;
    writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 });
    try {
      linkSync(mine, paths.lock);
      heldHere.add(paths.lock);
      return { ok: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(mine);
    }
    const holder = readPid(paths.lock);
    if (holder !== null && (await isHeld(paths, holder))) return { ok: false, pid: holder };
    const breaker = `${paths.lock}.break`;
    try {
      closeSync(openSync(breaker, 'wx', 0o600));
    } catch {
      // Someone else is breaking it; a breaker that died long ago is cleared.
      try {
        if (Date.now() - statSync(breaker).mtimeMs > BREAK_STALE_MS) unlinkSync(breaker);
      } catch {
        // gone already
      }
      await delay(20);
      continue;
    }
    try {
      // Re-read under the breaker: only a lock still held by the same dead pid is removed.
      const again = readPid(paths.lock);
      if (again === holder) unlinkSync(paths.lock);
    } catch {
      // removed meanwhile
    } finally {
      unlinkSync(breaker);
    }
  }
  throw new DaeError('ERR_LOCKED', `could not take the lock ${paths.lock}`);
}

/** Releases the lock if it is ours. */
export function releaseLock(paths: HomePaths): void {
  heldHere.delete(paths.lock);
  if (readPid(paths.lock) === process.pid) unlinkSync(paths.lock);
}
