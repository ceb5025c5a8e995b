// Per-daemon log files: opened in append mode for the child, rotated by size with copy-and-truncate.
import { closeSync, constants, copyFileSync, fstatSync, ftruncateSync, lstatSync, readSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FLAGS, openPrivate } from './private.js';

export type Stream = 'out' | 'err';

export function logPath(dir: string, name: string, stream: Stream): string {
  return join(dir, `${name}.${stream}.log`);
}

/** Opens both files in append mode (0600): the child writes straight to them, with or without a supervisor. */
export function openLogs(dir: string, name: string): { out: number; err: number; close(): void } {
  const out = openPrivate(logPath(dir, name, 'out'), FLAGS.append);
  let err: number;
  try {
    err = openPrivate(logPath(dir, name, 'err'), FLAGS.append);
  } catch (error) {
    closeSync(out);
    throw error;
  }
  return { out, err, close: () => [out, err].forEach((fd) => closeSync(fd)) };
}

/**
 * Rotates a file over `maxBytes`: `.1` … `.{files-1}` shift up, the file is copied to `.1` and truncated. Lines the
 * child writes between the copy and the truncation are lost: that window is the price of never reopening its fds.
 */
export function rotateIfLarge(path: string, maxBytes: number, files: number): boolean {
  let size: number;
  try {
    const stats = lstatSync(path);
    // Only a regular file is rotated: a link is never followed to truncate what it points at.
    if (!stats.isFile()) return false;
    size = stats.size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  const fd = openPrivate(path, FLAGS.append);
  let kept: unknown = null;
  try {
    if (files > 1) {
      removeIfPresent(`${path}.${files - 1}`);
      // rename() moves the entry itself, links included: nothing is followed.
      for (let i = files - 2; i >= 1; i--) renameIfPresent(`${path}.${i}`, `${path}.${i + 1}`);
      try {
        // The source is the file just opened without following links; the copy never replaces an existing entry.
        copyFileSync(`/proc/self/fd/${fd}`, `${path}.1`, constants.COPYFILE_EXCL);
      } catch (error) {
        // A full disk: no room for the copy. The log is truncated all the same, or the disk would never have room again.
        kept = error;
        removeIfPresent(`${path}.1`);
      }
    }
    ftruncateSync(fd, 0);
  } finally {
    closeSync(fd);
  }
  if (kept !== null) throw new Error(`no room to keep a copy (${(kept as Error).message}): truncated without one`);
  return true;
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** The last `lines` lines of a file (reading at most the last `maxBytes`). */
export function tailFile(path: string, lines: number, maxBytes = 4 * 1024 * 1024): string[] {
  let fd: number;
  try {
    fd = openPrivate(path, FLAGS.read);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buffer = Buffer.alloc(size - start);
    let read = 0;
    while (read < buffer.length) {
      const n = readSync(fd, buffer, read, buffer.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    const text = buffer.subarray(0, read).toString('utf8');
    const all = text.split('\n');
    if (all.at(-1) === '') all.pop();
    return lines <= 0 ? [] : all.slice(-lines);
  } finally {
    closeSync(fd);
  }
}
