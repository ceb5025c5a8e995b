// A log file the log process alone writes: appends in order, one write at a time, and rotates by renaming before a
// write would take it over `maxBytes` (`name.log` → `.1` → … → `.{files-1}`, the oldest removed), so no line is lost or
// split by rotation and the files never hold more than `maxBytes × files`. Opened without following links, 0600.
import { constants } from 'node:fs';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';

const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY } = constants;
// Never through a link; a fresh file after a rotation never replaces an entry someone put there meanwhile.
const APPEND = O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW;
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

  /** Appends `text` (whole lines); resolves once it is written. Writes happen in call order. */
  append(text: string): Promise<void> {
    const next = this.#queue.then(() => this.#write(Buffer.from(text, 'utf8')));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Closes the file (after the writes under way). */
  async close(): Promise<void> {
    await this.#queue;
    await this.#handle?.close();
    this.#handle = null;
  }

  async #write(bytes: Buffer): Promise<void> {
    if (this.#handle === null) {
      this.#handle = await open(this.path, APPEND, 0o600);
      this.#size = (await this.#handle.stat()).size;
    }
    if (mustRotate(this.#size, bytes.length, this.#limits.maxBytes)) await this.#rotate();
    let written = 0;
    while (written < bytes.length) written += (await this.#handle!.write(bytes, written)).bytesWritten;
    this.#size += bytes.length;
  }

  async #rotate(): Promise<void> {
    await this.#handle!.close();
    this.#handle = null;
    const { files } = this.#limits;
    if (files <= 1) await rm(this.path, { force: true });
    else {
      await rm(`${this.path}.${files - 1}`, { force: true });
      // rename() moves the entry itself, links included: nothing is followed.
      for (let i = files - 2; i >= 1; i--) await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(ignoreMissing);
      await rename(this.path, `${this.path}.1`);
    }
    this.#handle = await open(this.path, CREATE, 0o600);
    this.#size = 0;
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

/** Bytes a log takes on disk, every rotated file included. */
export async function diskUse(path: string, files: number): Promise<number> {
  let total = 0;
  for (const name of [path, ...Array.from({ length: files }, (_, i) => `${path}.${i + 1}`)]) {
    total += await stat(name).then((stats) => stats.size, () => 0);
  }
  return total;
}
