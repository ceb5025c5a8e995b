// One installed daemon as a whole: its spec, the sockets held for it, and its copies (its instances, and the new run of
// a reload in progress). Start, stop, restart, the rolling reload and scale act on all of them.
import { DaeError } from '../errors.js';
import { SocketKeeper } from './held.js';
import type { ListEntry, Managed } from './managed.js';
import { checkInstances, type DaemonSpec, type PersistedState } from './spec.js';

/** What a group needs from the supervisor. */
export interface GroupContext {
  /** A new copy of the daemon (not yet started), sharing the group's spec and sockets. */
  make(group: Group, instance: number, restarts: number): Managed;
  /** Writes the whole state durably; rejects when it cannot. */
  persist(): Promise<void>;
  /** Tells subscribers that a reload put a new run in place of instance `instance`. */
  replaced(group: Group, instance: number, reason: string): void;
}

/** How `reload` went: `reloaded` false when it had to restart instead (its sockets were not held here). */
export interface ReloadResult {
  entries: ListEntry[];
  reloaded: boolean;
  reason: string | null;
}

const RUNNING = new Set(['online', 'starting', 'backoff', 'waiting']);

export class Group {
  readonly spec: DaemonSpec;
  readonly sockets = new SocketKeeper();
  /** Its instances, by number. */
  members: Managed[] = [];
  readonly #ctx: GroupContext;
  /** New runs of a reload in progress, not yet in place of the old ones: their status is not shown. */
  readonly #fresh = new Set<Managed>();
  /** Old runs a reload replaced, while they finish what they were doing. */
  readonly #retiring = new Set<Managed>();

  constructor(spec: DaemonSpec, ctx: GroupContext) {
    this.spec = spec;
    this.#ctx = ctx;
  }

  get name(): string {
    return this.spec.name;
  }

  /** How many instances it should run. */
  get count(): number {
    return this.spec.instances ?? 1;
  }

  /** Adds instance `instance` (not started). */
  add(instance: number, restarts = 0): Managed {
    const managed = this.#ctx.make(this, instance, restarts);
    this.members[instance] = managed;
    return managed;
  }

  /** Every copy that may have a process: instances, a reload's new and old runs. */
  all(): Managed[] {
    return [...this.members, ...this.#fresh, ...this.#retiring];
  }

  /** Whether `managed`'s status is the instance's (not a reload's new or old run). */
  shows(managed: Managed): boolean {
    return !this.#fresh.has(managed) && !this.#retiring.has(managed);
  }

  /** Whether a copy other than `managed` runs or is to run (then the held sockets stay). */
  othersRun(managed: Managed): boolean {
    return this.all().some((other) => other !== managed && RUNNING.has(other.status));
  }

  /** Every instance is online (what `--after` waits for). */
  get online(): boolean {
    return this.members.length > 0 && this.members.every((managed) => managed.status === 'online');
  }

  entries(): ListEntry[] {
    return this.members.map((managed) => managed.entry());
  }

  /** The copy whose current run has this secret. */
  owner(secret: unknown): Managed | undefined {
    return this.all().find((managed) => managed.owns(secret));
  }

  /** Its state record: instance 0's run, then the other instances' and a reload's new runs (after the old ones). */
  record(): PersistedState['daemons'][number] {
    const [first, ...rest] = this.members;
    const copies = [...rest, ...this.#fresh].map((managed) => ({ instance: managed.instance, run: managed.run, restarts: managed.restarts }));
    return { spec: this.spec, run: first?.run ?? null, restarts: first?.restarts ?? 0, ...(copies.length > 0 ? { copies } : {}) };
  }

  /**
   * Starts the instances that do not run; instance 0 first (a dae daemon's first run says whether it takes held
   * sockets, which the others need), then the rest together. Resolves once each is online or failed to start.
   */
  async start(): Promise<void> {
    const [first, ...rest] = this.members;
    if (first !== undefined && first.run === null) await first.startAndSettle();
    if (rest.length > 0 && rest.some((managed) => managed.run === null)) {
      this.#needsHeldSockets();
      await Promise.all(rest.filter((managed) => managed.run === null).map((managed) => managed.startAndSettle()));
    }
  }

  /** Stops every copy; the sockets are let go unless `keepSockets` (a restart). */
  async stop(reason?: string, keepSockets = false): Promise<void> {
    await Promise.all(this.all().map((managed) => managed.stop(reason, keepSockets)));
    if (!keepSockets) this.sockets.release();
  }

  /** Leaves every run alone for good (the supervisor goes, the next one adopts them); they keep their sockets. */
  detach(): void {
    for (const managed of this.all()) managed.detach();
    this.sockets.release(true);
  }

  /** Stops and starts every instance (sockets held meanwhile); clears `errored` and the backoff. */
  async restart(): Promise<void> {
    await this.stop('restarting', true);
    for (const managed of this.members) managed.resetHistory();
    await this.start();
  }

  /**
   * Zero-downtime: for each instance in turn, a new run on the same sockets; once it is online the old run is stopped
   * gracefully (it answers what it received, then exits). A new run that does not come online is stopped and the old
   * one keeps serving: the reload fails with the reason. Without held sockets it is a restart, and says so.
   */
  async reload(): Promise<ReloadResult> {
    const why = this.spec.sockets !== 'inherit'
      ? 'it binds its own sockets'
      : this.runsOwnCopies ? 'its adopted runs hold its sockets, not this supervisor' : null;
    if (why !== null) {
      await this.restart();
      return { entries: this.entries(), reloaded: false, reason: `restarted: ${why}` };
    }
    for (const old of [...this.members]) {
      if (old.status !== 'online') {
        // Nothing serves on this instance now: a plain start of it.
        await old.stop('restarting', true);
        old.resetHistory();
        await old.startAndSettle();
        continue;
      }
      const fresh = this.#ctx.make(this, old.instance, old.restarts);
      this.#fresh.add(fresh);
      await fresh.startAndSettle();
      if (fresh.status !== 'online') {
        const reason = fresh.entry().reason ?? fresh.status;
        await fresh.stop('reload failed', true);
        this.#fresh.delete(fresh);
        await this.#ctx.persist().catch(() => undefined);
        throw new DaeError('ERR_NOT_ONLINE', `${this.name}${this.count > 1 ? ` instance ${old.instance}` : ''}: the new run did not come online (${reason}); the old run (pid ${old.run?.pid}) keeps serving`);
      }
      this.#fresh.delete(fresh);
      this.#retiring.add(old);
      this.members[old.instance] = fresh;
      this.#ctx.replaced(this, old.instance, `reloaded: pid ${fresh.run?.pid} took over from pid ${old.run?.pid}`);
      await this.#ctx.persist().catch(() => undefined);
      await old.stop('reloaded', true);
      this.#retiring.delete(old);
    }
    return { entries: this.entries(), reloaded: true, reason: null };
  }

  /** Runs `count` instances: new ones start (and must come online), the highest-numbered ones past it stop. */
  async scale(count: number, commit: (change: () => void, undo: () => void) => Promise<void>): Promise<void> {
    checkInstances(count);
    const was = this.spec.instances;
    const before = this.count;
    if (count > before) this.#needsHeldSockets();
    await commit(() => (this.spec.instances = count), () => (this.spec.instances = was));
    if (count < before) {
      const gone = this.members.splice(count);
      await Promise.all(gone.map((managed) => managed.stop('scaled down', true)));
      // Nothing left to serve on them (the others errored or stopped): refused at once, not left in a backlog.
      if (!this.all().some((managed) => RUNNING.has(managed.status))) this.sockets.release();
      await this.#ctx.persist().catch(() => undefined);
      return;
    }
    for (let instance = before; instance < count; instance++) this.add(instance);
    if (!this.spec.stopped) await this.start();
  }

  // Copies share the held sockets: a program that binds its own port cannot run twice on it.
  #needsHeldSockets(): void {
    if (this.spec.sockets !== 'inherit') {
      throw new DaeError('ERR_BAD_ARGS', `${this.name} binds its own sockets, so its copies cannot share them: instances need a dae daemon or a program installed with --sockets inherit`);
    }
    if (this.runsOwnCopies) {
      throw new DaeError('ERR_PORT_HELD', `${this.name}'s adopted run holds its sockets, not this supervisor: restart it first`);
    }
  }

  /** Whether runs listen on copies of its sockets this supervisor does not hold (runs it adopted). */
  get runsOwnCopies(): boolean {
    return !this.sockets.holding && this.members.some((managed) => managed.adopted);
  }

  /** After a supervisor restart: instances without a run cannot bind beside adopted ones; the group is restarted (once
   * its sockets are held, each copy restarts on its own again). */
  get needsRegroup(): boolean {
    return this.count > 1 && this.runsOwnCopies && this.members.some((managed) => managed.run === null);
  }

  /** Whether `managed` is a reload's new run (else its old one, when it is not shown). */
  isFresh(managed: Managed): boolean {
    return this.#fresh.has(managed);
  }
}
