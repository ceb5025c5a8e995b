// Reaching the supervisor, and other daemons by name through it.
import { existsSync, lstatSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DaeError } from '../errors.js';
import { readDaeEnv } from '../protocol/env.js';
import { Client, type ClientOptions } from './client.js';

/** Where a daemon can be reached, as the supervisor's `info` describes it. */
export interface DaemonAddress {
  ports?: { tcp?: number };
  socket?: string | null;
  status?: string;
}

// The control socket of this user's home (`DAE_HOME`, else ~/.dae) when it is a socket of this user's, not a link.
function homeSocket(env: NodeJS.ProcessEnv): string | undefined {
  const path = join(env.DAE_HOME || join(homedir(), '.dae'), 'run', 'dae.sock');
  try {
    const stats = lstatSync(path);
    return stats.isSocket() && stats.uid === process.getuid?.() ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Connects to the supervisor: the one that runs this process (`DAE_RUNTIME_DIR/dae.sock`, else `DAE_PORT`), or, from an
 * ordinary script, the one of this user's home (`DAE_HOME`, else ~/.dae).
 */
export function connectWithDae(options: Omit<ClientOptions, 'host' | 'port' | 'path'> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Client> {
  const dae = readDaeEnv(env);
  const socket = dae.runtimeDir === undefined ? undefined : join(dae.runtimeDir, 'dae.sock');
  if (socket !== undefined && existsSync(socket)) return Client.connect({ ...options, path: socket });
  if (dae.supervisorPort !== undefined) return Client.connect({ ...options, port: dae.supervisorPort });
  const home = homeSocket(env);
  if (home !== undefined) return Client.connect({ ...options, path: home });
  return Promise.reject(new DaeError('ERR_NOT_SUPERVISED', `no supervisor is known: not supervised (no DAE_PORT), and none runs on ${env.DAE_HOME || '~/.dae'} (dae start)`));
}

/** Connects to another daemon by name, asking the supervisor where it is. */
export async function connectWith(name: string, options: Omit<ClientOptions, 'host' | 'port' | 'path'> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Client> {
  const dae = await connectWithDae(options, env);
  let address: DaemonAddress;
  try {
    address = (await dae.call('info', name)) as DaemonAddress;
  } finally {
    await dae.close();
  }
  if (address?.status !== undefined && address.status !== 'online' && address.status !== 'starting') {
    throw new DaeError('ERR_NOT_RUNNING', `${name} is ${address.status}: nothing answers for it`);
  }
  if (typeof address?.socket === 'string' && existsSync(address.socket)) return Client.connect({ ...options, path: address.socket });
  const port = address?.ports?.tcp;
  if (typeof port !== 'number') throw new DaeError('ERR_CONNECTION_FAILED', `the supervisor knows no port for ${name}`);
  return Client.connect({ ...options, port });
}
