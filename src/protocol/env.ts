// The original dae's environment contract, as a supervised daemon reads it.
import { DaeError } from '../errors.js';

export interface DaeEnv {
  /** `DAE` is set: a supervisor started this process. */
  readonly supervised: boolean;
  readonly supervisorPid: number | undefined;
  readonly supervisorPort: number | undefined;
  readonly secret: string | undefined;
  readonly name: string | undefined;
  readonly tcpPort: number | undefined;
  readonly httpPort: number | undefined;
  readonly wsPort: number | undefined;
  readonly runtimeDir: string | undefined;
  /** The address to bind (a machine manager's advertised address for daemons placed by the LAN). */
  readonly host: string | undefined;
  /** Which copy of the daemon this run is (`--instances`); 0 when unset. */
  readonly instance: number;
}

function integer(env: NodeJS.ProcessEnv, key: string, max: number): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > max) throw new DaeError('ERR_BAD_OPTION', `${key} must be an integer from 0 to ${max}, got ${JSON.stringify(raw)}`);
  return value;
}

/** Reads and checks the `DAE_*` variables. */
export function readDaeEnv(env: NodeJS.ProcessEnv = process.env): DaeEnv {
  const text = (key: string): string | undefined => (env[key] === undefined || env[key] === '' ? undefined : env[key]);
  return {
    supervised: text('DAE') !== undefined,
    supervisorPid: integer(env, 'DAE_PID', 2 ** 31),
    supervisorPort: integer(env, 'DAE_PORT', 65535),
    secret: text('DAE_SECRET'),
    name: text('DAE_NAME'),
    tcpPort: integer(env, 'DAE_TCP_PORT', 65535),
    httpPort: integer(env, 'DAE_HTTP_PORT', 65535),
    wsPort: integer(env, 'DAE_WS_PORT', 65535),
    runtimeDir: text('DAE_RUNTIME_DIR'),
    host: text('DAE_HOST'),
    instance: integer(env, 'DAE_INSTANCE', 63) ?? 0,
  };
}
