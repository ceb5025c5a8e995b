// The well-behaved neighbour: a real `Client` calling the fuzz target back to back while the fuzzer runs,
// every answer checked. A wrong answer, an error or a timeout is a failure.
import { Client } from '../../src/client/client.js';
import { DaeError } from '../../src/errors.js';
import { randomJsonText } from './fuzz-json.js';
import type { Rng } from './fuzz-random.js';

export interface MonitorReport {
  calls: number;
  failures: string[];
  /** Longest wait for one round of calls (ms). */
  slowest: number;
}

interface Probe {
  readonly call: Promise<unknown>;
  readonly check: (outcome: PromiseSettledResult<unknown>) => string | null;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function resolvesTo(what: string, expected: unknown): Probe['check'] {
  return (outcome) => {
    if (outcome.status === 'rejected') return `${what} failed: ${(outcome.reason as Error).message}`;
    return same(outcome.value, expected) ? null : `${what} answered ${JSON.stringify(outcome.value)}, not ${JSON.stringify(expected)}`;
  };
}

function rejectsWith(what: string, code: string): Probe['check'] {
  return (outcome) => {
    if (outcome.status === 'fulfilled') return `${what} answered ${JSON.stringify(outcome.value)}, not error ${code}`;
    const reason = outcome.reason as unknown;
    return reason instanceof DaeError && reason.code === code ? null : `${what} rejected with ${String(reason)}, not ${code}`;
  };
}

// One round: a few calls in flight at once, each with the answer it must get.
function round(client: Client, rng: Rng): Probe[] {
  const a = rng.int(2 ** 31);
  const b = rng.int(2 ** 31);
  const value: unknown = JSON.parse(randomJsonText(rng));
  const items = Array.from({ length: rng.int(5) }, () => rng.int(100));
  return [
    { call: client.call('add', a, b), check: resolvesTo(`add ${a} ${b}`, a + b) },
    { call: client.call('echo', value), check: resolvesTo(`echo ${JSON.stringify(value)}`, value) },
    { call: client.call('later', value), check: resolvesTo(`later ${JSON.stringify(value)}`, value) },
    { call: client.call('count', ...items), check: resolvesTo(`count ${items.length}`, items.length) },
    { call: client.call('custom'), check: rejectsWith('custom', 'ERR_FUZZ_CUSTOM') },
    { call: client.call('ping'), check: resolvesTo('ping', undefined) },
  ];
}

/** Calls the target until `stop()`; resolves with what it saw. */
export class Monitor {
  readonly #client: Client;
  readonly #rng: Rng;
  readonly #report: MonitorReport = { calls: 0, failures: [], slowest: 0 };
  #stopping = false;
  readonly #loop: Promise<void>;

  private constructor(client: Client, rng: Rng) {
    this.#client = client;
    this.#rng = rng;
    this.#loop = this.#run();
  }

  static async start(port: number, rng: Rng, timeout = 5000): Promise<Monitor> {
    return new Monitor(await Client.connect({ port, timeout }), rng);
  }

  /** Rounds answered so far. */
  get calls(): number {
    return this.#report.calls;
  }

  async stop(): Promise<MonitorReport> {
    this.#stopping = true;
    await this.#loop;
    await this.#client.close();
    return this.#report;
  }

  async #run(): Promise<void> {
    while (!this.#stopping && this.#report.failures.length < 10) {
      const started = performance.now();
      const probes = round(this.#client, this.#rng);
      const outcomes = await Promise.allSettled(probes.map((probe) => probe.call));
      this.#report.slowest = Math.max(this.#report.slowest, performance.now() - started);
      this.#report.calls += probes.length;
      probes.forEach((probe, i) => {
        const problem = probe.check(outcomes[i]!);
        if (problem !== null) this.#report.failures.push(problem);
      });
      if (this.#client.closed) this.#report.failures.push('the monitor connection closed');
    }
  }
}
