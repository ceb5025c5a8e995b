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
