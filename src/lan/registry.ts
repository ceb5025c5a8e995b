// The LAN's registry seam: needs with compare-and-set, machines with leases, services that live with their machine.
// Two backends implement it (embedded, etcd) and one conformance suite checks both.
import type { Need, Service } from './records.js';

/** A value and the version it was read at; `updateNeed` succeeds only against the current version. */
export interface Versioned<T> {
  value: T;
  version: number;
}

export interface MachineRecord {
  id: string;
  address: string;
  allowedscripts: string[];
  /** The registering process's own mark: one live process per machine id (a second one is a cloned home). */
  nonce?: string;
  /** Which registration this is (new at each `register`): tells a registration that ended from one made since. */
  session?: string;
}

/** A machine's registration: kept alive by `keepAlive`, lost (with its services) when it lapses or is revoked. */
export interface MachineLease {
  readonly machine: MachineRecord;
  keepAlive(): Promise<void>;
  revoke(): Promise<void>;
  /** Resolves when the lease is gone, whoever ended it. */
  readonly lost: Promise<void>;
}

export interface RegistryChange {
  kind: 'need' | 'service' | 'machine';
  name: string;
  deleted: boolean;
}

export interface Registry {
  /** Creates a need; false when one of that name exists. */
  createNeed(need: Need): Promise<boolean>;
  getNeed(name: string): Promise<Versioned<Need> | null>;
  listNeeds(): Promise<Array<Versioned<Need>>>;
  /** Compare-and-set: replaces the need only if it is still at `version`. Of racing writers exactly one wins. */
  updateNeed(name: string, version: number, next: Need): Promise<boolean>;
  /** Deletes a need and its service record; false when there was none. */
  deleteNeed(name: string): Promise<boolean>;
  /** Registers a machine for `ttl` ms, renewed by `keepAlive`. */
  registerMachine(machine: MachineRecord, ttl: number): Promise<MachineLease>;
  listMachines(): Promise<MachineRecord[]>;
  /** The digest of the key a machine id first registered with (kept for good), or null for an id never seen. */
  machineKey(id: string): Promise<string | null>;
  /** Records the key digest of an id seen for the first time; false when one was recorded already (first wins). */
  setMachineKey(id: string, digest: string): Promise<boolean>;
  /** Records a service under its machine's lease: it goes when the lease goes. */
  putService(lease: MachineLease, service: Service): Promise<void>;
  /** Deletes a service record only if it is still the one of `epoch`. */
  deleteService(name: string, epoch: number): Promise<boolean>;
  listServices(): Promise<Service[]>;
  /** Every change, in order; returns the function that stops watching. */
  watch(listener: (change: RegistryChange) => void): () => void;
  close(): Promise<void>;
}
