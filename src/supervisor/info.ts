// `info`: one daemon in full, from its group (still without secrets or environment values), and the part anyone who
// may `list` may see.
import type { Group } from './group.js';
import { logFile } from '../logs/log-keeper.js';
import type { ListEntry } from './managed.js';
import { defaultHealth } from './readiness.js';
import type { DaemonSpec } from './spec.js';

export interface DaemonInfo extends ListEntry {
  args: string[];
  cwd: string;
  env: string[];
  restart: DaemonSpec['restart'];
  maxRestarts: number;
  minUptime: number;
  stopSignal: string;
  stopTimeout: number;
  maxMemory: number;
  stopped: boolean;
  /** Its log: both streams, every instance (rotated files beside it, `.1` the newest of them). */
  log: string;
  /** `node`, an interpreter's path, or null (it runs by itself). */
  interpreter: string | null;
  ready: string;
  health: string;
  after: string[];
  /** `inherit`: the supervisor holds its sockets and hands them to each run; `own`: it binds its own. */
  sockets: 'inherit' | 'own';
  /** The supervisor holds its sockets right now. */
  held: boolean;
  /** How many instances it runs (`list` has one entry each). */
  instances: number;
}

export type PublicInfo = Omit<DaemonInfo, 'args' | 'cwd' | 'env'>;

/** The daemon in full: instance 0's entry and the spec. */
export function describeDaemon(group: Group, logDir: string): DaemonInfo {
  const { spec, name } = group;
  return {
    ...group.members[0]!.entry(),
    args: spec.args,
    cwd: spec.cwd,
    env: Object.keys(spec.env),
    restart: spec.restart,
    maxRestarts: spec.maxRestarts,
    minUptime: spec.minUptime,
    stopSignal: spec.stopSignal,
    stopTimeout: spec.stopTimeout,
    maxMemory: spec.maxMemory,
    stopped: spec.stopped,
    log: logFile(logDir, name),
    interpreter: spec.interpreter === undefined ? 'node' : spec.interpreter,
    ready: spec.ready ?? 'auto',
    health: spec.health ?? defaultHealth(spec.ready ?? 'auto'),
    after: spec.after ?? [],
    sockets: spec.sockets ?? 'own',
    held: group.sockets.holding,
    instances: group.count,
  };
}

/** Without args, cwd and environment names (an argument may be `--password=…`). */
export function publicPart(info: DaemonInfo): PublicInfo {
  const rest: Partial<DaemonInfo> = { ...info };
  delete rest.args;
  delete rest.cwd;
  delete rest.env;
  return rest as PublicInfo;
}
