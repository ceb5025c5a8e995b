// The etcd registry: needs, machines and services as JSON under one key prefix, machines and services on etcd leases
// that the LAN manager renews by hand. Loaded with `await import()` so etcd3 and gRPC load only when etcd is used.
import { ExponentialBackoff, handleType, noop, retry } from 'cockatiel';
import {
  ClientClosedError, Etcd3, EtcdLeaseInvalidError, GRPCDeadlineExceededError, GRPCUnavailableError, castGrpcError,
  type ICompare, type IKeyValue, type IOptions, type IRequestOp, type ITxnResponse, type IWatchResponse, type Watcher,
} from 'etcd3';
import { createDebug } from '../debug.js';
import { DaeError } from '../errors.js';
import type { Need, Service } from './records.js';
import type { MachineLease, MachineRecord, Registry, RegistryChange, Versioned } from './registry.js';

const debug = createDebug('lan:etcd');

const DEFAULT_PREFIX = 'dae/';
/** Deadline of one request to etcd: without one a call hangs while etcd is frozen or has no quorum. */
const DEFAULT_CALL_TIMEOUT_MS = 2_000;
/** Attempts of a request refused outright (etcd restarting, a member down), with a short backoff between them. */
const UNAVAILABLE_ATTEMPTS = 5;
const RETRY_INITIAL_DELAY_MS = 25;
const RETRY_MAX_DELAY_MS = 400;
/** The watch and gRPC's reconnect backoff; their defaults (30 s, 120 s) leave a watch deaf long after etcd is back. */
const RECONNECT_MAX_DELAY_MS = 1_000;
/** Pings that notice a dead connection; etcd refuses pings more frequent than every 5 s. */
const GRPC_KEEPALIVE_MS = 10_000;
const GRPC_KEEPALIVE_TIMEOUT_MS = 5_000;

const DIRS = { need: 'needs/', service: 'services/', machine: 'machines/' } as const;
type Kind = keyof typeof DIRS;
/** Machine key digests: not a kind of change anyone watches. */
const KEYS_DIR = 'machinekeys/';

export interface EtcdRegistryOptions {
  /** Client URLs of the etcd members, `http://host:port`. */
  endpoints: string[];
  /** Prefix of every key (default `dae/`): several registries can share one cluster. */
  prefix?: string;
  /** Deadline of each request to etcd in ms (default 2000). */
  callTimeout?: number;
}

type WatchBackoff = NonNullable<IOptions['faultHandling']>['watchBackoff'];

function badOption(message: string): DaeError {
  return new DaeError('ERR_BAD_OPTION', message);
}

function checkOptions(options: EtcdRegistryOptions): Required<EtcdRegistryOptions> {
  const { endpoints, prefix = DEFAULT_PREFIX, callTimeout = DEFAULT_CALL_TIMEOUT_MS } = options ?? ({} as EtcdRegistryOptions);
  if (!Array.isArray(endpoints) || endpoints.length === 0 || !endpoints.every((e) => typeof e === 'string' && e.length > 0)) {
    throw badOption(`endpoints: expected a non-empty list of etcd client URLs, received ${JSON.stringify(endpoints)}`);
  }
  if (typeof prefix !== 'string' || prefix.length === 0) throw badOption(`prefix: expected a non-empty string, received ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(callTimeout) || callTimeout < 1) throw badOption(`callTimeout: expected a positive whole number of ms, received ${JSON.stringify(callTimeout)}`);
  return { endpoints, prefix, callTimeout };
}

function leaseSeconds(ttl: number): number {
  return Math.max(1, Math.ceil(ttl / 1000));
}

function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function decode<T>(kv: IKeyValue): T {
  try {
    return JSON.parse(kv.value.toString()) as T;
  } catch (error) {
    throw new DaeError('ERR_BAD_STATE', `etcd key ${kv.key.toString()} does not hold JSON (${(error as Error).message})`);
  }
}

function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function notRunning(machine: string): DaeError {
  return new DaeError('ERR_NOT_RUNNING', `the registration of machine ${machine} has lapsed`);
}

/** Whether etcd refused a request because it no longer knows the lease. */
function leaseUnknown(error: unknown): boolean {
  return error instanceof DaeError && error.cause instanceof EtcdLeaseInvalidError;
}

function closed(): DaeError {
  return new DaeError('ERR_CONNECTION_CLOSED', 'the etcd registry is closed');
}

/** Cancels the gRPC stream behind a watcher, which etcd3 keeps private (a no-op should its shape change). */
function abortWatchStream(watcher: Watcher): void {
  const { manager } = watcher as unknown as { manager?: { stream?: { cancel?: () => void } } };
  try {
    manager?.stream?.cancel?.();
  } catch (error) {
    debug('cancelling the watch stream: %s', error);
  }
}

/** The etcd3 client, with deadlines, retries and errors turned into `DaeError`s; every write waits for the watch. */
class Etcd {
  readonly client: Etcd3;
  readonly timeout: number;
  /** While the watch is connecting: writes wait for it, so watchers hear of every change made after `watch()`. */
  gate: Promise<void> | null = null;
  readonly #retry = retry(handleType(GRPCUnavailableError), {
    maxAttempts: UNAVAILABLE_ATTEMPTS,
    backoff: new ExponentialBackoff({ initialDelay: RETRY_INITIAL_DELAY_MS, maxDelay: RETRY_MAX_DELAY_MS }),
  });

  constructor(endpoints: string[], timeout: number) {
    this.timeout = timeout;
    this.client = new Etcd3({
      hosts: endpoints,
      faultHandling: {
        // The default per-host circuit breaker fails every call for 5 s after an outage.
        host: () => noop,
        // Only a refused request is retried: a timed-out compare-and-set may have been applied, and sent again it
        // would report a loss it did not suffer.
        global: this.#retry,
        // etcd3 types this as a cockatiel IBackoff but calls it as the IBackoffFactory that cockatiel exports.
        watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: RECONNECT_MAX_DELAY_MS }) as unknown as WatchBackoff,
      },
      grpcOptions: {
        'grpc.initial_reconnect_backoff_ms': 50,
        'grpc.max_reconnect_backoff_ms': RECONNECT_MAX_DELAY_MS,
        'grpc.keepalive_time_ms': GRPC_KEEPALIVE_MS,
        'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
      },
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    });
  }

  /** Runs one etcd request; whatever it throws leaves as a `DaeError`. */
  async call<T>(what: string, request: () => Promise<T>, write = false): Promise<T> {
    if (write && this.gate !== null) await this.gate;
    try {
      return await request();
    } catch (error) {
      throw this.#translate(what, error);
    }
  }

  #translate(what: string, error: unknown): DaeError {
    if (error instanceof DaeError) return error;
    if (error instanceof GRPCDeadlineExceededError) return new DaeError('ERR_TIMEOUT', `etcd ${what}: no answer within ${this.timeout} ms`, { cause: error });
    if (error instanceof ClientClosedError) return new DaeError('ERR_CONNECTION_CLOSED', `etcd ${what}: the registry is closed`, { cause: error });
    return new DaeError('ERR_CONNECTION_FAILED', `etcd ${what} failed: ${(error as Error).message}`, { cause: error });
  }

  async range(key: Buffer, prefix: boolean, revision?: string): Promise<IKeyValue[]> {
    const request = { key, ...(prefix ? { range_end: rangeEnd(key) } : {}), ...(revision === undefined ? {} : { revision }) };
    return (await this.call(`range ${key.toString()}`, () => this.client.kv.range(request))).kvs;
  }

  /** A transaction; whether its comparisons held, and its responses. */
  txn(what: string, compare: ICompare[], success: IRequestOp[]): Promise<ITxnResponse> {
    return this.call(what, () => this.client.kv.txn({ compare, success, failure: [] }), true);
  }

  put(key: Buffer, value: Buffer, lease: string): Promise<unknown> {
    return this.call(`put ${key.toString()}`, () => this.client.kv.put({ key, value, lease }), true);
  }

  async grant(seconds: number): Promise<{ id: string; ttl: number }> {
    const granted = await this.call('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: seconds, ID: 0 }), true);
    return { id: granted.ID, ttl: Number(granted.TTL) };
  }

  /** Revokes a lease; one etcd no longer knows counts as revoked. */
  async revoke(id: string): Promise<void> {
    await this.call(`lease revoke ${id}`, async () => {
      try {
        await this.client.leaseClient.leaseRevoke({ ID: id });
      } catch (error) {
        if (!(error instanceof EtcdLeaseInvalidError)) throw error;
      }
    }, true);
  }

  /** One keepalive for lease `id`: the TTL left in seconds, 0 when etcd no longer knows the lease. */
  keepAlive(id: string): Promise<number> {
    return this.call(`lease keepalive ${id}`, () => this.#retry.execute(async () => {
      // A stream, so it gets the deadline itself: defaultCallOptions leaves streams without one.
      const stream = await this.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + this.timeout });
      return new Promise<number>((resolve, reject) => {
        // Stays attached: an error after the answer (the deadline, a reset) must not go unhandled.
        stream.on('error', (error: Error) => reject(castGrpcError(error)));
        let answered = false;
        stream.on('data', (response) => {
          if (answered) return;
          answered = true;
          resolve(Number(response.TTL));
          stream.end();
        });
        stream.write({ ID: id });
      });
    }), true);
  }
}

type LeaseStatus = 'alive' | 'ended' | 'closed';

/** What a lease needs of its registry. */
interface LeaseHost {
  etcd: Etcd;
  key(kind: Kind, name: string): Buffer;
  /** The lease ended (lapsed or revoked): the registry stops tracking it. */
  ended(lease: EtcdMachineLease): void;
  /** `name` now runs under `lease`: no other lease of this registry may restore it. */
  claimed(lease: EtcdMachineLease, name: string): void;
}

/**
 * A machine's registration on an etcd lease renewed only by `keepAlive()`. A local deadline (ttl since the last
 * `keepAlive()`) decides when it lapses; a lease etcd lost while that deadline holds (etcd restarted, revoked behind
 * our back) is granted anew and the machine and its services put again.
 */
class EtcdMachineLease implements MachineLease {
  readonly machine: MachineRecord;
  readonly lost: Promise<void>;
  /** Services put through this lease, restored with it. */
  readonly services = new Map<string, Service>();
  readonly #host: LeaseHost;
  readonly #ttl: number;
  #id: string;
  #status: LeaseStatus = 'alive';
  /** A new etcd lease was granted but the machine and its services are not all put under it yet. */
  #unrestored = false;
  #timer: NodeJS.Timeout;
  /** Operations on the etcd lease, one at a time. */
  #tail: Promise<unknown> = Promise.resolve();
  /** A keepalive queued and not yet started: later calls share it, so a frozen etcd does not pile them up. */
  #queuedKeepAlive: Promise<void> | null = null;
  #markLost!: () => void;

  constructor(host: LeaseHost, machine: MachineRecord, ttl: number, id: string) {
    this.#host = host;
    this.machine = machine;
    this.#ttl = ttl;
    this.#id = id;
    this.lost = new Promise((resolve) => (this.#markLost = resolve));
    this.#timer = setTimeout(() => this.#end('lapsed').catch((error: unknown) => debug('machine %s: revoke after lapse: %s', machine.id, error)), ttl);
  }

  #setStatus(next: LeaseStatus): void {
    debug('machine %s lease %s: %s → %s', this.machine.id, this.#id, this.#status, next);
    this.#status = next;
  }

  #check(): void {
    if (this.#status === 'closed') throw closed();
    if (this.#status !== 'alive') throw notRunning(this.machine.id);
  }

  #run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  keepAlive(): Promise<void> {
    try {
      this.#check();
    } catch (error) {
      return Promise.reject(error);
    }
    this.#timer.refresh();
    if (this.#queuedKeepAlive !== null) return this.#queuedKeepAlive;
    const queued = this.#run(async () => {
      this.#queuedKeepAlive = null;
      this.#check();
      if (this.#unrestored) return this.#ensureRestored();
      if ((await this.#host.etcd.keepAlive(this.#id)) > 0) return;
      debug('machine %s: etcd no longer knows lease %s', this.machine.id, this.#id);
      await this.#regrant();
    });
    this.#queuedKeepAlive = queued;
    return queued;
  }

  revoke(): Promise<void> {
    if (this.#status === 'closed') return Promise.reject(closed());
    if (this.#status === 'ended') return this.lost;
    return this.#end('revoked');
  }

  put(service: Service): Promise<void> {
    return this.#run(async () => {
      this.#check();
      const key = this.#host.key('service', service.instancename);
      this.#host.claimed(this, service.instancename);
      if (this.#unrestored) {
        this.services.set(service.instancename, service);
        return this.#ensureRestored();
      }
      try {
        await this.#host.etcd.put(key, encode(service), this.#id);
      } catch (error) {
        if (!leaseUnknown(error)) throw error;
        this.services.set(service.instancename, service);
        await this.#regrant();
        return;
      }
      this.services.set(service.instancename, service);
    });
  }

  /** The registry closes: timers stop, etcd keeps the lease until its TTL runs out. */
  close(): void {
    if (this.#status !== 'alive') return;
    this.#setStatus('closed');
    clearTimeout(this.#timer);
  }

  // Lapsed or revoked: the etcd lease is revoked (best effort after a lapse) before `lost` resolves, so whoever
  // awaits `lost` finds the machine and its services gone.
  #end(why: 'lapsed' | 'revoked'): Promise<void> {
    if (this.#status !== 'alive') return Promise.resolve();
    debug('machine %s: registration %s', this.machine.id, why);
    this.#setStatus('ended');
    clearTimeout(this.#timer);
    return this.#run(async () => {
      try {
        await this.#host.etcd.revoke(this.#id);
      } finally {
        this.#host.ended(this);
        this.#markLost();
      }
    });
  }

  async #regrant(): Promise<void> {
    const granted = await this.#host.etcd.grant(leaseSeconds(this.#ttl));
    if (this.#status !== 'alive') {
      await this.#host.etcd.revoke(granted.id).catch(() => undefined);
      this.#check();
    }
    debug('machine %s: lease %s replaces %s', this.machine.id, granted.id, this.#id);
    this.#id = granted.id;
    this.#unrestored = true;
    await this.#restore();
  }

  // A restore that failed earlier is tried again; if etcd lost that lease too, the next one is granted.
  async #ensureRestored(): Promise<void> {
    try {
      await this.#restore();
    } catch (error) {
      if (!leaseUnknown(error)) throw error;
      await this.#regrant();
    }
  }

  // Puts the machine and its services under the current lease, each only where its key is absent: the old lease's
  // keys went with it, so a key that exists belongs to a newer registration and is left alone.
  async #restore(): Promise<void> {
    const entries: Array<[Buffer, Buffer, string | null]> = [
      [this.#host.key('machine', this.machine.id), encode(this.machine), null],
      ...[...this.services].map(([name, service]): [Buffer, Buffer, string] => [this.#host.key('service', name), encode(service), name]),
    ];
    const ops: IRequestOp[] = entries.map(([key, value]) => ({
      request_txn: {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value, lease: this.#id } }],
        failure: [],
      },
    }));
    const result = await this.#host.etcd.txn(`restore machine ${this.machine.id}`, [], ops);
    this.#unrestored = false;
    result.responses.forEach((response, i) => {
      const name = entries[i]![2];
      if (response.response_txn.succeeded || name === null) return;
      debug('machine %s: service %s belongs to someone else now', this.machine.id, name);
      this.services.delete(name);
    });
  }
}

/** The registry on etcd: needs, machines and services under `prefix`, one shared watch for every listener. */
export class EtcdRegistry implements Registry {
  readonly #etcd: Etcd;
  readonly #prefix: string;
  readonly #leases = new Set<EtcdMachineLease>();
  readonly #listeners = new Set<(change: RegistryChange) => void>();
  #watcher: Watcher | null = null;
  /** Watchers being cancelled (replaced after etcd went back in time); close() waits for them. */
  readonly #cancelling = new Set<Promise<void>>();
  /** Opens the write gate early (its deadline, or close()). */
  #openGate: (() => void) | null = null;
  /** A new watch after a failed listing, a moment later. */
  #retryTimer: NodeJS.Timeout | null = null;
  /** Highest revision the watch has seen: one lower after a reconnect means etcd restarted empty. */
  #seen = 0;
  /** Keys the watch has seen put and not deleted: after etcd restarted empty, those missing are reported deleted. */
  readonly #known = new Set<string>();
  /** While the state is listed again after a resync, watch changes wait here to keep the order. */
  #held: Array<[string, boolean]> | null = null;
  #closed = false;

  private constructor(options: Required<EtcdRegistryOptions>) {
    this.#etcd = new Etcd(options.endpoints, options.callTimeout);
    this.#prefix = options.prefix;
  }

  /** Connects (lazily) to etcd at `endpoints`; keys live under `prefix`. */
  static async open(options: EtcdRegistryOptions): Promise<EtcdRegistry> {
    return new EtcdRegistry(checkOptions(options));
  }

  #key(kind: Kind, name: string): Buffer {
    return Buffer.from(`${this.#prefix}${DIRS[kind]}${name}`);
  }

  #check(): void {
    if (this.#closed) throw closed();
  }

  async machineKey(id: string): Promise<string | null> {
    this.#check();
    const [kv] = await this.#etcd.range(Buffer.from(`${this.#prefix}${KEYS_DIR}${id}`), false);
    return kv === undefined ? null : kv.value.toString();
  }

  async setMachineKey(id: string, digest: string): Promise<boolean> {
    this.#check();
    const key = Buffer.from(`${this.#prefix}${KEYS_DIR}${id}`);
    const result = await this.#etcd.txn(`record the key of machine ${id}`,
      [{ key, target: 'Create', result: 'Equal', create_revision: 0 }], [{ request_put: { key, value: Buffer.from(digest) } }]);
    return result.succeeded;
  }

  async createNeed(need: Need): Promise<boolean> {
    this.#check();
    const key = this.#key('need', need.instancename);
    const result = await this.#etcd.txn(`create need ${need.instancename}`,
      [{ key, target: 'Create', result: 'Equal', create_revision: 0 }], [{ request_put: { key, value: encode(need) } }]);
    return result.succeeded;
  }

  async getNeed(name: string): Promise<Versioned<Need> | null> {
    this.#check();
    const [kv] = await this.#etcd.range(this.#key('need', name), false);
    return kv === undefined ? null : { value: decode<Need>(kv), version: Number(kv.mod_revision) };
  }

  async listNeeds(): Promise<Array<Versioned<Need>>> {
    return (await this.#list('need')).map((kv) => ({ value: decode<Need>(kv), version: Number(kv.mod_revision) }));
  }

  async updateNeed(name: string, version: number, next: Need): Promise<boolean> {
    this.#check();
    if (next.instancename !== name || !Number.isSafeInteger(version) || version < 1) return false;
    const key = this.#key('need', name);
    const result = await this.#etcd.txn(`update need ${name}`, [
      { key, target: 'Create', result: 'Greater', create_revision: 0 },
      { key, target: 'Mod', result: 'Equal', mod_revision: version },
    ], [{ request_put: { key, value: encode(next) } }]);
    return result.succeeded;
  }

  async deleteNeed(name: string): Promise<boolean> {
    this.#check();
    const key = this.#key('need', name);
    const result = await this.#etcd.txn(`delete need ${name}`, [{ key, target: 'Create', result: 'Greater', create_revision: 0 }], [
      { request_delete_range: { key: this.#key('service', name) } },
      { request_delete_range: { key } },
    ]);
    if (result.succeeded) this.#forget(name);
    return result.succeeded;
  }

  async registerMachine(machine: MachineRecord, ttl: number): Promise<MachineLease> {
    this.#check();
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 1) throw badOption(`ttl: expected a positive number of ms, received ${JSON.stringify(ttl)}`);
    const record = structuredClone(machine);
    const granted = await this.#etcd.grant(leaseSeconds(ttl));
    try {
      await this.#etcd.put(this.#key('machine', record.id), encode(record), granted.id);
    } catch (error) {
      await this.#etcd.revoke(granted.id).catch(() => undefined);
      throw error;
    }
    const lease = new EtcdMachineLease({
      etcd: this.#etcd,
      key: (kind, name) => this.#key(kind, name),
      ended: (ended) => this.#leases.delete(ended),
      claimed: (owner, name) => {
        for (const other of this.#leases) if (other !== owner) other.services.delete(name);
      },
    }, record, ttl, granted.id);
    // Closed while granting: the registration would have no owner to renew or revoke it.
    if (this.#closed) {
      lease.close();
      throw closed();
    }
    this.#leases.add(lease);
    debug('machine %s registered on lease %s (ttl %d ms, etcd %d s)', record.id, granted.id, ttl, granted.ttl);
    return lease;
  }

  async listMachines(): Promise<MachineRecord[]> {
    return (await this.#list('machine')).map((kv) => decode<MachineRecord>(kv));
  }

  async putService(lease: MachineLease, service: Service): Promise<void> {
    this.#check();
    if (!(lease instanceof EtcdMachineLease) || !this.#leases.has(lease)) throw notRunning(lease.machine.id);
    await lease.put(structuredClone(service));
  }

  async deleteService(name: string, epoch: number): Promise<boolean> {
    this.#check();
    const key = this.#key('service', name);
    const [kv] = await this.#etcd.range(key, false);
    if (kv === undefined || decode<Service>(kv).epoch !== epoch) return false;
    const result = await this.#etcd.txn(`delete service ${name}`, [{ key, target: 'Mod', result: 'Equal', mod_revision: kv.mod_revision }], [
      { request_delete_range: { key } },
    ]);
    if (result.succeeded) this.#forget(name);
    return result.succeeded;
  }

  async listServices(): Promise<Service[]> {
    return (await this.#list('service')).map((kv) => decode<Service>(kv));
  }

  watch(listener: (change: RegistryChange) => void): () => void {
    if (this.#closed) return () => undefined;
    this.#listeners.add(listener);
    if (this.#watcher === null) this.#startWatch(false);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const lease of this.#leases) lease.close();
    this.#leases.clear();
    this.#listeners.clear();
    this.#openGate?.();
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    const watcher = this.#watcher;
    this.#watcher = null;
    if (watcher !== null) this.#cancel(watcher);
    // Graceful first: cancels that etcd answers. One that gets no answer within a call deadline (etcd frozen) would
    // keep the stream, and the process, alive after close: the stream itself is cancelled.
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      Promise.all(this.#cancelling).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#etcd.timeout))),
    ]);
    clearTimeout(timer);
    if (!answered && watcher !== null) abortWatchStream(watcher);
    this.#etcd.client.close();
  }

  async #list(kind: Kind): Promise<IKeyValue[]> {
    this.#check();
    return this.#etcd.range(this.#key(kind, ''), true);
  }

  /** A service record is gone: no lease restores it. */
  #forget(name: string): void {
    for (const lease of this.#leases) lease.services.delete(name);
  }

  // One prefix watch for all listeners. `resync`: etcd went back in time, so the state is listed again once the new
  // watch is connected and reported as changes.
  #startWatch(resync: boolean): void {
    const watcher = this.#etcd.client.watch().prefix(this.#prefix).watcher();
    this.#watcher = watcher;
    const current = () => this.#watcher === watcher;
    watcher.on('connected', (response: IWatchResponse) => {
      if (!current()) return;
      const revision = Number(response.header.revision);
      debug('watch connected at revision %d (seen %d)', revision, this.#seen);
      if (revision < this.#seen) {
        this.#rewatch(watcher, `etcd went back from revision ${this.#seen} to ${revision}`);
        return;
      }
      this.#seen = Math.max(this.#seen, revision);
      if (!resync) return;
      resync = false;
      this.#resync(response.header.revision).catch((error: unknown) => {
        debug('listing for a resync failed: %s', error);
        if (!current()) return;
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = null;
          if (current()) this.#rewatch(watcher, 'the last listing failed');
        }, RECONNECT_MAX_DELAY_MS);
      });
    });
    watcher.on('data', (response: IWatchResponse) => {
      if (!current()) return;
      this.#seen = Math.max(this.#seen, Number(response.header.revision));
      for (const event of response.events) this.#changed(event.kv.key.toString(), event.type === 'Delete');
    });
    watcher.on('disconnected', (error: Error) => debug('watch disconnected: %s', error.message));
    // etcd cancelled the watch (compaction, say): watch anew and report the state.
    watcher.on('error', (error: Error) => {
      if (!current()) return;
      this.#rewatch(watcher, `etcd cancelled the watch: ${error.message}`);
    });
    if (!resync) this.#gateWrites(watcher);
  }

  // Writes wait until the watch is connected (or a call deadline passed), so no listener misses what follows.
  #gateWrites(watcher: Watcher): void {
    let timer: NodeJS.Timeout | undefined;
    const gate = new Promise<void>((resolve) => {
      const open = (): void => {
        clearTimeout(timer);
        this.#openGate = null;
        if (this.#etcd.gate === gate) this.#etcd.gate = null;
        resolve();
      };
      timer = setTimeout(open, this.#etcd.timeout);
      this.#openGate = open;
      watcher.once('connected', open);
    });
    this.#etcd.gate = gate;
  }

  // Replaces the watch with a new one from the current revision, which lists the state again once connected.
  #rewatch(old: Watcher, why: string): void {
    debug('watching anew: %s', why);
    this.#cancel(old);
    this.#seen = 0;
    this.#startWatch(true);
  }

  #cancel(watcher: Watcher): void {
    const cancelling = watcher.cancel().catch((error: unknown) => debug('watch cancel: %s', error)).finally(() => this.#cancelling.delete(cancelling));
    this.#cancelling.add(cancelling);
  }

  // Lists everything at `revision` and reports it (put for what is there, delete for what the watch knew and is
  // gone), holding back watch changes meanwhile so they still come after.
  async #resync(revision: string): Promise<void> {
    this.#held = [];
    try {
      const kvs = await this.#etcd.range(Buffer.from(this.#prefix), true, revision);
      const present = new Set(kvs.map((kv) => kv.key.toString()));
      for (const key of [...this.#known]) if (!present.has(key)) this.#deliver(key, true);
      for (const key of present) this.#deliver(key, false);
    } finally {
      const held = this.#held;
      this.#held = null;
      for (const [key, deleted] of held) this.#deliver(key, deleted);
    }
  }

  #changed(key: string, deleted: boolean): void {
    if (this.#held !== null) this.#held.push([key, deleted]);
    else this.#deliver(key, deleted);
  }

  #deliver(key: string, deleted: boolean): void {
    if (deleted) this.#known.delete(key);
    else this.#known.add(key);
    const change = this.#toChange(key, deleted);
    if (change === null) return;
    let failure: { error: unknown } | null = null;
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        failure ??= { error };
      }
    }
    // Every listener heard of the change; then a listener's error surfaces as it would from an EventEmitter.
    if (failure !== null) {
      const { error } = failure;
      setImmediate(() => {
        throw error;
      });
    }
  }

  #toChange(key: string, deleted: boolean): RegistryChange | null {
    if (!key.startsWith(this.#prefix)) return null;
    const rest = key.slice(this.#prefix.length);
    for (const kind of Object.keys(DIRS) as Kind[]) {
      if (rest.startsWith(DIRS[kind])) return { kind, name: rest.slice(DIRS[kind].length), deleted };
    }
    return null;
  }
}
