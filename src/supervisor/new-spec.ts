// An install's options into the daemon's spec: checked, its program found (a bare name on PATH, kept as its absolute
// path), its `--after` daemons checked, and the config's defaults filled in.
import { existsSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { DaeError } from '../errors.js';
import type { DaeConfig, Protocol } from './config.js';
import { checkAfter } from './order.js';
import { resolveProgram } from './program.js';
import { probesPort } from './readiness.js';
import { checkInstallOptions, type DaemonSpec, type InstallOptions, type LanPlacement } from './spec.js';

export interface SpecContext {
  config: DaeConfig;
  /** Every installed daemon's `--after`, by name. */
  dependencies: Map<string, readonly string[]>;
  /** Placed by the LAN manager: the address it binds and the need it satisfies. */
  placement: { host: string; lan: LanPlacement } | null;
}

/** The spec of a daemon to install, and the ports asked for (leased later); throws ERR_BAD_ARGS naming what is wrong. */
export function newSpec(name: string, script: string, options: InstallOptions, context: SpecContext): { spec: DaemonSpec; ports: Partial<Record<Protocol, number>> } {
  const { config, placement } = context;
  const checked = checkInstallOptions(options);
  const cwd = resolvePath(checked.cwd ?? process.cwd());
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new DaeError('ERR_BAD_ARGS', `cwd ${cwd} is not a directory`);
  const { program, interpreter } = resolveProgram(script, checked.interpreter, cwd, checked.env?.PATH ?? process.env.PATH);
  if (checked.after !== undefined) checkAfter(name, checked.after, context.dependencies);
  if (checked.sockets === 'inherit' && probesPort(checked)) {
    throw new DaeError('ERR_BAD_ARGS', `${name}: a port probe cannot tell whether a program with held sockets is ready or healthy (a held socket accepts into its backlog whatever the program does): use --ready http:<path>, report, none or auto`);
  }
  if (placement !== null && (checked.instances ?? 1) > 1) throw new DaeError('ERR_BAD_ARGS', `${name}: a daemon the LAN places runs one instance`);
  const spec: DaemonSpec = {
    name,
    script: program,
    interpreter,
    ready: checked.ready ?? 'auto',
    ...(checked.health !== undefined ? { health: checked.health } : {}),
    ...(checked.after !== undefined && checked.after.length > 0 ? { after: checked.after } : {}),
    ...(checked.sockets !== undefined ? { sockets: checked.sockets } : {}),
    ...(checked.instances !== undefined && checked.instances > 1 ? { instances: checked.instances } : {}),
    args: checked.args ?? [],
    env: checked.env ?? {},
    cwd,
    restart: checked.restart ?? config.restart.mode,
    maxRestarts: checked.maxRestarts ?? config.restart.maxRestarts,
    minUptime: checked.minUptime ?? config.restart.minUptime,
    stopSignal: checked.stopSignal ?? config.stopSignal,
    stopTimeout: checked.stopTimeout ?? config.stopTimeout,
    maxMemory: checked.maxMemory ?? 0,
    leases: {},
    stopped: false,
    ...placement,
  };
  return { spec, ports: checked.ports ?? {} };
}
