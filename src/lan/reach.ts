// The LAN manager's own check that a reported service answers: `whois` at the advertised address names it.
import { Client } from '../client/client.js';
import type { Identity } from '../daemon/daemon.js';

export interface Expected {
  address: string;
  port: number;
  name: string;
  pid: number;
}

/** null when `whois` at address:port answers the expected name and pid within `timeout` ms; else why not. */
export async function checkReachable(expected: Expected, timeout: number): Promise<string | null> {
  const where = `${expected.address}:${expected.port}`;
  let client: Client;
  try {
    client = await Client.connect({ host: expected.address, port: expected.port, connectTimeout: timeout, timeout });
  } catch (error) {
    return `nothing answers on ${where} (${(error as Error).message})`;
  }
  try {
    const who = (await client.call('whois')) as Partial<Identity> | null;
    if (who?.name !== expected.name || who.pid !== expected.pid) {
      return `${where} answers as ${JSON.stringify(who?.name)} pid ${who?.pid}, not ${expected.name} pid ${expected.pid}`;
    }
    return null;
  } catch (error) {
    return `whois on ${where} failed: ${(error as Error).message}`;
  } finally {
    client.destroy();
  }
}
