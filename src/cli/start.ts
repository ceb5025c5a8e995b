// `dae start`: the supervisor in the background (returns once it answers) or in the foreground.
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaeError } from '../errors.js';
import { DEFAULT_CONFIG, parseConfig, type DaeConfig } from '../supervisor/config.js';
import { Dae } from '../supervisor/dae.js';
import { home, supervisorRuns } from './control.js';
import { startDetached } from './detached.js';
import { checkOwnerOnly } from '../supervisor/private.js';
import { prepareHome, writePrivate } from '../supervisor/home.js';

/**
 * The config file: the one given, else `daeconfig.json` in the working directory when there is one (a machine manager's
 * folder), else `daeconfig.json` in the home, written with every default when missing.
 */
export function configPath(file: string | undefined): string {
  if (file !== undefined) return resolve(file);
  return existsSync('daeconfig.json') ? resolve('daeconfig.json') : join(home().root, 'daeconfig.json');
}

/** Reads the config file (see `configPath`); the home's is written with every default when missing. */
export function loadConfig(file: string | undefined): { path: string; config: DaeConfig } {
  const path = configPath(file);
  if (!existsSync(path)) {
    if (file !== undefined) throw new DaeError('ERR_BAD_CONFIG', `${path} does not exist`);
    prepareHome(home());
    writePrivate(path, `${JSON.stringify(DEFAULT_CONFIG, null, 2)}\n`);
  }
  // It names what may run here (allowedscripts) and the LAN to obey: only its owner may have written it.
  const fd = openSync(path, 'r');
  try {
    checkOwnerOnly(path, fstatSync(fd));
    return { path, config: parseConfig(readFileSync(fd, 'utf8'), path) };
  } finally {
    closeSync(fd);
  }
}

/** Runs the supervisor in this process until it is killed or stopped. */
export async function startForeground(configFile: string | undefined): Promise<void> {
  const { config } = loadConfig(configFile);
  const send = process.send?.bind(process);
  const dae = new Dae({ config, echo: send === undefined });
  try {
    await dae.start();
  } catch (error) {
    if (send) send({ error: (error as Error).message });
    throw error;
  }
  const stop = (): void => void dae.stop().then(() => process.exit(0), () => process.exit(1));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  dae.once('exit', () => process.exit(0));
  if (send) {
    send({ pid: process.pid, port: dae.port });
    process.disconnect?.();
  }
}

/** Starts the supervisor in the background; resolves with its pid once it answers. */
export async function startBackground(configFile: string | undefined): Promise<{ pid: number; port: number; already: boolean; config: string }> {
  const paths = home();
  let config = configPath(configFile);
  const started = await startDetached({
    paths,
    what: 'the supervisor',
    running: () => supervisorRuns(paths),
    script: fileURLToPath(new URL('./foreground.js', import.meta.url)),
    args: () => {
      config = loadConfig(configFile).path;
      return ['--config', config];
    },
  });
  return { ...started, config };
}
