// Reaching the LAN manager from the CLI: its WebSocket door with the cluster token (`--lan`), else the control socket
// in this home's LAN home (the file permission is the authentication).
import { Client } from '../client/client.js';
import type { Identity } from '../daemon/daemon.js';
import { DaeError } from '../errors.js';
import { lanHomePaths } from '../lan/home.js';
import type { HomePaths } from '../supervisor/home.js';
import { home } from './control.js';
import { socketPresent } from '../supervisor/private.js';
import { parseTarget } from './send.js';

const CALL_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 2000;
const HOW = 'start one with: dae lan start, or reach one with --lan <host:port>';

/** Where the LAN manager is asked: `lan` is `host:port` of its WebSocket door; without it, the local LAN home. */
export interface LanReach {
  lan?: string;
  /** The cluster token for `lan` (default: env `DAE_LAN_TOKEN`). */
  token?: string;
}

export interface LanRunning {
  pid: number;
  port: number;
  ws: number;
}

/** The LAN manager's home: `lan/` in the dae home. */
export function lanPaths(): HomePaths {
  return lanHomePaths(home().root);
}

async function connectLocal(paths: HomePaths, timeout: number): Promise<Client> {
  if (!socketPresent(paths.socket)) throw new DaeError('ERR_NOT_RUNNING', `no LAN manager runs on ${paths.root} (${HOW})`);
  try {
    return await Client.connect({ path: paths.socket, timeout, connectTimeout: timeout });
  } catch (error) {
    throw new DaeError('ERR_NOT_RUNNING', `no LAN manager answers on ${paths.socket} (${HOW})`, { cause: error });
  }
}

function lanUrl(address: string): string {
  if (/^wss?:\/\//.test(address)) return address;
  const target = parseTarget(address);
  if (target.path !== undefined) throw new DaeError('ERR_BAD_OPTION', `--lan must be host:port of the LAN manager's WebSocket door, got ${JSON.stringify(address)}`);
  const host = target.host!.includes(':') ? `[${target.host}]` : target.host;
  return `ws://${host}:${target.port}`;
}

async function connectRemote(address: string, token: string | undefined): Promise<Client> {
  const url = lanUrl(address);
  let client: Client;
  try {
    client = await Client.connect({ url, timeout: CALL_TIMEOUT_MS });
  } catch (error) {
    throw new DaeError('ERR_NOT_RUNNING', `no LAN manager answers: ${(error as Error).message} (${HOW})`, { cause: error });
  }
  if (token === undefined) return client;
  try {
    await client.call('auth', token);
  } catch (error) {
    client.destroy();
    throw error;
  }
  return client;
}

/** One call to the LAN manager. */
export async function callLan(reach: LanReach, command: string, ...args: unknown[]): Promise<unknown> {
  const token = reach.token ?? (process.env.DAE_LAN_TOKEN || undefined);
  const client = reach.lan === undefined ? await connectLocal(lanPaths(), CALL_TIMEOUT_MS) : await connectRemote(reach.lan, token);
  try {
    return await client.call(command, ...args);
  } catch (error) {
    if (error instanceof DaeError && error.code === 'ERR_AUTH_REQUIRED' && token === undefined) {
      throw new DaeError('ERR_AUTH_REQUIRED', `\`${command}\` takes the cluster token: --token <token> or env DAE_LAN_TOKEN (\`dae lan token\` prints it where the LAN manager runs)`, { cause: error });
    }
    throw error;
  } finally {
    client.destroy();
  }
}

/** The pid and ports of the LAN manager answering on this home's control socket, or null when none does. */
export async function lanRuns(paths = lanPaths()): Promise<LanRunning | null> {
  let client: Client | undefined;
  try {
    client = await connectLocal(paths, PROBE_TIMEOUT_MS);
    const who = (await client.call('whois')) as Identity;
    return { pid: who.pid, port: Number(who.ports.tcp), ws: Number(who.ports.ws) };
  } catch (error) {
    if ((error as DaeError).code === 'ERR_UNSAFE_FILE') throw error;
    return null;
  } finally {
    client?.destroy();
  }
}
