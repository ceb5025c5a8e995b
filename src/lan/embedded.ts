// The embedded registry: state in the LAN manager's process, needs persisted atomically in its home. Machines and
// services are not persisted: machine managers re-announce what they run when they re-register.
import { EventEmitter } from 'node:events';
import { DaeError } from '../errors.js';
import { SerialWriter } from '../supervisor/atomic.js';
import { readPrivate } from '../supervisor/private.js';
import type { Need, Service } from './records.js';
import type { MachineLease, MachineRecord, Registry, RegistryChange, Versioned } from './registry.js';

interface Lease extends MachineLease {
  timer: NodeJS.Timeout | null;
  ended: boolean;
  end(): void;
}

export class EmbeddedRegistry implements Registry {
  readonly #needs = new Map<string, Versioned<Need>>();
  readonly #services = new Map<string, { service: Service; lease: Lease }>();
  readonly #leases = new Map<string, Lease>();
  readonly #events = new EventEmitter();
  readonly #writer: SerialWriter | null;
  readonly #keys = new Map<string, string>();
  #version = 0;

  /** `file`: where needs are persisted (none = in memory only). */
  constructor(file?: string) {
    this.#writer = file === undefined ? null : new SerialWriter(file);
    const found = file === undefined ? null : readPrivate(file);
    if (found !== null) {
      let saved: unknown;
      try {
        saved = JSON.parse(found.text);
      } catch (error) {
        throw new DaeError('ERR_BAD_STATE', `${file} is not valid JSON (${(error as Error).message}); it was left as it is`);
      }
      if (!Array.isArray((saved as { needs?: unknown }).needs)) throw new DaeError('ERR_BAD_STATE', `${file} holds no needs list`);
      for (const need of (saved as { needs: Need[] }).needs) this.#needs.set(need.instancename, { value: need, version: ++this.#version });
      for (const [id, digest] of Object.entries((saved as { keys?: Record<string, string> }).keys ?? {})) this.#keys.set(id, digest);
    }
  }

  async createNeed(need: Need): Promise<boolean> {
    if (this.#needs.has(need.instancename)) return false;
    this.#needs.set(need.instancename, { value: structuredClone(need), version: ++this.#version });
    await this.#changed({ kind: 'need', name: need.instancename, deleted: false });
    return true;
  }

  async getNeed(name: string): Promise<Versioned<Need> | null> {
    const entry = this.#needs.get(name);
    return entry === undefined ? null : structuredClone(entry);
  }

  async listNeeds(): Promise<Array<Versioned<Need>>> {
    return [...this.#needs.values()].map((entry) => structuredClone(entry));
  }

  async updateNeed(name: string, version: number, next: Need): Promise<boolean> {
    const entry = this.#needs.get(name);
    if (entry === undefined || entry.version !== version || next.instancename !== name) return false;
    this.#needs.set(name, { value: structuredClone(next), version: ++this.#version });
    await this.#changed({ kind: 'need', name, deleted: false });
    return true;
  }

  async deleteNeed(name: string): Promise<boolean> {
    if (!this.#needs.delete(name)) return false;
    if (this.#services.delete(name)) this.#emit({ kind: 'service', name, deleted: true });
    await this.#changed({ kind: 'need', name, deleted: true });
    return true;
  }

  async registerMachine(machine: MachineRecord, ttl: number): Promise<MachineLease> {
    // A machine registering again replaces its registration: the machine never looks gone, its old services do go.
    const previous = this.#leases.get(machine.id);
    let markLost!: () => void;
    const lost = new Promise<void>((resolve) => (markLost = resolve));
    const lease: Lease = {
      machine: structuredClone(machine),
      timer: null,
      ended: false,
      lost,
      keepAlive: async () => {
        if (lease.ended) throw new DaeError('ERR_NOT_RUNNING', `the registration of machine ${machine.id} has lapsed`);
        lease.timer?.refresh();
      },
      revoke: async () => lease.end(),
      end: () => {
        if (lease.ended) return;
        lease.ended = true;
        if (lease.timer) clearTimeout(lease.timer);
        if (this.#leases.get(machine.id) === lease) this.#leases.delete(machine.id);
        for (const [name, entry] of this.#services) {
          if (entry.lease !== lease) continue;
          this.#services.delete(name);
          this.#emit({ kind: 'service', name, deleted: true });
        }
        if (this.#leases.get(machine.id) === undefined) this.#emit({ kind: 'machine', name: machine.id, deleted: true });
        markLost();
      },
    };
    lease.timer = setTimeout(() => lease.end(), ttl);
    this.#leases.set(machine.id, lease);
    previous?.end();
    this.#emit({ kind: 'machine', name: machine.id, deleted: false });
    return lease;
  }

  async listMachines(): Promise<MachineRecord[]> {
    return [...this.#leases.values()].map((lease) => structuredClone(lease.machine));
  }

  async machineKey(id: string): Promise<string | null> {
    return this.#keys.get(id) ?? null;
  }

  async setMachineKey(id: string, digest: string): Promise<boolean> {
    if (this.#keys.has(id)) return false;
    this.#keys.set(id, digest);
    await this.#save();
    return true;
  }

  async putService(lease: MachineLease, service: Service): Promise<void> {
    const ours = this.#leases.get(lease.machine.id);
    if (ours === undefined || ours !== lease) throw new DaeError('ERR_NOT_RUNNING', `the registration of machine ${lease.machine.id} has lapsed`);
    this.#services.set(service.instancename, { service: structuredClone(service), lease: ours });
    this.#emit({ kind: 'service', name: service.instancename, deleted: false });
  }

  async deleteService(name: string, epoch: number): Promise<boolean> {
    const entry = this.#services.get(name);
    if (entry === undefined || entry.service.epoch !== epoch) return false;
    this.#services.delete(name);
    this.#emit({ kind: 'service', name, deleted: true });
    return true;
  }

  async listServices(): Promise<Service[]> {
    return [...this.#services.values()].map((entry) => structuredClone(entry.service));
  }

  watch(listener: (change: RegistryChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  async close(): Promise<void> {
    for (const lease of [...this.#leases.values()]) {
      if (lease.timer) clearTimeout(lease.timer);
    }
    this.#events.removeAllListeners();
  }

  // Needs are durable before anyone hears of the change.
  async #changed(change: RegistryChange): Promise<void> {
    await this.#save();
    this.#emit(change);
  }

  async #save(): Promise<void> {
    if (this.#writer === null) return;
    const needs = [...this.#needs.values()].map((entry) => entry.value);
    await this.#writer.write(`${JSON.stringify({ version: 1, needs, keys: Object.fromEntries(this.#keys) }, null, 2)}\n`);
  }

  #emit(change: RegistryChange): void {
    this.#events.emit('change', change);
  }
}
