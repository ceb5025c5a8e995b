// `dae logs -f`: print what is appended to a file, also across copy-and-truncate rotation.
import { watch, readSync, fstatSync, closeSync } from 'node:fs';
import { FLAGS, openPrivate } from '../supervisor/private.js';

/** Follows `path` from its current end; returns a function that stops following. */
export function follow(path: string, write: (chunk: string) => void): () => void {
  const fd = openPrivate(path, FLAGS.read);
  let position = fstatSync(fd).size;
  const drain = (): void => {
    const size = fstatSync(fd).size;
    if (size < position) position = 0; // truncated by rotation
    while (position < size) {
      const buffer = Buffer.alloc(Math.min(size - position, 1 << 20));
      const n = readSync(fd, buffer, 0, buffer.length, position);
      if (n === 0) break;
      position += n;
      write(buffer.subarray(0, n).toString('utf8'));
    }
  };
  const watcher = watch(path, drain);
  return () => {
    watcher.close();
    closeSync(fd);
  };
}
