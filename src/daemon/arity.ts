// How many parameters a handler declares, read from its source: `fn.length` stops at the first default.

export interface Arity {
  /** Arguments that must be present. */
  required: number;
  /** Arguments accepted at most (Infinity with a rest parameter). */
  max: number;
}

const IDENT_ARROW = /^(?:async\s+)?[A-Za-z_$][\w$]*\s*=>/;

/** Counts a function's declared parameters: defaults count as optional, a rest parameter lifts the maximum. */
export function arityOf(fn: (...args: never[]) => unknown): Arity {
  const required = fn.length;
  const source = Function.prototype.toString.call(fn);
  if (IDENT_ARROW.test(source)) return { required, max: Math.max(required, 1) };
  const open = source.indexOf('(');
  if (open === -1) return { required, max: required };
  const counted = countParams(source, open + 1);
  if (counted === null) return { required, max: required };
  return { required, max: counted.rest ? Infinity : Math.max(required, counted.count) };
}

// Counts top-level parameters from just after `(` to its matching `)`, skipping strings, templates and nesting.
function countParams(source: string, from: number): { count: number; rest: boolean } | null {
  let depth = 0;
  let count = 0;
  let seenToken = false;
  let rest = false;
  for (let i = from; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(source, i, c);
      seenToken = true;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const close = source.indexOf('*/', i + 2);
      if (close === -1) return null;
      i = close + 1;
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      const close = source.indexOf('\n', i);
      if (close === -1) return null;
      i = close;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return { count: seenToken ? count + 1 : count, rest };
      depth--;
    } else if (c === ',' && depth === 0) {
      if (seenToken) count++;
      seenToken = false;
      continue;
    } else if (depth === 0 && c === '.' && source.startsWith('...', i) && !seenToken) {
      rest = true;
    }
    if (!/\s/.test(c)) seenToken = true;
  }
  return null;
}

function skipString(source: string, start: number, quote: string): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === quote) return i;
  }
  return source.length;
}
