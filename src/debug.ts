import createDebugger from 'debug';

const MAX = 200;

// Long arguments (whole packets, say) are cut so `DEBUG=dae:*` stays readable.
createDebugger.formatters.s = (value: unknown) => {
  const text = String(value);
  return text.length > MAX ? `${text.slice(0, MAX)}… (${text.length} chars)` : text;
};

/** A debug logger in the `dae:<area>` namespace. */
export function createDebug(area: string): createDebugger.Debugger {
  return createDebugger(`dae:${area}`);
}
