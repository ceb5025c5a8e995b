// Unix socket files: a stale file left by a dead process is replaced; a file a live process serves is never taken.
import { connect } from 'node:net';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { DaeError } from '../errors.js';

// sun_path is 108 bytes on Linux, including the terminating NUL.
export const MAX_SOCKET_PATH = 107;

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Checks the path and clears a stale socket file; throws `ERR_BAD_OPTION` when the path cannot be used. */
export async function prepareSocketPath(path: string): Promise<void> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new DaeError('ERR_BAD_OPTION', `unix socket path is ${Buffer.byteLength(path)} bytes, over the limit of ${MAX_SOCKET_PATH}: ${path}`);
  }
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (!stats.isSocket()) throw new DaeError('ERR_BAD_OPTION', `${path} exists and is not a socket`);
  if (await answers(path)) throw new DaeError('ERR_BAD_OPTION', `${path} is served by a live process`);
  await unlink(path).catch(() => undefined);
}

/** Makes a bound socket file private. */
export function makePrivate(path: string): Promise<void> {
  return chmod(path, 0o600);
}
