// Reaching the supervisor from the CLI: its control socket in the home (the file permission is the authentication).
import { Client } from '../client/client.js';
import { DaeError } from '../errors.js';
import { homePaths, supervisorOn, type HomePaths } from '../supervisor/home.js';
import { socketPresent } from '../supervisor/private.js';

export function home(): HomePaths {
  return homePaths();
}

/** Connects to the running supervisor, or rejects with ERR_NOT_RUNNING. */
export async function connectSupervisor(paths = home(), timeout = 30_000): Promise<Client> {
  if (!socketPresent(paths.socket)) throw new DaeError('ERR_NOT_RUNNING', `no supervisor runs on ${paths.root} (start one with: dae start)`);
  try {
    return await Client.connect({ path: paths.socket, timeout });
  } catch (error) {
    throw new DaeError('ERR_NOT_RUNNING', `no supervisor answers on ${paths.socket} (start one with: dae start)`, { cause: error });
  }
}

/** The running supervisor's pid and port, or null when none answers on the home's socket. */
export function supervisorRuns(paths = home()): Promise<{ pid: number; port: number } | null> {
  return socketPresent(paths.socket) ? supervisorOn(paths) : Promise.resolve(null);
}

/** One call to the supervisor. */
export async function callSupervisor(command: string, ...args: unknown[]): Promise<unknown> {
  const client = await connectSupervisor();
  try {
    return await client.call(command, ...args);
  } finally {
    client.destroy();
  }
}
