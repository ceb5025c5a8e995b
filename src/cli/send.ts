// `dae send <name|address> <command> [json-args]`: one call to any daemon, printed as JSON.
import { Client } from '../client/client.js';
import { DaeError } from '../errors.js';
import { callSupervisor } from './control.js';

/** Parses a target: `host:port`, `:port`, a bare port, or a unix socket path. */
export function parseTarget(target: string): { host?: string; port?: number; path?: string } {
  if (target.includes('/')) return { path: target };
  const match = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(target);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new DaeError('ERR_BAD_OPTION', `target must be host:port, a port or a socket path, got ${JSON.stringify(target)}`);
  const host = match[1] ? match[1].replace(/^\[|\]$/g, '') : '127.0.0.1';
  return { host, port };
}

/** Parses the command's arguments as the wire does: an array is the list, any other JSON value is one argument. */
export function parseArgs(json: string | undefined): unknown[] {
  if (json === undefined) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new DaeError('ERR_BAD_ARGS', `arguments must be JSON, got ${JSON.stringify(json)}`);
  }
  return Array.isArray(value) ? value : [value];
}

// Daemon names never hold ':' or '/', and are not all digits: anything else is an address.
const NOT_A_NAME = /[:/]|^\d+$/;

/** Where to send: an address as given, or an installed daemon's door looked up by name. */
async function resolveTarget(target: string): Promise<{ host?: string; port?: number; path?: string }> {
  if (NOT_A_NAME.test(target)) return parseTarget(target);
  const info = (await callSupervisor('info', target)) as { socket: string | null; ports: { tcp?: number }; status: string };
  if (info.status !== 'online' && info.status !== 'starting') throw new DaeError('ERR_NOT_RUNNING', `${target} is ${info.status}: nothing answers for it (dae start ${target})`);
  if (info.socket) return { path: info.socket };
  if (info.ports.tcp === undefined) throw new DaeError('ERR_NOT_RUNNING', `${target} has no tcp port`);
  return { port: info.ports.tcp };
}

export async function send(target: string, command: string, json: string | undefined, options: { timeout: number; token?: string }): Promise<unknown> {
  const args = parseArgs(json);
  const where = await resolveTarget(target);
  const client = await Client.connect({ ...where, timeout: options.timeout });
  try {
    // A unix socket is the owner's and starts authenticated; over TCP a protected command needs the token first.
    if (options.token !== undefined && where.path === undefined) await client.call('auth', options.token);
    return await client.request(command, args);
  } finally {
    client.destroy();
  }
}
