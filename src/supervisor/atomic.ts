// Durable writes: temporary file, fsync, rename, fsync of the directory. One writer at a time per file.
import { open, rename, unlink } from 'node:fs/promises';
import { FLAGS } from './private.js';
import { dirname, basename, join } from 'node:path';

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

let writes = 0;

/** Replaces `path` with `text` so that a crash leaves either the old or the new content, never a mix. */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  // Unique per write: two writers (two supervisors in one process, say) never share a temporary file.
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${writes++}.tmp`);
  // A new file, never through a link (a leftover of the same name is removed at start).
  const handle = await open(temporary, FLAGS.create, mode);
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    // A full disk fails the write: nothing of it stays behind (a retry every second would pile them up).
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dirname(path));
}

/** Serialises writes of one file: each `write` waits for the previous one; only the latest content is written. */
export class SerialWriter {
  readonly #path: string;
  #running: Promise<void> | null = null;
  #next: string | null = null;
  #waiters: Array<{ resolve(): void; reject(error: unknown): void }> = [];

  constructor(path: string) {
    this.#path = path;
  }

  /** Resolves once `text` (or something newer) is durably on disk. */
  write(text: string): Promise<void> {
    this.#next = text;
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#running === null) this.#running = this.#loop();
    return done;
  }

  async #loop(): Promise<void> {
    while (this.#next !== null) {
      const text = this.#next;
      const waiters = this.#waiters;
      this.#next = null;
      this.#waiters = [];
      try {
        await writeFileAtomic(this.#path, text);
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#running = null;
  }
}
