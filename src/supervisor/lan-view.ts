// The LAN as the dashboard shows it: needs (status, reason), services (machine, address) and machines (heartbeats),
// read from the LAN manager this supervisor follows, else from one running in its home (`dae lan start`, on its
// control socket). Services are for anyone who may `list`; needs and machines, like on the LAN manager, need the token.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../client/client.js';
import { homePaths } from './home.js';

const READ_TIMEOUT_MS = 3000;

export interface LanView {
  /** `machine`: this supervisor follows a LAN manager; `home`: a LAN manager runs in its home. */
  from: 'machine' | 'home';
  services: unknown[];
  needs: unknown[] | null;
  machines: unknown[] | null;
}

type Read = (name: 'needs' | 'services' | 'machines') => Promise<unknown>;

/** The LAN view, or null when there is no LAN here. `link`: the LAN link's read, when this supervisor follows one. */
export async function lanView(link: Read | null, home: string, authenticated: boolean): Promise<LanView | null> {
  if (link !== null) return view('machine', link, authenticated);
  const socket = homePaths(join(home, 'lan')).socket;
  if (!existsSync(socket)) return null;
  let client: Client;
  try {
    client = await Client.connect({ path: socket, timeout: READ_TIMEOUT_MS });
  } catch {
    // a socket left by a LAN manager that is gone
    return null;
  }
  try {
    return await view('home', (name) => client.call(name), authenticated);
  } finally {
    client.destroy();
  }
}

async function view(from: LanView['from'], read: Read, authenticated: boolean): Promise<LanView> {
  const [services, needs, machines] = await Promise.all([
    read('services'),
    authenticated ? read('needs') : null,
    authenticated ? read('machines') : null,
  ]);
  return { from, services: services as unknown[], needs: needs as unknown[] | null, machines: machines as unknown[] | null };
}
