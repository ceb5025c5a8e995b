// Reaching the supervisor, and other daemons by name through it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DaeError } from '../errors.js';
import { readDaeEnv } from '../protocol/env.js';
import { Client, type ClientOptions } from './client.js';

/** Where a daemon can be reached, as the supervisor's `info` describes it. */
export interface DaemonAddress {
  ports?: { tcp?: number };
  socket?: string | null;
}

/** Connects to the supervisor that runs this process (`DAE_RUNTIME_DIR/dae.sock`, else `DAE_PORT`). */
export function connectWithDae(options: Omit<ClientOptions, 'host' | 'port' | 'path'> = {}, env: NodeJS.ProcessEnv = process.env): Promise<Client> {
  const dae = readDaeEnv(env);
  const socket = dae.runtimeDir === undefined ? undefined : join(dae.runtimeDir, 'dae.sock');
  if (socket !== undefined && existsSync(socket)) return Client.connect({ ...options, path: socket });
  if (dae.supervisorPort === undefined) {
    return Promise.reject(new DaeError('ERR_NOT_SUPERVISED', 'no supervisor is known: DAE_PORT is not set'));
  }
  return Client.connect({ ...options, port: dae.supervisorPort });
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
  if (typeof address?.socket === 'string' && existsSync(address.socket)) return Client.connect({ ...options, path: address.socket });
  const port = address?.ports?.tcp;
  if (typeof port !== 'number') throw new DaeError('ERR_CONNECTION_FAILED', `the supervisor knows no port for ${name}`);
  return Client.connect({ ...options, port });
}
