// Reading a log back: its last lines across the rotated files (newest file first, each read from its end), and
// following it as it grows, across rotation. Stored lines are returned as stored (`lines.ts` reads them).
import { constants, watch } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseRecord } from './lines.js';

const CHUNK = 64 * 1024;

export interface ReadOptions {
  /** At most this many lines, the newest. */
  lines: number;
  /** Only lines stamped at or after this time (ms since the epoch). */
  since?: number;
}

/** What a caller of the supervisor's `logs` may ask (50 lines by default). */
export type LogsOptions = Partial<ReadOptions>;

// A file's lines from its end back to its start. Text after the last newline is a line still being written (or one a
// full disk cut, about to be taken back): not a line yet.
async function* backwards(handle: FileHandle): AsyncGenerator<string> {
  let position = (await handle.stat()).size;
  let carry = Buffer.alloc(0);
  // The newline that ends the file ends its last line: no empty line after it.
  let atEnd = true;
  while (position > 0) {
    const length = Math.min(CHUNK, position);
    position -= length;
    const chunk = Buffer.alloc(length + carry.length);
    await handle.read(chunk, 0, length, position);
    carry.copy(chunk, length);
    let end = chunk.length;
    // Whole lines only: the part before the first newline waits for the chunk before it.
    for (let nl = chunk.lastIndexOf(0x0a, end - 1); nl !== -1; nl = chunk.lastIndexOf(0x0a, end - 1)) {
      if (!atEnd) yield chunk.subarray(nl + 1, end).toString('utf8');
      atEnd = false;
      end = nl;
      if (end === 0) break;
    }
    carry = chunk.subarray(0, end);
  }
  if (carry.length > 0 && !atEnd) yield carry.toString('utf8');
}

// The log's files, newest first, all opened before any is read: a rotation meanwhile moves names, not open files. One
// rotation between two opens shows the same file under the next name: it is read once.
async function openAll(path: string, files: number): Promise<FileHandle[]> {
  const handles: FileHandle[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < files; i++) {
    // Never through a link, and never waiting on a named pipe put where a log belongs (it is no log: left out).
    const handle = await open(i === 0 ? path : `${path}.${i}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
    // Missing: at the end of the log, or just being renamed by a rotation (the next name holds it then).
    if (handle === null) continue;
    const stats = await handle.stat();
    const ino = stats.ino;
    if (seen.has(ino) || !stats.isFile()) await handle.close();
    else handles.push(handle);
    seen.add(ino);
  }
  return handles;
}

/** The newest lines of a log kept in `files` files (`path`, `path.1`, …), oldest first. */
export async function readLog(path: string, files: number, options: ReadOptions): Promise<string[]> {
  const found: string[] = [];
  if (options.lines <= 0) return found;
  const handles = await openAll(path, files);
  try {
    for (const handle of handles) {
      for await (const line of backwards(handle)) {
        if (options.since !== undefined) {
          const time = parseRecord(line)?.time;
          // A line without a stamp (a crash trace, or written before stamps) is left out; an older one ends the read.
          if (time === undefined) continue;
          if (time < options.since) return found.reverse();
        }
        found.push(line);
        if (found.length >= options.lines) return found.reverse();
      }
    }
    return found.reverse();
  } finally {
    await Promise.all(handles.map((handle) => handle.close()));
  }
}

/** A log being followed: `ready` once lines appended from then on are sure to be seen. */
export interface Following {
  ready: Promise<void>;
  stop(): void;
}

/**
 * Calls `write` with each line appended to `path` from now on, also across rotation (the file renamed away is read to
 * its end first, then the new one from its start).
 */
export function followLog(path: string, write: (line: string) => void): Following {
  let handle: FileHandle | null = null;
  let inode = -1;
  let position = 0;
  let carry = '';
  let decoder = new StringDecoder('utf8');
  let busy: Promise<void> = Promise.resolve();
  let stopped = false;

  const buffer = Buffer.alloc(CHUNK);
  const drain = async (): Promise<void> => {
    if (handle === null) return;
    // Cut back (a write a full disk refused is taken back): what was read past the new end is gone.
    const { size } = await handle.stat();
    if (size < position) {
      position = size;
      carry = '';
    }
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      // A character split between two reads is decoded whole.
      const text = carry + decoder.write(buffer.subarray(0, bytesRead));
      const parts = text.split('\n');
      carry = parts.pop()!;
      for (const line of parts) write(line);
    }
  };
  const step = async (fromEnd: boolean): Promise<void> => {
    if (stopped) return;
    const now = await stat(path).catch(() => null);
    if (now !== null && now.ino !== inode) {
      // Rotated (or first seen): what is left of the old file first, then the new one from its start.
      await drain();
      await handle?.close();
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
      // The file opened, whatever a rotation did since the stat.
      const opened = handle === null ? null : await handle.stat();
      inode = opened?.ino ?? now.ino;
      position = fromEnd && opened !== null ? opened.size : 0;
      carry = '';
      decoder = new StringDecoder('utf8');
    }
    await drain();
  };
  const next = (fromEnd = false): void => {
    busy = busy.then(() => step(fromEnd)).catch(() => undefined);
  };
  next(true);
  const ready = busy;
  const name = basename(path);
  // The directory, not the file: a rotation renames the file away.
  const watcher = watch(dirname(path), (_event, file) => {
    if (file === null || file === name || file.startsWith(`${name}.`)) next();
  });
  return {
    ready,
    stop: () => {
      stopped = true;
      watcher.close();
      void busy.then(() => handle?.close());
    },
  };
}
