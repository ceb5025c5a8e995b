// What the sampler saw of each daemon copy lately: a bounded ring of `[at, cpu %, memory bytes]` per copy, for the
// dashboard's sparklines and `samples`. Pure bookkeeping: the sampler feeds it.
import type { ListEntry } from './managed.js';

/** Samples kept per copy: 120 (ten minutes at the default 5 s `sampleInterval`). */
export const KEPT = 120;

export type Sample = [at: number, cpu: number, memory: number];

export interface CopySamples {
  name: string;
  instance: number;
  samples: Sample[];
}

export class SampleHistory {
  readonly #kept: number;
  readonly #rings = new Map<string, { name: string; instance: number; samples: Sample[] }>();

  constructor(kept = KEPT) {
    this.#kept = kept;
  }

  /** One tick of the sampler: a sample of each copy that runs and was measured (one not yet sampled gets none). */
  record(entries: readonly ListEntry[], at: number): CopySamples[] {
    const taken: CopySamples[] = [];
    for (const entry of entries) {
      if (entry.pid === null || entry.memory === 0) continue;
      const key = `${entry.name}\u0000${entry.instance}`;
      let ring = this.#rings.get(key);
      if (ring === undefined) this.#rings.set(key, (ring = { name: entry.name, instance: entry.instance, samples: [] }));
      const sample: Sample = [at, entry.cpu, entry.memory];
      ring.samples.push(sample);
      if (ring.samples.length > this.#kept) ring.samples.shift();
      taken.push({ name: entry.name, instance: entry.instance, samples: [sample] });
    }
    return taken;
  }

  /** Every copy's samples, or one daemon's. */
  get(name?: string): CopySamples[] {
    return [...this.#rings.values()].filter((ring) => name === undefined || ring.name === name).map((ring) => ({ ...ring, samples: [...ring.samples] }));
  }

  /** A daemon uninstalled (or scaled down): its samples go. */
  forget(name: string, fromInstance = 0): void {
    for (const [key, ring] of this.#rings) if (ring.name === name && ring.instance >= fromInstance) this.#rings.delete(key);
  }
}
