// A dae daemon's first run under a supervisor that offers to hold its sockets (`DAE_SOCKETS=offer`, an IPC channel):
// it hands over the listening sockets it bound, so the supervisor holds them from now on.
import type { Server } from 'node:net';

/** The `dae` field of a hand-over message on the IPC channel. */
export const HAND_OVER = 'sockets';

/** One listening socket (with its handle), or `done` when all are sent. */
export type HandOverMessage = { dae: typeof HAND_OVER; name?: string; done?: boolean } | null;

/** Sends each server's listening handle to the supervisor, then `done`; nothing unless one offered (and the offer is
 * taken out of `env`, so the daemon's children do not see it). */
export async function handOver(servers: ReadonlyArray<readonly [string, Server]>, env: NodeJS.ProcessEnv): Promise<void> {
  const offered = env.DAE_SOCKETS === 'offer';
  delete env.DAE_SOCKETS;
  const send = process.send?.bind(process);
  if (!offered || send === undefined || !process.connected) return;
  const post = (message: HandOverMessage, handle?: unknown): Promise<void> => new Promise((resolve) => {
    // A closed channel (the supervisor went) is no failure: the daemon serves on its own sockets as before.
    try {
      send(message, handle as never, {}, () => resolve());
    } catch {
      resolve();
    }
  });
  for (const [name, server] of servers) {
    const handle = (server as unknown as { _handle: unknown })._handle;
    if (handle !== null && handle !== undefined) await post({ dae: HAND_OVER, name }, handle);
  }
  await post({ dae: HAND_OVER, done: true });
}
