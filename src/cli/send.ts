// `dae send <target> <command> [json-args]`: one call to any daemon, printed as JSON.
import { Client } from '../client/client.js';
import { DaeError } from '../errors.js';

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

export async function send(target: string, command: string, json: string | undefined, options: { timeout: number }): Promise<unknown> {
  const args = parseArgs(json);
  const client = await Client.connect({ ...parseTarget(target), timeout: options.timeout });
  try {
    return await client.request(command, args);
  } finally {
    client.destroy();
  }
}
