// The live feed of `events` subscribers (the dashboard, scripts): each status event with the copy's entry after it,
// each sampler tick's samples, and copies that went away; and what `samples` and `timeline` read of the past: the
// samples' rings and the last status events of each daemon.
import type { Guest } from '../daemon/session.js';
import type { ListEntry, StatusEvent } from './managed.js';
import { SampleHistory, type CopySamples } from './samples.js';

/** Status events kept per daemon for `timeline`. */
export const EVENTS_KEPT = 100;

export class Feed {
  readonly #subscribers = new Set<Guest>();
  readonly #samples = new SampleHistory();
  readonly #events = new Map<string, StatusEvent[]>();

  /** `guest` follows the feed until it closes: a read-only subscription, which may stay without auth. */
  subscribe(guest: Guest): true {
    this.#subscribers.add(guest);
    guest.subscribed();
    guest.once('close', () => this.#subscribers.delete(guest));
    return true;
  }

  /** The last samples of each copy, or of one daemon's. */
  samples(name?: string): CopySamples[] {
    return this.#samples.get(name);
  }

  /** `event <event> <entry>`: the entry is the copy as `list` shows it now (null when it is not shown). */
  event(event: StatusEvent, entry: ListEntry | null): void {
    let kept = this.#events.get(event.name);
    if (kept === undefined) this.#events.set(event.name, (kept = []));
    kept.push(event);
    if (kept.length > EVENTS_KEPT) kept.shift();
    for (const guest of this.#subscribers) guest.push('event', event, entry);
  }

  /** A daemon's last status events (every instance's), oldest first. */
  timeline(name: string): StatusEvent[] {
    return [...(this.#events.get(name) ?? [])];
  }

  /** A sampler tick: `sample [{name, instance, samples: [[at, cpu %, memory]]}]`. */
  tick(entries: readonly ListEntry[], at: number): void {
    const taken = this.#samples.record(entries, at);
    for (const guest of this.#subscribers) guest.push('sample', taken);
  }

  /** `gone {name, from}`: copies `from` and up of a daemon went (uninstalled, or scaled down); their samples too. */
  gone(name: string, from = 0): void {
    this.#samples.forget(name, from);
    if (from === 0) this.#events.delete(name);
    for (const guest of this.#subscribers) guest.push('gone', { name, from });
  }
}
