// Starting a daemon of the CLI (the supervisor, the LAN manager) detached in the background: the same CLI runs it in
// the foreground, says over IPC that it is up (or why not), and is left running; a second start finds it answering.
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { DaeError } from '../errors.js';
import { prepareHome, type HomePaths } from '../supervisor/home.js';
import { FLAGS, openPrivate } from '../supervisor/private.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
const WINNER_WAIT_MS = 10_000;

export interface DetachedOptions<T> {
  /** Its home: prepared first; its log takes the child's stdout and stderr. */
  paths: HomePaths;
  /** Who it is, for messages: `the supervisor`. */
  what: string;
  /** Who answers on the home's control socket now, or null. */
  running: () => Promise<T | null>;
  /** The script of the foreground run (default: the CLI). */
  script?: string;
  /** Its arguments; called only when nobody answers (it may throw: a bad config). */
  args: () => string[];
}

// Two starts at once: the winner holds the lock a moment before it answers; wait for it.
async function waitForWinner<T>(running: () => Promise<T | null>): Promise<T | null> {
  const deadline = Date.now() + WINNER_WAIT_MS;
  while (Date.now() < deadline) {
    const winner = await running();
    if (winner) return winner;
    await delay(25);
  }
  return null;
}

/** Starts it in the background; resolves with what it sent once it is up (`already` when one answered already). */
export async function startDetached<T extends object>(options: DetachedOptions<T>): Promise<T & { already: boolean }> {
  const running = await options.running();
  if (running) return { ...running, already: true };
  const args = options.args();
  prepareHome(options.paths);
  const log = openPrivate(options.paths.log, FLAGS.append);
  const child = spawn(process.execPath, [options.script ?? CLI, ...args], { detached: true, stdio: ['ignore', log, log, 'ipc'], env: process.env });
  closeSync(log);
  const answer = await new Promise<T | { error: string }>((resolve) => {
    child.once('message', (message) => resolve(message as T | { error: string }));
    child.once('exit', (code) => resolve({ error: `${options.what} exited with code ${code} (see ${options.paths.log})` }));
  });
  child.removeAllListeners('exit');
  if (child.connected) child.disconnect();
  child.unref();
  if ('error' in answer) {
    const winner = /already running/.test(answer.error) ? await waitForWinner(options.running) : null;
    if (winner) return { ...winner, already: true };
    throw new DaeError('ERR_START_FAILED', answer.error);
  }
  return { ...answer, already: false };
}
