// The supervisor's private home: state, logs, token, lock and the runtime directory with the control socket.
import { closeSync, fchmodSync, linkSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DaeError } from '../errors.js';
import { isAlive, isStopped } from './process.js';
import { checkAncestors, FLAGS, openPrivate, privateDir, readPrivate } from './private.js';
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

/**
 * Creates the home and its folders, private (0700), or checks them: each must be this user's and no link; looser
 * modes are tightened (`log` says so).
 */
export function prepareHome(paths: HomePaths, log: (line: string) => void = () => undefined): void {
  checkAncestors(paths.root);
  for (const dir of [paths.root, paths.logs, paths.run]) if (privateDir(dir)) log(`${dir} was open to others: mode set to 0700`);
}

/**
 * Removes what a crash left behind: temporary files of atomic writes, and socket files of daemons whose process is gone.
 * Only the lock's holder writes here, so only it may.
 */
export function removeLeftovers(paths: HomePaths): void {
  for (const name of readdirSync(paths.root)) {
    if (/^\..+\.tmp$/.test(name)) unlinkSync(join(paths.root, name));
  }
  for (const name of readdirSync(paths.run)) {
    const pid = /^daemon\.(\d+)(?:-\d+)?\.sock$/.exec(name)?.[1];
    if (pid !== undefined && !isAlive(Number(pid))) unlinkSync(join(paths.run, name));
  }
}

/** Writes a private file (0600) of the home, never through a link. */
export function writePrivate(path: string, text: string): void {
  const fd = openPrivate(path, FLAGS.replace);
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

// Reads a secret file of the home, creating it (0600) with `make()` when missing or shorter than `minLength`. One
// that others could have read is replaced: it may be known to them.
function loadOrCreate(path: string, minLength: number, make: () => string, log: (line: string) => void): string {
  const found = readPrivate(path);
  const value = found?.text.trim() ?? '';
  if (found !== null && found.exposed && value.length > 0) log(`${path} could be read by others: replaced with a new one`);
  else if (value.length >= minLength) return value;
  const fresh = make();
  // A new file, never an old one rewritten in place: someone may hold the old one open.
  try {
    unlinkSync(path);
  } catch {
    // none yet
  }
  const fd = openPrivate(path, FLAGS.create);
  try {
    writeSync(fd, `${fresh}\n`);
  } finally {
    closeSync(fd);
  }
  return fresh;
}

/** Reads the token, creating a fresh one (0600) on first start or when others could have read the old one. */
export function loadToken(paths: HomePaths, log: (line: string) => void = () => undefined): string {
  return loadOrCreate(paths.token, 32, () => randomBytes(32).toString('hex'), log);
}

/** This machine's id for the LAN and the key that proves it, made once and kept in the home. A key others could have
 * read is replaced together with the id (the LAN keeps an id for the key it first saw): the machine joins anew. */
export function loadMachineIdentity(paths: HomePaths, log: (line: string) => void = () => undefined): { id: string; key: string } {
  const exposed = readPrivate(paths.machineKey)?.exposed === true;
  if (exposed) {
    try {
      unlinkSync(paths.machineId);
    } catch {
      // none yet
    }
  }
  return {
    id: loadOrCreate(paths.machineId, 8, () => `m-${randomBytes(6).toString('hex')}`, log),
    key: loadOrCreate(paths.machineKey, 32, () => randomBytes(32).toString('hex'), log),
  };
}

function readPid(path: string): number | null {
  try {
    const pid = Number(readPrivate(path)?.text.trim());
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
  // A frozen supervisor cannot answer, but it holds the home: its lock is never broken under it.
  if (isStopped(holder)) return true;
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
    try {
      unlinkSync(mine);
    } catch {
      // none left by an earlier life of this pid
    }
    const fd = openPrivate(mine, FLAGS.create);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
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
      closeSync(openPrivate(breaker, FLAGS.create));
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
