// Token guessing is slowed per peer, across every door: after a few failures each further attempt of that peer waits a
// delay that doubles up to a cap. A delay, never a lockout: an attacker cannot lock the owner out, and failures are
// counted per peer (per uid on loopback), so theirs never slow anyone else.

export interface ThrottleOptions {
  /** Failures answered at once before delays begin. */
  free: number;
  /** The first delay (ms); each further failure doubles it. */
  base: number;
  /** The longest delay (ms). */
  max: number;
  /** A peer without failures for this long (ms) starts afresh. */
  forget: number;
}

/** Peers remembered at most; the longest quiet one is forgotten first. */
const MAX_PEERS = 10_000;

export const THROTTLE_DEFAULTS: Readonly<ThrottleOptions> = Object.freeze({ free: 3, base: 100, max: 5000, forget: 10 * 60_000 });

interface Record {
  failures: number;
  /** When the next attempt of this peer may be checked (ms since the epoch). */
  next: number;
  last: number;
}

/** Pure bookkeeping with the clock passed in: `slot(peer, now)` says when an attempt may be checked. */
export class AuthThrottle {
  readonly #options: ThrottleOptions;
  readonly #peers = new Map<string, Record>();

  constructor(options: Partial<ThrottleOptions> = {}) {
    this.#options = { ...THROTTLE_DEFAULTS, ...options };
  }

  /**
   * The time (ms) at which an attempt made now by `peer` is checked; attempts of one peer queue one after another. Null
   * when that would be more than twice the longest delay away: the queue of one peer stays short, whatever it sends.
   */
  slot(peer: string, now: number): number | null {
    const record = this.#record(peer, now);
    if (record === null) return now;
    const at = Math.max(now, record.next);
    if (at - now > 2 * this.#options.max) return null;
    record.next = at + this.#delay(record.failures);
    return at;
  }

  failed(peer: string, now: number): void {
    const record = this.#record(peer, now) ?? { failures: 0, next: now, last: now };
    record.failures++;
    record.last = now;
    record.next = Math.max(record.next, now + this.#delay(record.failures));
    // Re-inserted, so the map's order is the order of last failure.
    this.#peers.delete(peer);
    this.#peers.set(peer, record);
    if (this.#peers.size > MAX_PEERS) this.#peers.delete(this.#peers.keys().next().value!);
  }

  succeeded(peer: string): void {
    this.#peers.delete(peer);
  }

  /** Peers with failures on record (for tests and `list`-style views). */
  get size(): number {
    return this.#peers.size;
  }

  #delay(failures: number): number {
    const { free, base, max } = this.#options;
    return failures < free || max === 0 ? 0 : Math.min(max, base * 2 ** (failures - free));
  }

  #record(peer: string, now: number): Record | null {
    const record = this.#peers.get(peer);
    if (record === undefined) return null;
    if (now - record.last > this.#options.forget) {
      this.#peers.delete(peer);
      return null;
    }
    return record;
  }
}
