// The original's shared-memory sample: `all`, `set [k, v]`, `get [k]`, `reset`.
import { pathToFileURL } from 'node:url';
import { Daemon, runDaemon } from '../src/index.js';

export class Kv extends Daemon {
  override name = 'kv';
  readonly #data = new Map<string, unknown>();
  commands = {
    // Answered as `memory [{…}]`, as the original sample did: its clients work unchanged.
    all: { reply: 'memory', run: () => Object.fromEntries(this.#data) },
    get: (key: string) => this.#data.get(key) ?? null,
    set: (key: string, value: unknown) => void this.#data.set(String(key), value),
    reset: () => void this.#data.clear(),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runDaemon(new Kv());
