// An independent model of the protocol, as the issue states it: what the fuzz target must answer to one line,
// given what its connection has seen. Written from the rules, not from src/, so the two can disagree.

/** One reply the model expects. */
export type Matcher =
  | { readonly kind: 'exact'; readonly text: string }
  | { readonly kind: 'error'; readonly code: string }
  | { readonly kind: 'oneOf'; readonly options: readonly Matcher[] }
  | { readonly kind: 'check'; readonly name: string; readonly check: (args: unknown[]) => string | null };

export interface Expectation {
  /** The replies, in order; null when read boundaries decide (the legacy rule may cut the line into packets). */
  readonly replies: readonly Matcher[] | null;
  /** Whether the daemon closes the connection after this line. */
  readonly close: 'no' | 'may' | 'must';
  /** It closes at once: replies owed for earlier lines may never be written. */
  readonly abrupt?: boolean;
  /** It may leave a command running (a close by a limit then drops the replies after it). */
  readonly async?: boolean;
  /** Over the packet limit: the connection ends at once, dropping the replies of commands still running. */
  readonly overLimit?: boolean;
  /** Why it closes, for the run's tally. */
  readonly reason?: string;
}

/** What the model remembers of one connection. */
export interface ConnectionState {
  /** No non-blank line yet: an HTTP request line now closes the connection. */
  firstLine: boolean;
  /** `auth` failures known for sure, and those possibly hidden in lines the legacy rule may cut. */
  authFailures: number;
  authMaybe: number;
}

export interface TargetFacts {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly maxPacketBytes: number;
}

export function newConnectionState(): ConnectionState {
  return { firstLine: true, authFailures: 0, authMaybe: 0 };
}

const MAX_NAME = 64;
const MAX_AUTH_FAILURES = 5;
// Past this depth JSON.stringify may run out of stack in the daemon (ERR_COMMAND_FAILED) or not: both are fine.
const STACK_SAFE_DEPTH = 400;
const HTTP_REQUEST = /^[A-Z][A-Z-]{1,20} \S+ HTTP\/\d(\.\d)?\s*$/;
const HOST_HEADER = /^\s*host\s*:/i;
const NONE: Expectation = { replies: [], close: 'no' };

/** The fuzz target's commands: [fewest, most] arguments. */
const ARITY = new Map<string, readonly [number, number]>([
  ['dae', [0, 0]], ['whois', [0, 0]], ['options', [0, 0]], ['ping', [0, 0]], ['auth', [1, 1]],
  ['echo', [1, 1]], ['later', [1, 1]], ['add', [2, 2]], ['count', [0, Infinity]], ['nothing', [0, 0]], ['boom', [0, 0]],
  ['custom', [0, 0]],
]);
/** Names a well-formed reply may carry: the target's own commands, the built-ins' reply names, `error`. */
export const REPLY_NAMES: ReadonlySet<string> = new Set([
  'echo', 'later', 'add', 'count', 'nothing', 'boom', 'custom', 'auth', 'credential', 'commands', 'pong', 'error',
]);

const isBlankByte = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0d;
const isNameCode = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x3a || c === 0x2d;

/**
 * Where the legacy rule could cut this line if a read ended there: after each `name [..]` in a row from the
 * line's start (brackets and braces balanced, strings skipped). Blanks may lead and follow each packet.
 */
export function legacyCuts(bytes: Buffer): number[] {
  const cuts: number[] = [];
  let i = 0;
  for (;;) {
    while (i < bytes.length && isBlankByte(bytes[i]!)) i++;
    const nameStart = i;
    while (i < bytes.length && isNameCode(bytes[i]!)) i++;
    if (i === nameStart || i - nameStart > MAX_NAME) return cuts;
    while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09)) i++;
    if (bytes[i] !== 0x5b) return cuts;
    let depth = 0;
    let inString = false;
    let closed = false;
    for (; i < bytes.length && !closed; i++) {
      const b = bytes[i]!;
      if (inString) {
        if (b === 0x5c) i++;
        else if (b === 0x22) inString = false;
      } else if (b === 0x22) inString = true;
      else if (b === 0x5b || b === 0x7b) depth++;
      else if ((b === 0x5d || b === 0x7d) && --depth === 0) closed = true;
    }
    if (!closed) return cuts;
    cuts.push(i);
  }
}

// True when the legacy rule cannot change how this line is read: no cut, or one packet and blanks after it.
function isStable(bytes: Buffer, cuts: readonly number[]): boolean {
  if (cuts.length === 0) return true;
  if (cuts.length > 1) return false;
  for (let i = cuts[0]!; i < bytes.length; i++) if (!isBlankByte(bytes[i]!)) return false;
  return true;
}

// The line as the daemon reads it: one trailing CR dropped, then UTF-8 decoded.
function decode(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.toString('utf8', 0, end);
}

const exact = (text: string): Matcher => ({ kind: 'exact', text });
const error = (code: string): Matcher => ({ kind: 'error', code });

function nestingDepth(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    deepest = Math.max(deepest, depth);
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

// The reply carrying one value: exact, unless the value is so deep that writing it may overflow the stack.
function valueReply(name: string, value: unknown): Matcher {
  if (nestingDepth(value) <= STACK_SAFE_DEPTH) return exact(`${name} [${JSON.stringify(value)}]`);
  let text: string | null = null;
  try {
    text = `${name} [${JSON.stringify(value)}]`;
  } catch {
    // Our stack gave out too; the daemon's may or may not.
  }
  return { kind: 'oneOf', options: text === null ? [error('ERR_COMMAND_FAILED')] : [exact(text), error('ERR_COMMAND_FAILED')] };
}

type Parsed = { readonly empty: true } | { readonly code: string } | { readonly name: string; readonly args: unknown[] };

// `name`, then optionally blanks and one JSON value; an array is the argument list.
function parse(text: string): Parsed {
  let start = 0;
  let end = text.length;
  while (start < end && isBlankByte(text.charCodeAt(start))) start++;
  while (end > start && isBlankByte(text.charCodeAt(end - 1))) end--;
  if (start === end) return { empty: true };
  let i = start;
  while (i < end && isNameCode(text.charCodeAt(i))) i++;
  if (i === start || i - start > MAX_NAME) return { code: 'ERR_BAD_PACKET' };
  const name = text.slice(start, i);
  if (i === end) return { name, args: [] };
  if (!isBlankByte(text.charCodeAt(i)) && !'[{"'.includes(text[i]!)) return { code: 'ERR_BAD_PACKET' };
  let value: unknown;
  try {
    value = JSON.parse(text.slice(i, end));
  } catch {
    return { code: 'ERR_BAD_ARGS' };
  }
  return { name, args: Array.isArray(value) ? value : [value] };
}

function checkIdentity(facts: TargetFacts): (args: unknown[]) => string | null {
  return (args) => {
    const who = args[0] as Record<string, unknown> | undefined;
    if (args.length !== 1 || who === undefined || who === null || typeof who !== 'object') return 'one identity object';
    if (who.name !== facts.name || who.pid !== facts.pid || who.port !== facts.port) return 'name, pid and port of the target';
    const ports = who.ports as Record<string, unknown> | null;
    if (ports === null || typeof ports !== 'object' || ports.tcp !== facts.port || !/\/daemon\.\d+\.sock$/.test(String(ports.unix))) return 'ports {tcp, unix}';
    if (Object.keys(ports).sort().join() !== 'tcp,unix') return 'ports {tcp, unix} and no other door';
    if (typeof who.created !== 'string' || Number.isNaN(Date.parse(who.created))) return 'an ISO date in created';
    return null;
  };
}

// `options` answers each command's most arguments, -1 for any number.
const OPTIONS = Object.fromEntries([...ARITY].map(([name, [, most]]) => [name, most === Infinity ? -1 : most]));

function checkOptions(args: unknown[]): string | null {
  const table = args[0] as Record<string, unknown> | undefined;
  if (args.length !== 1 || table === null || typeof table !== 'object') return 'one table';
  const sorted = (o: object): string => JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
  return sorted(table) === sorted(OPTIONS) ? null : `the table ${JSON.stringify(OPTIONS)}`;
}

// A packet that reached command lookup.
function call(name: string, args: unknown[], state: ConnectionState, facts: TargetFacts): Expectation {
  const arity = ARITY.get(name);
  if (arity === undefined) return { replies: [error('ERR_UNKNOWN_COMMAND')], close: 'no' };
  if (args.length < arity[0] || args.length > arity[1]) return { replies: [error('ERR_BAD_ARGS')], close: 'no' };
  switch (name) {
    case 'echo': return { replies: [valueReply('echo', args[0])], close: 'no' };
    case 'later': return { replies: [valueReply('later', args[0])], close: 'no', async: true };
    case 'add': {
      const [a, b] = args;
      if (typeof a !== 'number' || typeof b !== 'number') return { replies: [error('ERR_BAD_ARGS')], close: 'no' };
      return { replies: [valueReply('add', a + b)], close: 'no' };
    }
    case 'count': return { replies: [exact(`count [${args.length}]`)], close: 'no' };
    case 'nothing': return { replies: [exact('nothing []')], close: 'no' };
    case 'boom': return { replies: [error('ERR_COMMAND_FAILED')], close: 'no' };
    case 'custom': return { replies: [error('ERR_FUZZ_CUSTOM')], close: 'no' };
    case 'ping': return { replies: [exact('pong []')], close: 'no' };
    case 'whois': return { replies: [{ kind: 'check', name: 'credential', check: checkIdentity(facts) }], close: 'no' };
    case 'options': return { replies: [{ kind: 'check', name: 'commands', check: checkOptions }], close: 'no' };
    case 'dae': {
      const credential = exact(`credential ${JSON.stringify([facts.name, facts.pid, facts.port, null])}`);
      return { replies: [credential], close: 'must', reason: 'dae' };
    }
    default: {
      state.authFailures++;
      const close = state.authFailures >= MAX_AUTH_FAILURES ? 'must' : state.authFailures + state.authMaybe >= MAX_AUTH_FAILURES ? 'may' : 'no';
      return { replies: [error('ERR_AUTH_FAILED')], close, reason: 'auth failures' };
    }
  }
}

// How often `name` occurs in `text` as a whole packet name.
function occurrences(text: string, name: string): number {
  return text.match(new RegExp(`(?:^|[^A-Za-z0-9_.:-])${name}(?![A-Za-z0-9_.:-])`, 'g'))?.length ?? 0;
}

// A line the legacy rule may cut: how many replies depends on read boundaries, and any piece may close.
function uncertain(text: string, state: ConnectionState): Expectation {
  const auths = occurrences(text, 'auth');
  state.authMaybe += auths;
  const wasFirst = state.firstLine;
  state.firstLine = false;
  const mayClose = /host\s*:/i.test(text) || occurrences(text, 'dae') > 0 || (wasFirst && /HTTP\//.test(text)) ||
    (auths > 0 && state.authFailures + state.authMaybe >= MAX_AUTH_FAILURES);
  return { replies: null, close: mayClose ? 'may' : 'no', async: occurrences(text, 'later') > 0, reason: 'a cut line' };
}

/** What the daemon must do with one line (bytes without the `\n`); updates the connection's state. */
export function expectLine(bytes: Buffer, state: ConnectionState, facts: TargetFacts): Expectation {
  const cuts = legacyCuts(bytes);
  if (bytes.length > facts.maxPacketBytes) {
    // A packet cut off early restarts the count, so only a line with no cut within the limit surely overflows.
    if (cuts.some((cut) => cut <= facts.maxPacketBytes)) return { ...uncertain(decode(bytes), state), close: 'may', overLimit: true, reason: 'a huge line' };
    return { replies: [error('ERR_PACKET_TOO_LARGE')], close: 'must', overLimit: true, reason: 'packet too large' };
  }
  const text = decode(bytes);
  if (!isStable(bytes, cuts)) return uncertain(text, state);
  const parsed = parse(text);
  if (state.firstLine) {
    // Blank means spaces, tabs and CR, as everywhere in the protocol.
    if ('empty' in parsed) return NONE;
    state.firstLine = false;
    if (HTTP_REQUEST.test(text)) return { replies: [], close: 'must', abrupt: true, reason: 'HTTP request' };
  }
  if (HOST_HEADER.test(text)) return { replies: [], close: 'must', abrupt: true, reason: 'Host header' };
  if ('empty' in parsed) return NONE;
  if ('code' in parsed) return { replies: [error(parsed.code)], close: 'no' };
  return call(parsed.name, parsed.args, state, facts);
}
