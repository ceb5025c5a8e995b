// The home's files and folders: owned by this user, private, and never reached through a symbolic link.
import { chmodSync, closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DaeError } from '../errors.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_APPEND, O_TRUNC, O_EXCL, O_NOFOLLOW } = constants;

/** Open flags that never follow a symbolic link at the last component. */
export const FLAGS = {
  read: O_RDONLY | O_NOFOLLOW,
  append: O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
  replace: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
  create: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
} as const;

const uid = (): number => process.getuid?.() ?? 0;

function unsafe(path: string, why: string): DaeError {
  return new DaeError('ERR_UNSAFE_FILE', `${path} ${why}: refusing to use it (remove it, or choose another DAE_HOME)`);
}

function owned(path: string, stats: Stats): void {
  if (stats.uid !== uid()) throw unsafe(path, `is owned by uid ${stats.uid}, not by this user (uid ${uid()})`);
}

/** Opens a file of the home without following a symbolic link; a link there is ERR_UNSAFE_FILE. */
export function openPrivate(path: string, flags: number, mode = 0o600): number {
  try {
    return openSync(path, flags, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw unsafe(path, 'is a symbolic link');
    throw error;
  }
}

/**
 * Makes sure `path` is a directory of this user's (created 0700 when missing), not a link; a looser mode is tightened.
 * Returns true when it was tightened. A folder another user owns, or that others may replace, is ERR_UNSAFE_FILE.
 */
export function privateDir(path: string): boolean {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  const stats = lstatSync(path);
  if (stats.isSymbolicLink()) throw unsafe(path, 'is a symbolic link');
  if (!stats.isDirectory()) throw unsafe(path, 'is not a directory');
  owned(path, stats);
  if ((stats.mode & 0o077) === 0) return false;
  chmodSync(path, 0o700);
  return true;
}

/**
 * Checks every folder above `path`, as written and as resolved: each must be root's or this user's, and none may be
 * writable by others without the sticky bit; otherwise its owner could move the home away and put another (or a link
 * to another home of ours) in its place.
 */
export function checkAncestors(path: string): void {
  const chain = (from: string): string[] => {
    const dirs: string[] = [];
    for (let dir = dirname(from); ; dir = dirname(dir)) {
      dirs.push(dir);
      if (dirname(dir) === dir) return dirs;
    }
  };
  const absolute = resolve(path);
  let real: string;
  try {
    real = join(realpathSync(dirname(absolute)), basename(absolute));
  } catch {
    real = absolute;
  }
  for (const dir of new Set([...chain(absolute), ...chain(real)])) {
    let stats: Stats;
    try {
      stats = lstatSync(dir);
    } catch {
      continue; // not made yet: mkdir makes it ours
    }
    if (stats.uid !== 0 && stats.uid !== uid()) throw unsafe(path, `lies under ${dir}, owned by uid ${stats.uid}, who could replace it`);
    if (stats.isDirectory() && (stats.mode & 0o022) !== 0 && (stats.mode & 0o1000) === 0) throw unsafe(path, `lies under ${dir}, which others may write`);
  }
}

/** A private file's content and whether others could have read it; null when it does not exist. */
export function readPrivate(path: string): { text: string; exposed: boolean } | null {
  let fd: number;
  try {
    fd = openPrivate(path, FLAGS.read);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw unsafe(path, 'is not a regular file');
    owned(path, stats);
    const buffer = Buffer.alloc(stats.size);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return { text: buffer.subarray(0, read).toString('utf8'), exposed: (stats.mode & 0o077) !== 0 };
  } finally {
    closeSync(fd);
  }
}

/** Checks a config file the owner hands us: theirs, and not writable by anyone else (it names what may run here). */
export function checkOwnerOnly(path: string, stats: Stats): void {
  owned(path, stats);
  if ((stats.mode & 0o022) !== 0) throw unsafe(path, `may be written by others (mode ${(stats.mode & 0o777).toString(8)}; chmod go-w it)`);
}

/** Appends to a log of the home (0600), never through a link; a failure is swallowed (the home went away). */
export function appendPrivate(path: string, text: string): void {
  try {
    const fd = openPrivate(path, FLAGS.append);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch {
    // nothing better to do than keep running
  }
}

/**
 * True when the home's control socket is there, checked before anyone talks to it: a socket of this user's in a
 * folder of this user's, never a link (which could lead the CLI to another home); anything else is ERR_UNSAFE_FILE.
 */
export function socketPresent(path: string): boolean {
  checkAncestors(dirname(path));
  let dir: Stats;
  try {
    dir = lstatSync(dirname(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (dir.isSymbolicLink() || !dir.isDirectory()) throw unsafe(dirname(path), 'is not a directory');
  owned(dirname(path), dir);
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (stats.isSymbolicLink()) throw unsafe(path, 'is a symbolic link');
  if (!stats.isSocket()) throw unsafe(path, 'is not a socket');
  owned(path, stats);
  return true;
}
