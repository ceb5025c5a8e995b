// Who follows a daemon's log live (the dashboard's tail, through the supervisor): each gets the lines stored since it
// asked, in one push at most every 200 ms, with at most 64 KiB of them waiting; past that the oldest are skipped and
// counted, so a flooding daemon costs a follower a bounded amount and the log process nothing more.
import type { Guest } from '../daemon/session.js';

export const TAIL_EVERY_MS = 200;
export const TAIL_HOLD_BYTES = 64 * 1024;

interface Follower {
  guest: Guest;
  records: string[];
  bytes: number;
  skipped: number;
  /** False until its history is read: what comes meanwhile waits, and what the history has already is dropped. */
  started: boolean;
  timer: NodeJS.Timeout | null;
}

export class Followers {
  readonly #by = new Map<string, Set<Follower>>();

  /** `guest` follows `name`'s log from now until it closes; `start` it once its history is read. */
  add(name: string, guest: Guest): Follower {
    const follower: Follower = { guest, records: [], bytes: 0, skipped: 0, started: false, timer: null };
    let set = this.#by.get(name);
    if (set === undefined) this.#by.set(name, (set = new Set()));
    set.add(follower);
    guest.once('close', () => {
      if (follower.timer !== null) clearTimeout(follower.timer);
      set.delete(follower);
      if (set.size === 0 && this.#by.get(name) === set) this.#by.delete(name);
    });
    return follower;
  }

  /** Its history is read: lines that came meanwhile and are in it are not sent again (each as often as it is there). */
  start(name: string, follower: Follower, history: readonly string[]): void {
    const seen = new Map<string, number>();
    for (const record of history) seen.set(record, (seen.get(record) ?? 0) + 1);
    const kept = follower.records.filter((record) => {
      const times = seen.get(record) ?? 0;
      if (times > 0) seen.set(record, times - 1);
      return times === 0;
    });
    follower.records = [];
    follower.bytes = 0;
    follower.started = true;
    this.#take(name, follower, kept);
  }

  /** `name` is no longer watched (uninstalled): its followers get what waits, and their connections end. */
  end(name: string): void {
    for (const follower of this.#by.get(name) ?? []) {
      if (follower.timer !== null) clearTimeout(follower.timer);
      if (follower.started) this.#send(name, follower);
      follower.guest.endAfterReplies();
    }
  }

  /** Stored records of `name` (`<time> <stream> <text>\n` each), as they are queued for its log. */
  offer(name: string, stored: Buffer): void {
    const set = this.#by.get(name);
    if (set === undefined) return;
    const records = stored.toString('utf8').split('\n');
    records.pop();
    for (const follower of set) this.#take(name, follower, records);
  }

  #take(name: string, follower: Follower, records: readonly string[]): void {
    for (const record of records) {
      follower.records.push(record);
      follower.bytes += Buffer.byteLength(record) + 1;
    }
    // The oldest go, in one cut (a flood brings thousands of lines at once).
    let drop = 0;
    while (follower.bytes > TAIL_HOLD_BYTES && drop < follower.records.length - 1) follower.bytes -= Buffer.byteLength(follower.records[drop++]!) + 1;
    if (drop > 0) {
      follower.records.splice(0, drop);
      follower.skipped += drop;
    }
    if (!follower.started || follower.timer !== null || follower.records.length === 0) return;
    follower.timer = setTimeout(() => this.#send(name, follower), TAIL_EVERY_MS);
  }

  // `lines <name> [records] <skipped>`
  #send(name: string, follower: Follower): void {
    follower.timer = null;
    if (follower.records.length === 0 && follower.skipped === 0) return;
    follower.guest.push('lines', name, follower.records, follower.skipped);
    follower.records = [];
    follower.bytes = 0;
    follower.skipped = 0;
  }
}
