// daeconfig.json: every key with its default, and a check that names the key, what was expected and what was found.
import { constants } from 'node:os';
import { DaeError } from '../errors.js';
import { DEFAULT_POLICY, type RestartPolicy } from './policy.js';

export type Protocol = 'tcp' | 'http' | 'ws';
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'http', 'ws'];

export interface DaeConfig {
  /** Address of the supervisor's TCP door and of the daemons it runs. */
  host: string;
  /** The supervisor's Common TCP port; 0 = OS-assigned (recorded in the home). */
  port: number;
  /** Where each protocol's port leases start. */
  portrangestart: Record<Protocol, number>;
  /** `null` = standalone; `"host:port"` or a list of them = a machine manager of that LAN manager. */
  lanmanageraddress: string | string[] | null;
  /** The cluster token a machine manager presents to its LAN managers. */
  lantoken: string | null;
  /** The address this machine is reached at; daemons placed by the LAN bind it. */
  advertisedaddress: string;
  /** Directories whose scripts the LAN may run here; nothing else (none by default). */
  allowedscripts: string[];
  restart: RestartPolicy;
  stopSignal: string;
  /** ms between the stop signal and SIGKILL. */
  stopTimeout: number;
  /** ms a new run has to become ready (its `--ready` mode); past it, the start failed (a quick exit). */
  readyTimeout: number;
  /** `--ready auto`: a run that has not reported ready is online once it has stayed up this long (ms). */
  readyAfter: number;
  /** ms a daemon left running by a previous supervisor has to re-connect before it is restarted. */
  adoptTimeout: number;
  liveness: { interval: number; misses: number };
  /** ms between CPU and memory samples (and `maxMemory` checks). */
  sampleInterval: number;
  /** Per daemon, both streams and every instance together: files of at most `maxBytes`, `files` of them kept (the one
   * written included); a line over `maxLine` bytes is cut with a marker. */
  logs: { maxBytes: number; files: number; maxLine: number };
  /** The supervisor's HTTP door (metrics, the dashboard): its port, 0 = OS-assigned, null = none. Bound to `host`. */
  http: number | null;
}

export const DEFAULT_CONFIG: Readonly<DaeConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 23550,
  portrangestart: { tcp: 15000, http: 16000, ws: 17000 },
  lanmanageraddress: null,
  lantoken: null,
  advertisedaddress: '127.0.0.1',
  allowedscripts: [],
  restart: { ...DEFAULT_POLICY },
  stopSignal: 'SIGTERM',
  stopTimeout: 5000,
  readyTimeout: 10_000,
  readyAfter: 1000,
  adoptTimeout: 10_000,
  liveness: { interval: 5000, misses: 3 },
  sampleInterval: 5000,
  logs: { maxBytes: 10 * 1024 * 1024, files: 5, maxLine: 64 * 1024 },
  http: 23555,
});

/** The most files a log may be kept in. */
export const MAX_LOG_FILES = 100;

type Check = (value: unknown) => string | null;

const wholeFrom = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (value) =>
  typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? null : `a whole number from ${min} to ${max}`;
const oneOf = (options: readonly string[]): Check => (value) =>
  typeof value === 'string' && options.includes(value) ? null : `one of ${options.join(', ')}`;
const nonEmptyString: Check = (value) => (typeof value === 'string' && value.trim() !== '' ? null : 'a non-empty string');
const HOST_PORT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/;
const lanAddress: Check = (value) => {
  const ok = (item: unknown): boolean => typeof item === 'string' && HOST_PORT.test(item) && Number(item.slice(item.lastIndexOf(':') + 1)) <= 65535;
  if (value === null || ok(value) || (Array.isArray(value) && value.length > 0 && value.every(ok))) return null;
  return 'null, "host:port" or a non-empty list of "host:port"';
};

const lanToken: Check = (value) => (value === null || (typeof value === 'string' && value.length >= 16) ? null : 'null or a token of at least 16 characters');
const absoluteDirs: Check = (value) =>
  Array.isArray(value) && value.every((dir) => typeof dir === 'string' && dir.startsWith('/')) ? null : 'a list of absolute directory paths';

const SIGNALS = Object.keys(constants.signals);

// Maps, not object literals: a key named like an Object.prototype member (`valueOf`, `__proto__`) is just unknown.
const GROUPS = new Map<string, Map<string, Check>>([
  ['portrangestart', new Map([['tcp', wholeFrom(1, 65535)], ['http', wholeFrom(1, 65535)], ['ws', wholeFrom(1, 65535)]])],
  ['restart', new Map([
    ['mode', oneOf(['always', 'on-failure', 'never'])],
    ['minUptime', wholeFrom(0)],
    ['maxRestarts', wholeFrom(1)],
    ['backoffBase', wholeFrom(0)],
    ['backoffMax', wholeFrom(0)],
    ['resetAfter', wholeFrom(0)],
  ])],
  ['liveness', new Map([['interval', wholeFrom(0)], ['misses', wholeFrom(1)]])],
  ['logs', new Map([['maxBytes', wholeFrom(1024)], ['files', wholeFrom(1, MAX_LOG_FILES)], ['maxLine', wholeFrom(64)]])],
]);

const KEYS = new Map<string, Check | Map<string, Check>>([
  ['host', nonEmptyString],
  ['port', wholeFrom(0, 65535)],
  ['portrangestart', GROUPS.get('portrangestart')!],
  ['lanmanageraddress', lanAddress],
  ['lantoken', lanToken],
  ['advertisedaddress', nonEmptyString],
  ['allowedscripts', absoluteDirs],
  ['restart', GROUPS.get('restart')!],
  ['stopSignal', oneOf(SIGNALS)],
  ['stopTimeout', wholeFrom(0)],
  ['readyTimeout', wholeFrom(1)],
  ['readyAfter', wholeFrom(0)],
  ['adoptTimeout', wholeFrom(1)],
  ['liveness', GROUPS.get('liveness')!],
  ['sampleInterval', wholeFrom(100)],
  ['logs', GROUPS.get('logs')!],
  ['http', (value) => (value === null ? null : wholeFrom(0, 65535)(value) === null ? null : 'a port from 0 to 65535, or null (no HTTP door)')],
]);

function found(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Every problem of the input, each naming the key, what was expected and what was found; the config when none.
function collect(input: Record<string, unknown>, problems: string[]): DaeConfig {
  const out = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) {
    const rule = KEYS.get(key);
    if (rule === undefined) {
      problems.push(`unknown key ${JSON.stringify(key)} (known: ${[...KEYS.keys()].join(', ')})`);
      continue;
    }
    if (typeof rule === 'function') {
      const expected = rule(value);
      if (expected === null) out[key] = value;
      else problems.push(`key "${key}" expected ${expected}, found ${found(value)}`);
      continue;
    }
    if (!isObject(value)) {
      problems.push(`key "${key}" expected an object with ${[...rule.keys()].join(', ')}, found ${found(value)}`);
      continue;
    }
    const group = out[key] as Record<string, unknown>;
    for (const [inner, innerValue] of Object.entries(value)) {
      const check = rule.get(inner);
      if (check === undefined) {
        problems.push(`unknown key ${JSON.stringify(`${key}.${inner}`)} (known: ${[...rule.keys()].join(', ')})`);
        continue;
      }
      const expected = check(innerValue);
      if (expected === null) group[inner] = innerValue;
      else problems.push(`key "${key}.${inner}" expected ${expected}, found ${found(innerValue)}`);
    }
  }
  const config = out as unknown as DaeConfig;
  if (config.restart.backoffMax < config.restart.backoffBase) {
    problems.push(`key "restart.backoffMax" expected at least restart.backoffBase (${config.restart.backoffBase}), found ${config.restart.backoffMax}`);
  }
  if (config.lanmanageraddress !== null && config.lantoken === null) {
    problems.push('key "lantoken" expected the LAN\'s cluster token (lanmanageraddress is set), found null');
  }
  return config;
}

/** Checks a parsed config (missing keys take their defaults) and returns the whole config; every problem at once. */
export function checkConfig(input: unknown, source = 'daeconfig.json'): DaeConfig {
  if (!isObject(input)) throw new DaeError('ERR_BAD_CONFIG', `${source}: expected a JSON object, found ${found(input)}`);
  const problems: string[] = [];
  const config = collect(input, problems);
  if (problems.length === 1) throw new DaeError('ERR_BAD_CONFIG', `${source}: ${problems[0]}`);
  if (problems.length > 1) throw new DaeError('ERR_BAD_CONFIG', `${source}: ${problems.length} problems: ${problems.join('; ')}`);
  return config;
}

/** Parses the text of a config file. */
export function parseConfig(text: string, source = 'daeconfig.json'): DaeConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DaeError('ERR_BAD_CONFIG', `${source}: not valid JSON (${(error as Error).message})`);
  }
  return checkConfig(value, source);
}
