// The command table: what a daemon declares, normalised once, looked up by wire name.
import { DaeError, type WireError } from '../errors.js';
import { isValidName, LEGACY_REPLIES } from '../protocol/packet.js';
import { arityOf } from './arity.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- handlers take whatever JSON the wire brings
export type Handler = (...args: any[]) => unknown;

/** A command with options; a bare function is the common case. */
export interface CommandSpec {
  run: Handler;
  /** Refused with `ERR_AUTH_REQUIRED` until the connection has passed `auth`. */
  protected?: boolean;
  /** The handler receives the calling `Guest` first (for pushes and subscriptions); it does not count as an argument. */
  guest?: boolean;
  /** Override the arity read from the handler's source. */
  required?: number;
  params?: number;
  /** Reply under the original dae's name for this command (`list` → `daemons`); no other name is allowed. */
  reply?: string;
  /** The result is the reply's whole argument list, not its only argument. */
  spread?: boolean;
  /** Later commands of the connection wait until this one is answered (an async `auth`: what follows it may need it). */
  barrier?: boolean;
}

export type CommandDeclarations = Readonly<Record<string, Handler | CommandSpec>>;

export interface Command {
  readonly name: string;
  readonly run: Handler;
  readonly protected: boolean;
  readonly guest: boolean;
  readonly required: number;
  readonly max: number;
  readonly reply: string;
  readonly spread: boolean;
  readonly barrier: boolean;
}

/** Reply names of the built-ins and `error`: no command or push may use them. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['error', 'credential', 'commands', 'pong']);

/** Builds the lookup table; throws `ERR_BAD_OPTION` naming the bad declaration. */
export function buildCommandTable(declared: CommandDeclarations, builtins: CommandDeclarations): Map<string, Command> {
  const table = new Map<string, Command>();
  const add = (name: string, entry: Handler | CommandSpec, builtin: boolean): void => {
    if (!isValidName(name)) throw new DaeError('ERR_BAD_OPTION', `command name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _ . : -`);
    if (RESERVED_NAMES.has(name)) throw new DaeError('ERR_BAD_OPTION', `command name ${JSON.stringify(name)} is reserved`);
    if (!builtin && table.has(name)) throw new DaeError('ERR_BAD_OPTION', `command ${JSON.stringify(name)} is a built-in`);
    const spec: CommandSpec = typeof entry === 'function' ? { run: entry } : entry;
    // Clients tell replies by name: only the original dae's reply names (which every client knows) may differ.
    if (!builtin && spec.reply !== undefined && spec.reply !== name && LEGACY_REPLIES[name] !== spec.reply) {
      throw new DaeError('ERR_BAD_OPTION', `command ${JSON.stringify(name)}: reply name ${JSON.stringify(spec.reply)} is not the original dae's for it`);
    }
    if (!builtin && spec.spread !== undefined) throw new DaeError('ERR_BAD_OPTION', `command ${JSON.stringify(name)}: spread is for built-ins`);
    if (typeof spec?.run !== 'function') throw new DaeError('ERR_BAD_OPTION', `command ${JSON.stringify(name)} needs a function (got ${typeof spec?.run})`);
    const guest = spec.guest === true;
    const read = arityOf(spec.run);
    const skip = guest ? 1 : 0;
    const required = spec.required ?? Math.max(0, read.required - skip);
    const max = spec.params ?? (read.max === Infinity ? Infinity : Math.max(required, read.max - skip));
    table.set(name, {
      name, run: spec.run, protected: spec.protected === true, guest, required, max,
      reply: spec.reply ?? name, spread: spec.spread === true, barrier: spec.barrier === true,
    });
  };
  for (const [name, entry] of Object.entries(builtins)) add(name, entry, true);
  for (const [name, entry] of Object.entries(declared)) add(name, entry, false);
  return table;
}

/** `options` answer: every command with its declared arity. */
export function describeCommands(table: Map<string, Command>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const command of table.values()) out[command.name] = command.max === Infinity ? -1 : command.max;
  return out;
}

/** Checks a call against the table: the command to run, or the error to answer. */
export function resolveCommand(
  table: Map<string, Command>, name: string, args: readonly unknown[], authenticated: boolean,
): Command | WireError {
  const command = table.get(name);
  if (command === undefined) return { code: 'ERR_UNKNOWN_COMMAND', message: `unknown command ${JSON.stringify(name)}` };
  if (command.protected && !authenticated) return { code: 'ERR_AUTH_REQUIRED', message: `${name} needs \`auth\` first` };
  if (args.length < command.required || args.length > command.max) {
    const wanted = command.required === command.max ? `${command.required}` : command.max === Infinity ? `at least ${command.required}` : `${command.required} to ${command.max}`;
    return { code: 'ERR_BAD_ARGS', message: `${name} takes ${wanted} argument(s), got ${args.length}` };
  }
  return command;
}

/** Names a push may not use: every command's name and reply name, and the reserved ones. */
export function isReplyName(table: Map<string, Command>, name: string): boolean {
  if (RESERVED_NAMES.has(name) || table.has(name)) return true;
  for (const command of table.values()) if (command.reply === name) return true;
  return false;
}
