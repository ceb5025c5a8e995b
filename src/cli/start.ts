// `dae start`: the supervisor in the background (returns once it answers) or in the foreground.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { DaeError } from '../errors.js';
import { DEFAULT_CONFIG, parseConfig, type DaeConfig } from '../supervisor/config.js';
import { Dae } from '../supervisor/dae.js';
import { prepareHome } from '../supervisor/home.js';
import { home, supervisorRuns } from './control.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

/** Reads daeconfig.json (from the working directory unless given), writing one with every default when missing. */
export function loadConfig(file: string | undefined): { path: string; config: DaeConfig } {
  const path = resolve(file ?? 'daeconfig.json');
  if (!existsSync(path)) {
    if (file !== undefined) throw new DaeError('ERR_BAD_CONFIG', `${path} does not exist`);
    writeFileSync(path, `${JSON.stringify(DEFAULT_CONFIG, null, 2)}\n`, { mode: 0o600 });
  }
  return { path, config: parseConfig(readFileSync(path, 'utf8'), path) };
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

const WINNER_WAIT_MS = 10_000;

async function waitForWinner(paths: ReturnType<typeof home>): Promise<{ pid: number; port: number } | null> {
  const deadline = Date.now() + WINNER_WAIT_MS;
  while (Date.now() < deadline) {
    const running = await supervisorRuns(paths);
    if (running) return running;
    await delay(25);
  }
  return null;
}

/** Starts the supervisor in the background; resolves with its pid once it answers. */
export async function startBackground(configFile: string | undefined): Promise<{ pid: number; port: number; already: boolean }> {
  const paths = home();
  const running = await supervisorRuns(paths);
  if (running) return { ...running, already: true };
  const { path } = loadConfig(configFile);
  prepareHome(paths);
  const log = openSync(paths.log, 'a', 0o600);
  const child = spawn(process.execPath, [CLI, 'start', '--foreground', '--config', path], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: process.env,
  });
  closeSync(log);
  const answer = await new Promise<{ pid?: number; port?: number; error?: string }>((resolveAnswer) => {
    child.once('message', (message) => resolveAnswer(message as { pid?: number; port?: number; error?: string }));
    child.once('exit', (code) => resolveAnswer({ error: `the supervisor exited with code ${code} (see ${paths.log})` }));
  });
  child.removeAllListeners('exit');
  if (child.connected) child.disconnect();
  child.unref();
  if (answer.error !== undefined) {
    // Two starts at once: the winner holds the lock a moment before it answers; wait for it.
    const winner = /already running/.test(answer.error) ? await waitForWinner(paths) : null;
    if (winner) return { ...winner, already: true };
    throw new DaeError('ERR_START_FAILED', answer.error);
  }
  return { pid: answer.pid!, port: answer.port!, already: false };
}
