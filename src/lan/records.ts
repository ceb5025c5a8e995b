// The LAN's records: needs (what should run somewhere) and services (what runs and answers), and their checks.
import { isIPv4 } from 'node:net';
import { DaeError } from '../errors.js';
import type { Protocol } from '../supervisor/config.js';
import { FRESH_HISTORY, type RestartHistory } from '../supervisor/policy.js';
import { checkName, checkPortMap } from '../supervisor/spec.js';
import { parseReady } from '../supervisor/readiness.js';
import { codeLoadingVariable } from './placement.js';

export type NeedStatus = 'unsatisfied' | 'claimed' | 'satisfied' | 'backoff' | 'errored';

/** Who holds a need, and since which claim: a machine that comes back with an older epoch stops its copy. */
export interface Claim {
  machine: string;
  epoch: number;
  at: number;
}

/** A permanent record until removed. */
export interface Need {
  instancename: string;
  /** As each machine resolves it; it must lie under that machine's `allowedscripts`. */
  script: string;
  args: string[];
  env: Record<string, string>;
  /** A named port must be leased exactly, or that machine cannot take the need. */
  ports: Partial<Record<Protocol, number>>;
  /** A machine address or an IPv4 CIDR; null = anywhere. */
  pin: string | null;
  /** ms a claim may take to be satisfied before it is released. */
  timeout: number;
  /** An interpreter's absolute path, or `none` (the program runs by itself); absent: node for .js/.mjs/.cjs, else none. */
  interpreter?: string;
  /** When a copy is ready (`--ready`); the LAN manager's reachability check follows it. Absent: auto. */
  ready?: string;
  /** Needs that must be satisfied somewhere on the LAN before this one is claimed. */
  after?: string[];
  status: NeedStatus;
  reason: string | null;
  claim: Claim | null;
  /** The last epoch handed out; every claim takes the next one. Starts at the creation time (ms). */
  epoch: number;
  history: RestartHistory;
  /** In backoff, not claimable before this time (ms since the epoch). */
  notBefore: number;
}

/** A running, reachable instance of a need. */
export interface Service {
  instancename: string;
  machine: { id: string; address: string };
  pid: number;
  ports: Partial<Record<Protocol, number>>;
  since: string;
  epoch: number;
}

const DEFAULT_NEED_TIMEOUT = 60_000;
const MAX_NEED_TIMEOUT = 24 * 3600_000;

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function bad(message: string): DaeError {
  return new DaeError('ERR_BAD_ARGS', message);
}

/** Checks what `need add` was given and returns a fresh, unsatisfied need. */
export function checkNeed(input: unknown, now = Date.now()): Need {
  if (!isObject(input)) throw bad(`a need is an object, got ${JSON.stringify(input)}`);
  const known = new Set(['instancename', 'script', 'args', 'env', 'ports', 'pin', 'timeout', 'interpreter', 'ready', 'after']);
  for (const key of Object.keys(input)) if (!known.has(key)) throw bad(`unknown need field "${key}" (known: ${[...known].join(', ')})`);
  const instancename = checkName(input.instancename);
  const { script, args = [], env = {}, ports = {}, pin = null, timeout = DEFAULT_NEED_TIMEOUT, interpreter, ready, after } = input;
  if (interpreter !== undefined && interpreter !== 'none' && (typeof interpreter !== 'string' || !interpreter.startsWith('/'))) {
    throw bad(`interpreter must be an absolute path or none, got ${JSON.stringify(interpreter)}`);
  }
  if (ready !== undefined) parseReady(ready);
  if (after !== undefined && (!Array.isArray(after) || !after.every((name) => typeof name === 'string'))) throw bad(`after must be a list of need names, got ${JSON.stringify(after)}`);
  (after as string[] | undefined)?.forEach((name) => checkName(name));
  if ((after as string[] | undefined)?.includes(instancename)) throw bad(`need ${instancename} cannot wait for itself`);
  if (typeof script !== 'string' || !script.startsWith('/')) throw bad(`script must be an absolute path, got ${JSON.stringify(script)}`);
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) throw bad(`args must be a list of strings, got ${JSON.stringify(args)}`);
  if (!isObject(env) || !Object.entries(env).every(([k, v]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !k.startsWith('DAE') && typeof v === 'string')) {
    throw bad(`env must map NAME to string (no DAE* names), got ${JSON.stringify(env)}`);
  }
  const unsafe = codeLoadingVariable(env as Record<string, string>);
  if (unsafe !== null) throw bad(`env ${unsafe} would load code from outside the machines' allowedscripts: not allowed`);
  const checkedPorts = checkPortMap(ports, 'ports');
  if (pin !== null && (typeof pin !== 'string' || !isPin(pin))) throw bad(`pin must be an address or an IPv4 CIDR, got ${JSON.stringify(pin)}`);
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 100 || timeout > MAX_NEED_TIMEOUT) {
    throw bad(`timeout must be a whole number of ms from 100 to ${MAX_NEED_TIMEOUT}, got ${JSON.stringify(timeout)}`);
  }
  return {
    instancename,
    script,
    ...(interpreter !== undefined ? { interpreter: interpreter as string } : {}),
    ...(ready !== undefined ? { ready: ready as string } : {}),
    ...(after !== undefined && (after as string[]).length > 0 ? { after: [...new Set(after as string[])] } : {}),
    args: args as string[],
    env: env as Record<string, string>,
    ports: checkedPorts,
    pin: pin as string | null,
    timeout,
    status: 'unsatisfied',
    reason: null,
    claim: null,
    // Epochs of a need added again continue past those of the one removed: its old copies are told apart.
    epoch: now,
    history: FRESH_HISTORY,
    notBefore: 0,
  };
}

function isPin(pin: string): boolean {
  const slash = pin.indexOf('/');
  if (slash === -1) return pin.length > 0 && pin.length <= 253 && !/\s/.test(pin);
  const bits = Number(pin.slice(slash + 1));
  return isIPv4(pin.slice(0, slash)) && /^\d{1,2}$/.test(pin.slice(slash + 1)) && bits <= 32;
}
