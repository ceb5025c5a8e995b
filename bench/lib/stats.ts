// Small statistics for benchmark samples: percentiles, median, rates.

/** The p-th percentile (0–100) of `sorted` (ascending), nearest-rank; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

/** A sorted copy of `values` as a typed array (numeric sort, not string sort). */
export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** The median of `values`; NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Operations per second. */
export function rate(operations: number, milliseconds: number): number {
  return milliseconds > 0 ? (operations * 1000) / milliseconds : NaN;
}

/** The best of `values`: the largest when higher is better, else the smallest; NaN when empty. */
export function best(values: readonly number[], better: 'higher' | 'lower'): number {
  if (values.length === 0) return NaN;
  return better === 'higher' ? Math.max(...values) : Math.min(...values);
}

/** How a figure sums up its rounds. */
export type Aggregate = 'best' | 'median';

/** Sums up rounds as `aggregate` says. */
export function aggregate(values: readonly number[], how: Aggregate, better: 'higher' | 'lower'): number {
  return how === 'best' ? best(values, better) : median(values);
}
