// A small seeded PRNG for the fuzzer: the same seed gives the same lines, so a failure replays.
import { randomInt } from 'node:crypto';

/** Reads `FUZZ_SEED` when set (to replay a run), else picks a fresh 32-bit seed. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FUZZ_SEED;
  if (raw === undefined || raw === '') return randomInt(2 ** 32);
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`FUZZ_SEED must be an integer from 0 to 2^32-1, got ${JSON.stringify(raw)}`);
  return seed;
}

/** sfc32: fast, 128 bits of state, good enough to spread test cases (not for secrets). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.uint32();
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.uint32() / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.int(high - low + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** A child generator, so one consumer's draws do not shift another's. */
  fork(): Rng {
    return new Rng(this.uint32());
  }
}

/** Picks one of `choices` with probability proportional to its weight. */
export function weighted<T>(rng: Rng, choices: readonly (readonly [number, T])[]): T {
  const total = choices.reduce((sum, [weight]) => sum + weight, 0);
  let at = rng.next() * total;
  for (const [weight, value] of choices) {
    at -= weight;
    if (at < 0) return value;
  }
  return choices[choices.length - 1]![1];
}
