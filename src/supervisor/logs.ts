// Per-daemon log files: opened in append mode for the child, rotated by size with copy-and-truncate.
import { openSync, closeSync, statSync, copyFileSync, truncateSync, renameSync, unlinkSync, existsSync, readSync } from 'node:fs';
import { join } from 'node:path';

export type Stream = 'out' | 'err';

export function logPath(dir: string, name: string, stream: Stream): string {
  return join(dir, `${name}.${stream}.log`);
}

/** Opens both files in append mode (0600): the child writes straight to them, with or without a supervisor. */
export function openLogs(dir: string, name: string): { out: number; err: number; close(): void } {
  const out = openSync(logPath(dir, name, 'out'), 'a', 0o600);
  const err = openSync(logPath(dir, name, 'err'), 'a', 0o600);
  return { out, err, close: () => [out, err].forEach((fd) => closeSync(fd)) };
}

/**
 * Rotates a file over `maxBytes`: `.1` … `.{files-1}` shift up, the file is copied to `.1` and truncated. Lines the
 * child writes between the copy and the truncation are lost: that window is the price of never reopening its fds.
 */
export function rotateIfLarge(path: string, maxBytes: number, files: number): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  if (files <= 1) {
    truncateSync(path, 0);
    return true;
  }
  const oldest = `${path}.${files - 1}`;
  if (existsSync(oldest)) unlinkSync(oldest);
  for (let i = files - 2; i >= 1; i--) {
    if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
  }
  copyFileSync(path, `${path}.1`);
  truncateSync(path, 0);
  return true;
}

/** The last `lines` lines of a file (reading at most the last `maxBytes`). */
export function tailFile(path: string, lines: number, maxBytes = 4 * 1024 * 1024): string[] {
  if (!existsSync(path)) return [];
  const size = statSync(path).size;
  const start = Math.max(0, size - maxBytes);
  const fd = openSync(path, 'r');
  try {
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
