import { createRequire } from 'node:module';
import type { Debugger } from 'debug';

const MAX = 200;

/** A logger: `(format, ...args)`. */
export type DebugLog = (format: string, ...args: unknown[]) => void;

const off: DebugLog = () => undefined;

// `debug` (and what it loads) costs megabytes of memory in every supervisor and daemon: it is loaded only when
// DEBUG is set, as it is the only time its output can show.
function load(): ((namespace: string) => Debugger) | null {
  if (!process.env.DEBUG) return null;
  const createDebugger = createRequire(import.meta.url)('debug') as { (namespace: string): Debugger; formatters: Record<string, (value: unknown) => string> };
  // Long arguments (whole packets, say) are cut so `DEBUG=dae:*` stays readable.
  createDebugger.formatters.s = (value: unknown) => {
    const text = String(value);
    return text.length > MAX ? `${text.slice(0, MAX)}… (${text.length} chars)` : text;
  };
  return createDebugger;
}

const factory = load();

/** A debug logger in the `dae:<area>` namespace (a no-op unless DEBUG is set). */
export function createDebug(area: string): DebugLog {
  return factory === null ? off : factory(`dae:${area}`);
}
