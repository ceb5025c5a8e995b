// The leases of one supervisor: every daemon's ports, taken one install at a time so two installs never get the same
// port; a port leased to anyone, for any protocol, is taken, and a stranger's port is skipped, never fought.
import { DaeError } from '../errors.js';
import { PROTOCOLS, type Protocol } from './config.js';
import { canBind, choosePort } from './ports.js';
import type { DaemonSpec } from './spec.js';

export class Leases {
  readonly #specs: () => Iterable<DaemonSpec>;
  readonly #rangeStart: Record<Protocol, number>;
  #queue: Promise<unknown> = Promise.resolve();

  /** `specs`: every installed daemon's spec, whose `leases` are the ports taken. */
  constructor(specs: () => Iterable<DaemonSpec>, rangeStart: Record<Protocol, number>) {
    this.#specs = specs;
    this.#rangeStart = rangeStart;
  }

  /** True when `port` is leased to no daemon and can be bound on `host` now. */
  async available(port: number, host: string): Promise<boolean> {
    return !this.#taken().has(port) && canBind(host, port);
  }

  /** Fills `spec.leases` for every protocol on `host`: the `exact` ports (which must be free), else the first free. */
  take(spec: DaemonSpec, host: string, exact: Partial<Record<Protocol, number>>): Promise<void> {
    const next = this.#queue.then(async () => {
      const taken = this.#taken(spec);
      for (const protocol of PROTOCOLS) {
        const wanted = exact[protocol];
        if (wanted === undefined) continue;
        if (taken.has(wanted) || !(await canBind(host, wanted))) throw new DaeError('ERR_NO_PORT', `${protocol} port ${wanted} on ${host} is taken`);
        spec.leases[protocol] = wanted;
        taken.add(wanted);
      }
      for (const protocol of PROTOCOLS) {
        if (spec.leases[protocol] !== undefined) continue;
        spec.leases[protocol] = await choosePort(this.#rangeStart[protocol], taken, (port) => canBind(host, port));
        taken.add(spec.leases[protocol]);
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  // Every port leased to a daemon other than `except`.
  #taken(except?: DaemonSpec): Set<number> {
    const taken = new Set<number>();
    for (const spec of this.#specs()) if (spec !== except) for (const port of Object.values(spec.leases)) taken.add(port);
    return taken;
  }
}
