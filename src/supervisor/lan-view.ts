// The LAN as the dashboard shows it: needs (status, reason), services (machine, address) and machines (heartbeats),
// read from the LAN manager this supervisor follows, else from one running in its home (`dae lan start`, on its
// control socket). Services are for anyone who may `list`; needs and machines, like on the LAN manager, need the token.
// Reads are shared: callers within a second of a read (anyone, any number: `lan` needs no token) get that read, so
// they cost the LAN manager one connection a second at most.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../client/client.js';
import { homePaths } from './home.js';

const READ_TIMEOUT_MS = 3000;
/** How long a read answers every caller. */
export const SHARED_MS = 1000;

export interface LanView {
  /** `machine`: this supervisor follows a LAN manager; `home`: a LAN manager runs in its home. */
  from: 'machine' | 'home';
  services: unknown[];
  needs: unknown[] | null;
  machines: unknown[] | null;
}

type Read = (name: 'needs' | 'services' | 'machines') => Promise<unknown>;

/** The LAN view, read at most once a second (a read under way, or done within the second, answers for it). */
export class LanViews {
  readonly #read: () => Promise<LanView | null>;
  #last: { at: number; view: Promise<LanView | null> } | null = null;

  /** `read`: a whole read (needs and machines included: each caller is shown what its sign-in allows). */
  constructor(read: () => Promise<LanView | null>) {
    this.#read = read;
  }

  async get(authenticated: boolean): Promise<LanView | null> {
    const now = Date.now();
    if (this.#last === null || now - this.#last.at >= SHARED_MS) this.#last = { at: now, view: this.#read() };
    const { view } = this.#last;
    const read = await view.catch((error: unknown) => {
      // A failed read is not kept.
      if (this.#last?.view === view) this.#last = null;
      throw error;
    });
    return read === null || authenticated ? read : { ...read, needs: null, machines: null };
  }
}

/** The whole LAN view, or null when there is no LAN here. `link`: the LAN link's read, when this supervisor follows one. */
export async function lanView(link: Read | null, home: string): Promise<LanView | null> {
  if (link !== null) return view('machine', link);
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
    return await view('home', (name) => client.call(name));
  } finally {
    client.destroy();
  }
}

async function view(from: LanView['from'], read: Read): Promise<LanView> {
  const [services, needs, machines] = await Promise.all([read('services'), read('needs'), read('machines')]);
  return { from, services: services as unknown[], needs: needs as unknown[] | null, machines: machines as unknown[] | null };
}
