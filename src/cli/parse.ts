// Parsers of option values: a bad value is a usage error (exit 2) naming what was expected.
import { InvalidArgumentError } from 'commander';

export function whole(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

export function port(value: string): number {
  const n = whole(value);
  if (n > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}

export function keyValue(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('expected KEY=VALUE');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** Collects a repeatable option's values in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (`90s`, `10m`, `2h`, `1d`, `500ms`) or a time (`2026-12-07T10:00:00Z`), as ms since
 * the epoch. */
export function since(value: string, now = Date.now()): number {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (duration !== null) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  // A time: ISO 8601 (a date alone is midnight UTC), or anything else Date.parse reads.
  const time = /^\d{4}-\d\d-\d\d/.test(value.trim()) ? Date.parse(value.trim()) : Number.NaN;
  if (Number.isNaN(time)) throw new InvalidArgumentError('expected a duration (90s, 10m, 2h, 1d) or a time (2026-12-07T10:00:00Z)');
  return time;
}
