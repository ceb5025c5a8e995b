// A log file the log process alone writes: appends in order, one write at a time, and rotates by renaming before a
// write would take it over `maxBytes` (`name.log` → `.1` → … → `.{files-1}`, the oldest removed), so no line is lost or
// split by rotation and the files never hold more than `maxBytes × files`. Opened without following links, 0600.
import { closeSync, constants, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_WRONLY } = constants;
// Never through a link; a fresh file after a rotation never replaces an entry someone put there meanwhile.
// Non-blocking at open: a named pipe put where a log belongs fails at once instead of waiting for a reader (and is
// refused as not a regular file); a regular file's writes are not affected by the flag.
const APPEND = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK;
const CREATE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND;

export interface RotationLimits {
  /** The most bytes one file holds (a single record longer than this still goes whole into a fresh file). */
  maxBytes: number;
  /** Files kept, the one being written included. */
  files: number;
}

/** Whether a file of `size` bytes is rotated before `bytes` more are written to it. Pure. */
export function mustRotate(size: number, bytes: number, maxBytes: number): boolean {
  return size > 0 && size + bytes > maxBytes;
}

/** A rotation's steps, in order: the oldest file removed, then each renamed one up (`.1` → `.2`, …, the log → `.1`). Pure. */
export function rotationSteps(path: string, files: number): { remove: string; renames: Array<[string, string]> } {
  if (files <= 1) return { remove: path, renames: [] };
  const renames: Array<[string, string]> = [];
  for (let i = files - 2; i >= 1; i--) renames.push([`${path}.${i}`, `${path}.${i + 1}`]);
  renames.push([path, `${path}.1`]);
  return { remove: `${path}.${files - 1}`, renames };
}

export class RotatingFile {
  readonly path: string;
  readonly #limits: RotationLimits;
  #handle: FileHandle | null = null;
  #size = 0;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string, limits: RotationLimits) {
    this.path = path;
    this.#limits = limits;
  }

  /** Bytes in the file being written. */
  get size(): number {
    return this.#size;
  }

  /** Opens (or creates) the file now: a link where it belongs is refused here rather than at the first line. */
  open(): Promise<void> {
    const next = this.#queue.then(async () => void (await this.#open()));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Appends `text` (whole lines); resolves once it is written. Writes happen in call order. */
  append(text: string | Buffer): Promise<void> {
    const next = this.#queue.then(() => this.#write(typeof text === 'string' ? Buffer.from(text, 'utf8') : text));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Closes the file (after the writes under way). */
  async close(): Promise<void> {
    await this.#queue;
    await this.#handle?.close();
    this.#handle = null;
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle === null) {
      const handle = await open(this.path, APPEND, 0o600);
      const stats = await handle.stat();
      if (!stats.isFile()) {
        await handle.close();
        throw Object.assign(new Error(`${this.path} is not a regular file`), { code: 'ENOTREG' });
      }
      this.#handle = handle;
      this.#size = stats.size;
    }
    return this.#handle;
  }

  async #write(all: Buffer): Promise<void> {
    await this.#open();
    let rest = all;
    while (rest.length > 0) {
      const room = this.#limits.maxBytes - this.#size;
      if (rest.length <= room) return this.#put(rest);
      // The whole lines that fit go here, the rest into the next file: no file passes maxBytes (a file with nothing in it
      // yet takes one line whatever its length).
      let end = room > 0 ? rest.lastIndexOf(0x0a, room - 1) + 1 : 0;
      if (end === 0 && this.#size === 0) end = rest.indexOf(0x0a) + 1 || rest.length;
      if (end > 0) {
        await this.#put(rest.subarray(0, end));
        rest = rest.subarray(end);
      }
      if (rest.length > 0) await this.#rotate();
    }
  }

  // One piece of whole lines, into the current file.
  async #put(bytes: Buffer): Promise<void> {
    const handle = this.#handle!;
    let written = 0;
    try {
      while (written < bytes.length) written += (await handle.write(bytes, written)).bytesWritten;
    } catch (error) {
      // A full disk mid-write: what part of it was written goes, so the next line does not continue a broken one.
      if (written > 0) await handle.truncate(this.#size).catch(() => undefined);
      throw error;
    }
    this.#size += bytes.length;
  }

  async #rotate(): Promise<void> {
    await this.#handle!.close();
    this.#handle = null;
    const { remove, renames } = rotationSteps(this.path, this.#limits.files);
    await rm(remove, { force: true });
    // rename() moves the entry itself, links included: nothing is followed.
    for (const [from, to] of renames) await rename(from, to).catch(ignoreMissing);
    this.#handle = await open(this.path, CREATE, 0o600);
    this.#size = 0;
  }
}

/** The same, written synchronously a line at a time: the supervisor's own log (its last words before a crash count). */
export function appendRotatingSync(path: string, text: string, limits: RotationLimits): void {
  const bytes = Buffer.from(text, 'utf8');
  let fd = openSync(path, APPEND, 0o600);
  try {
    if (mustRotate(fstatSync(fd).size, bytes.length, limits.maxBytes)) {
      closeSync(fd);
      fd = -1;
      const { remove, renames } = rotationSteps(path, limits.files);
      rmSync(remove, { force: true });
      for (const [from, to] of renames) {
        try {
          renameSync(from, to);
        } catch (error) {
          ignoreMissing(error as NodeJS.ErrnoException);
        }
      }
      fd = openSync(path, CREATE, 0o600);
    }
    writeSync(fd, bytes);
  } finally {
    if (fd !== -1) closeSync(fd);
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
