// What is installed (the desired state, persisted) and how install options are checked.
import { constants } from 'node:os';
import { DaeError } from '../errors.js';
import type { Protocol } from './config.js';
import type { RestartMode } from './policy.js';
import { parseHealth, parseReady } from './readiness.js';

export const STATUSES = ['waiting', 'starting', 'online', 'stopping', 'stopped', 'backoff', 'errored'] as const;
export type Status = (typeof STATUSES)[number];

/** One installed daemon, as asked for: never what is observed. */
export interface DaemonSpec {
  name: string;
  /** The program (absolute path): a Node script, or any executable. */
  script: string;
  /** `node` (the supervisor's), an interpreter's absolute path, or null: it runs by itself. Absent: `node`. */
  interpreter?: string | null;
  /** When a run is ready (`--ready`): report, port, port:<n>, http:<path>, none or auto. Absent: auto. */
  ready?: string;
  /** How its health is checked (`--health`). Absent: what `ready` implies. */
  health?: string;
  /** Daemons that must be online before it starts (`--after`). */
  after?: string[];
  /** `inherit`: the supervisor holds its sockets and hands them to each run (LISTEN_FDS); `own`: it binds its own.
   * Absent: `own` until a dae daemon's first run hands its sockets over. */
  sockets?: 'inherit' | 'own';
  /** A dae daemon that hands its sockets over: whenever the supervisor holds none (a start after `stop`), its run
   * binds and listens itself and hands them over again, so no socket is ever bound here and left not listening. */
  handsOver?: boolean;
  /** How many copies run on its held sockets (`--instances`, `dae scale`); absent: 1. */
  instances?: number;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  restart: RestartMode;
  maxRestarts: number;
  minUptime: number;
  stopSignal: string;
  stopTimeout: number;
  /** Restart when RSS stays above this many bytes; 0 = no limit. */
  maxMemory: number;
  leases: Partial<Record<Protocol, number>>;
  /** The user stopped it: it stays stopped across supervisor restarts. */
  stopped: boolean;
  /** The address the daemon binds (`DAE_HOST`); absent = the supervisor's `host`. */
  host?: string;
  /** Placed by the LAN manager: which need it satisfies, under which claim. */
  lan?: LanPlacement;
}

export interface LanPlacement {
  need: string;
  epoch: number;
}

/** The run a supervisor left behind, kept so the next one can take it back (the secret proves it). */
export interface RunRecord {
  /** It sent a dae ready report: after a supervisor restart it re-connects; a run that never did is adopted as it is. */
  reported?: boolean;
  /** Its start time in clock ticks since boot: with the pid, it proves a run that rewrote its environment. */
  startTicks?: number;
  /** null while the spawn is under way: the record is written first, so a crash never leaves an unknown process. */
  pid: number | null;
  secret: string;
  startedAt: number;
}

/** A copy of a daemon beside instance 0: another instance, or the new run of a reload in progress (same instance). */
export interface CopyRecord {
  instance: number;
  run: RunRecord | null;
  restarts: number;
}

export interface PersistedState {
  version: 1;
  /** `run`, `restarts`: instance 0's (`restarts`: how often the supervisor restarted it so far; absent in older files:
   * 0); `copies`: the other instances' and a reload's new runs. */
  daemons: Array<{ spec: DaemonSpec; run: RunRecord | null; restarts?: number; copies?: CopyRecord[] }>;
}

/** Options of `install`, from the wire, the library or the CLI. */
export interface InstallOptions {
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  restart?: RestartMode;
  maxRestarts?: number;
  minUptime?: number;
  stopSignal?: string;
  stopTimeout?: number;
  maxMemory?: number;
  /** Ports to lease exactly, per protocol; install fails with ERR_NO_PORT when one is taken. */
  ports?: Partial<Record<Protocol, number>>;
  /** A path, a command name, or `none` (run the program by itself); default: node for .js/.mjs/.cjs, else none. */
  interpreter?: string;
  ready?: string;
  health?: string;
  after?: string[];
  /** `inherit`: hold the sockets from the first run on (a systemd-style program); `own`: never. */
  sockets?: 'inherit' | 'own';
  /** Copies on the same sockets (default 1). */
  instances?: number;
}

export const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The most copies of one daemon (`--instances`, `dae scale`). */
export const MAX_INSTANCES = 64;

/** Checks an instance count: a whole number from 1 to MAX_INSTANCES. */
export function checkInstances(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_INSTANCES) {
    throw new DaeError('ERR_BAD_ARGS', `instances must be a whole number from 1 to ${MAX_INSTANCES}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks a daemon name: it becomes part of file names. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name) || name === '.' || name === '..') {
    throw new DaeError('ERR_BAD_ARGS', `name must be 1-64 of A-Z a-z 0-9 . _ - (not . or ..), got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Checks `{tcp?, http?, ws?}` port numbers; `label` names the field in the error. */
export function checkPortMap(value: unknown, label: string): Partial<Record<Protocol, number>> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DaeError('ERR_BAD_ARGS', `${label} must be an object like {"tcp": 15000}, got ${JSON.stringify(value)}`);
  const ports: Partial<Record<Protocol, number>> = {};
  for (const [protocol, port] of Object.entries(value)) {
    if (protocol !== 'tcp' && protocol !== 'http' && protocol !== 'ws') throw new DaeError('ERR_BAD_ARGS', `${label}.${protocol}: the protocols are tcp, http and ws`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new DaeError('ERR_BAD_ARGS', `${label}.${protocol} must be a port from 1 to 65535, got ${JSON.stringify(port)}`);
    ports[protocol] = port;
  }
  return ports;
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Linux refuses a single argument or variable over 128 KiB (E2BIG); NUL bytes cannot be passed at all.
const MAX_ARG = 128 * 1024;

function checkArgText(what: string, value: string): void {
  if (value.includes('\0')) throw new DaeError('ERR_BAD_ARGS', `${what} holds a NUL byte`);
  if (Buffer.byteLength(value) >= MAX_ARG) throw new DaeError('ERR_BAD_ARGS', `${what} is over ${MAX_ARG} bytes`);
}

function whole(key: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new DaeError('ERR_BAD_ARGS', `option ${key} must be a whole number >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Checks install options field by field; unknown keys are refused. */
export function checkInstallOptions(input: unknown): InstallOptions {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new DaeError('ERR_BAD_ARGS', `install options must be an object, got ${JSON.stringify(input)}`);
  const out: InstallOptions = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    switch (key) {
      case 'args':
        if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new DaeError('ERR_BAD_ARGS', `option args must be a list of strings, got ${JSON.stringify(value)}`);
        value.forEach((arg: string, i: number) => checkArgText(`args[${i}]`, arg));
        out.args = value;
        break;
      case 'env': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DaeError('ERR_BAD_ARGS', `option env must be an object of strings, got ${JSON.stringify(value)}`);
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(value)) {
          if (!ENV_KEY.test(k) || typeof v !== 'string') throw new DaeError('ERR_BAD_ARGS', `option env: ${JSON.stringify(k)}=${JSON.stringify(v)} is not NAME=string`);
          if (k.startsWith('DAE_') || k === 'DAE') throw new DaeError('ERR_BAD_ARGS', `option env: ${k} is set by the supervisor`);
          checkArgText(`option env: ${k}`, `${k}=${v}`);
          env[k] = v;
        }
        out.env = env;
        break;
      }
      case 'cwd':
        if (typeof value !== 'string' || value === '') throw new DaeError('ERR_BAD_ARGS', `option cwd must be a directory path, got ${JSON.stringify(value)}`);
        out.cwd = value;
        break;
      case 'restart':
        if (value !== 'always' && value !== 'on-failure' && value !== 'never') throw new DaeError('ERR_BAD_ARGS', `option restart must be always, on-failure or never, got ${JSON.stringify(value)}`);
        out.restart = value;
        break;
      case 'maxRestarts':
        out.maxRestarts = whole(key, value, 1);
        break;
      case 'minUptime':
      case 'stopTimeout':
      case 'maxMemory':
        out[key] = whole(key, value, 0);
        break;
      case 'ports':
        out.ports = checkPortMap(value, 'option ports');
        break;
      case 'interpreter':
        if (typeof value !== 'string' || value === '') throw new DaeError('ERR_BAD_ARGS', `option interpreter must be a path, a command name or none, got ${JSON.stringify(value)}`);
        out.interpreter = value;
        break;
      case 'ready':
        parseReady(value);
        out.ready = value as string;
        break;
      case 'health':
        parseHealth(value);
        out.health = value as string;
        break;
      case 'after':
        if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new DaeError('ERR_BAD_ARGS', `option after must be a list of daemon names, got ${JSON.stringify(value)}`);
        value.forEach((item: string) => checkName(item));
        out.after = [...new Set(value as string[])];
        break;
      case 'sockets':
        if (value !== 'inherit' && value !== 'own') throw new DaeError('ERR_BAD_ARGS', `option sockets must be inherit or own, got ${JSON.stringify(value)}`);
        out.sockets = value;
        break;
      case 'instances':
        out.instances = checkInstances(value);
        break;
      case 'stopSignal':
        if (typeof value !== 'string' || !(value in constants.signals)) throw new DaeError('ERR_BAD_ARGS', `option stopSignal must be a signal name like SIGTERM, got ${JSON.stringify(value)}`);
        out.stopSignal = value;
        break;
      default:
        throw new DaeError('ERR_BAD_ARGS', `unknown install option ${JSON.stringify(key)} (known: args, env, cwd, restart, maxRestarts, minUptime, stopSignal, stopTimeout, maxMemory, ports, interpreter, ready, health, after, sockets, instances)`);
    }
  }
  return out;
}

type FieldCheck = (value: unknown) => string | null;

const isWhole = (min: number): FieldCheck => (value) => (typeof value === 'number' && Number.isInteger(value) && value >= min ? null : `a whole number >= ${min}`);
const isString: FieldCheck = (value) => (typeof value === 'string' ? null : 'a string');
const isAbsolute: FieldCheck = (value) => (typeof value === 'string' && value.startsWith('/') ? null : 'an absolute path');
const isStrings: FieldCheck = (value) => (Array.isArray(value) && value.every((item) => typeof item === 'string') ? null : 'a list of strings');
const isEnv: FieldCheck = (value) =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && Object.entries(value).every(([k, v]) => ENV_KEY.test(k) && typeof v === 'string') ? null : 'an object of NAME: string';
const isBoolean: FieldCheck = (value) => (typeof value === 'boolean' ? null : 'true or false');
const isRestart: FieldCheck = (value) => (value === 'always' || value === 'on-failure' || value === 'never' ? null : 'always, on-failure or never');
const isSignal: FieldCheck = (value) => (typeof value === 'string' && value in constants.signals ? null : 'a signal name');
const isLeases: FieldCheck = (value) => {
  try {
    checkPortMap(value, 'leases');
    return null;
  } catch {
    return 'an object like {"tcp": 15000}';
  }
};
const isPlacement: FieldCheck = (value) => {
  const lan = value as LanPlacement;
  return lan !== null && typeof lan === 'object' && typeof lan.need === 'string' && Number.isInteger(lan.epoch) ? null : '{need, epoch}';
};

const SPEC_FIELDS = new Map<string, { check: FieldCheck; optional?: true }>([
  ['name', { check: (value) => (typeof value === 'string' && NAME.test(value) ? null : 'a daemon name') }],
  ['script', { check: isAbsolute }],
  ['args', { check: isStrings }],
  ['env', { check: isEnv }],
  ['cwd', { check: isAbsolute }],
  ['restart', { check: isRestart }],
  ['maxRestarts', { check: isWhole(1) }],
  ['minUptime', { check: isWhole(0) }],
  ['stopSignal', { check: isSignal }],
  ['stopTimeout', { check: isWhole(0) }],
  ['maxMemory', { check: isWhole(0) }],
  ['leases', { check: isLeases }],
  ['stopped', { check: isBoolean }],
  ['instances', { check: (value) => (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_INSTANCES ? null : `a whole number from 1 to ${MAX_INSTANCES}`), optional: true }],
  ['interpreter', { check: (value) => (value === null || isAbsolute(value) === null || value === 'node' ? null : '"node", an absolute path or null'), optional: true }],
  ['ready', { check: (value) => checks(() => parseReady(value)), optional: true }],
  ['health', { check: (value) => checks(() => parseHealth(value)), optional: true }],
  ['after', { check: (value) => (Array.isArray(value) && value.every((item) => typeof item === 'string' && NAME.test(item)) ? null : 'a list of daemon names'), optional: true }],
  ['sockets', { check: (value) => (value === 'inherit' || value === 'own' ? null : 'inherit or own'), optional: true }],
  ['handsOver', { check: isBoolean, optional: true }],
  ['host', { check: isString, optional: true }],
  ['lan', { check: isPlacement, optional: true }],
]);

// A check that throws (a parser) as a field check.
function checks(parse: () => unknown): string | null {
  try {
    parse();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const RUN_FIELDS = new Map<string, FieldCheck>([
  // null: written ahead of the spawn, before the pid is known (the secret finds the process).
  ['pid', (value) => (value === null || (Number.isInteger(value) && (value as number) > 0) ? null : 'a process id or null')],
  ['secret', (value) => (typeof value === 'string' && /^[0-9a-f]{16,128}$/.test(value) ? null : 'a hex secret')],
  ['startedAt', isWhole(0)],
  ['reported', isBoolean],
  ['startTicks', isWhole(0)],
]);
const RUN_RULES = new Map([...RUN_FIELDS].map(([k, check]) => [k, { check, ...(k === 'reported' || k === 'startTicks' ? { optional: true as const } : {}) }]));
const COPY_FIELDS = new Map<string, { check: FieldCheck }>([
  ['instance', { check: (value) => (Number.isInteger(value) && (value as number) >= 0 && (value as number) < MAX_INSTANCES ? null : `a whole number from 0 to ${MAX_INSTANCES - 1}`) }],
  ['run', { check: (value) => { if (value === null) return null; const problems: string[] = []; fields(value, 'run', RUN_RULES, problems); return problems.length === 0 ? null : problems.join('; '); } }],
  ['restarts', { check: isWhole(0) }],
]);

function fields(value: unknown, where: string, rules: Map<string, { check: FieldCheck; optional?: true }>, problems: string[]): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${where} expected an object, found ${JSON.stringify(value)?.slice(0, 100)}`);
    return;
  }
  const record = value as Record<string, unknown>;
  for (const [key, rule] of rules) {
    if (!Object.hasOwn(record, key)) {
      if (!rule.optional) problems.push(`${where}.${key} is missing`);
      continue;
    }
    const expected = rule.check(record[key]);
    if (expected !== null) problems.push(`${where}.${key} expected ${expected}, found ${JSON.stringify(record[key])?.slice(0, 100)}`);
  }
  for (const key of Object.keys(record)) if (!rules.has(key)) problems.push(`${where}.${key} is not a field`);
}

/** Checks a state file's content field by field: every problem, each naming the field (ERR_BAD_STATE). */
export function checkState(value: unknown, source: string): PersistedState {
  const state = value as PersistedState;
  if (state === null || typeof state !== 'object' || state.version !== 1 || !Array.isArray(state.daemons)) {
    throw new DaeError('ERR_BAD_STATE', `${source} is not a dae state file (version 1); it was left as it is`);
  }
  const problems: string[] = [];
  const names = new Set<string>();
  state.daemons.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object') return void problems.push(`daemons[${i}] expected {spec, run}, found ${JSON.stringify(entry)}`);
    fields(entry.spec, `daemons[${i}].spec`, SPEC_FIELDS, problems);
    if (!Object.hasOwn(entry, 'run')) problems.push(`daemons[${i}].run is missing`);
    if (entry.restarts !== undefined && isWhole(0)(entry.restarts) !== null) problems.push(`daemons[${i}].restarts expected a whole number >= 0, found ${JSON.stringify(entry.restarts)}`);
    else if (entry.run !== null) fields(entry.run, `daemons[${i}].run`, RUN_RULES, problems);
    if (entry.copies !== undefined && !Array.isArray(entry.copies)) problems.push(`daemons[${i}].copies expected a list, found ${JSON.stringify(entry.copies)?.slice(0, 100)}`);
    else (entry.copies ?? []).forEach((copy, j) => fields(copy, `daemons[${i}].copies[${j}]`, COPY_FIELDS, problems));
    const name = (entry.spec as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && names.has(name)) problems.push(`daemons[${i}].spec.name ${name} is installed twice`);
    if (typeof name === 'string') names.add(name);
  });
  if (problems.length > 0) {
    throw new DaeError('ERR_BAD_STATE', `${source}: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''}; it was left as it is`);
  }
  return state;
}
