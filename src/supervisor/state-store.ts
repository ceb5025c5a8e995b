// The supervisor's state file: read and checked once, then written whole, durably, by one writer. A failed write is
// logged once until one succeeds again; a spawn held back by it is retried every second until then.
import { chmodSync } from 'node:fs';
import { DaeError } from '../errors.js';
import { SerialWriter } from './atomic.js';
import { readPrivate } from './private.js';
import { checkState, type PersistedState } from './spec.js';

const RETRY_MS = 1000;

/** The error of a command whose change could not be written (and was undone). */
export function stateError(path: string, why: string | null, what: string): DaeError {
  return new DaeError('ERR_STATE_WRITE', `cannot write ${path} (${why ?? 'unknown'}): ${what}`);
}

export class StateStore {
  readonly #path: string;
  readonly #writer: SerialWriter;
  readonly #log: (line: string) => void;
  #failing = false;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #written: () => void;

  /** `written` runs after each write that succeeds (what waited for one may go ahead). */
  constructor(path: string, log: (line: string) => void, written: () => void) {
    this.#path = path;
    this.#writer = new SerialWriter(path);
    this.#log = log;
    this.#written = written;
  }

  /** The state as stored (empty when there is none); ERR_BAD_STATE or ERR_UNSAFE_FILE when it cannot be used. */
  load(): PersistedState {
    const found = readPrivate(this.#path);
    if (found === null) return { version: 1, daemons: [] };
    // It holds the runs' secrets: others must not read it.
    if (found.exposed) {
      chmodSync(this.#path, 0o600);
      this.#log(`${this.#path} could be read by others: mode set to 0600`);
    }
    let value: unknown;
    try {
      value = JSON.parse(found.text);
    } catch (error) {
      throw new DaeError('ERR_BAD_STATE', `${this.#path} is not valid JSON (${(error as Error).message}); it was left as it is`);
    }
    return checkState(value, this.#path);
  }

  /** Writes `state` durably (writes in flight together become one); rejects when it cannot. */
  async write(state: PersistedState): Promise<void> {
    try {
      await this.#writer.write(`${JSON.stringify(state, null, 2)}\n`);
    } catch (error) {
      if (!this.#failing) this.#log(`cannot write ${this.#path}: ${(error as Error).message}`);
      this.#failing = true;
      throw error;
    }
    if (this.#failing) this.#log(`${this.#path} written again`);
    this.#failing = false;
    if (this.#retry !== null) clearInterval(this.#retry);
    this.#retry = null;
    this.#written();
  }

  /** Something waits for a write to succeed: try `again` (a write of the current state) every second until one does. */
  retry(again: () => Promise<void>): void {
    if (this.#retry !== null || this.#closed) return;
    this.#retry = setInterval(() => void again().catch(() => undefined), RETRY_MS);
    this.#retry.unref();
  }

  /** No more retries (the supervisor stops). */
  close(): void {
    this.#closed = true;
    if (this.#retry !== null) clearInterval(this.#retry);
    this.#retry = null;
  }
}
