// Start order (`--after`): pure checks of the dependency graph and of what a daemon waits for.
import { DaeError } from '../errors.js';

/** Checks `after` of a daemon being installed: known names, not itself, no cycle. Throws ERR_BAD_ARGS. */
export function checkAfter(name: string, after: readonly string[], installed: ReadonlyMap<string, readonly string[]>): void {
  for (const dependency of after) {
    if (dependency === name) throw new DaeError('ERR_BAD_ARGS', `${name} cannot start after itself`);
    if (!installed.has(dependency)) throw new DaeError('ERR_BAD_ARGS', `${name} starts after ${dependency}, which is not installed`);
  }
  // A cycle through the new daemon: some dependency (transitively) starts after it.
  const seen = new Set<string>();
  const path: string[] = [];
  const visit = (current: string): string[] | null => {
    if (current === name) return [...path, current];
    if (seen.has(current)) return null;
    seen.add(current);
    path.push(current);
    for (const next of installed.get(current) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    return null;
  };
  for (const dependency of after) {
    const cycle = visit(dependency);
    if (cycle) throw new DaeError('ERR_BAD_ARGS', `--after makes a cycle: ${[name, ...cycle].join(' -> ')}`);
  }
}

/** The daemons that name `name` in their `after`. */
export function dependentsOf(name: string, installed: ReadonlyMap<string, readonly string[]>): string[] {
  return [...installed].filter(([, after]) => after.includes(name)).map(([dependent]) => dependent).sort();
}

/** The first dependency that is not online yet (its name), or null when all are. */
export function waitingFor(after: readonly string[], isOnline: (name: string) => boolean): string | null {
  return after.find((dependency) => !isOnline(dependency)) ?? null;
}
