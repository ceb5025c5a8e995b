// PM2 for comparison: its programmatic API on a temporary PM2_HOME, and `pm2 kill` afterwards so nothing stays.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type * as Pm2Api from 'pm2';
import { running, untilGone } from './procfs.js';

const KILL_DEADLINE_MS = 20_000;

export interface Pm2App {
  name: string;
  script: string;
  env: Record<string, string>;
}

export interface Pm2 {
  readonly home: string;
  /** The PM2 daemon ("God") process. */
  readonly daemonPid: number;
  /** Starts apps as one ecosystem (`{apps: [...]}`), fork mode (or cluster mode with `cluster` instances each),
   * restart at once, never given up. */
  start(apps: readonly Pm2App[], cluster?: number): Promise<void>;
  /** `pm2 reload <name>`: resolves when PM2 says it is done. */
  reload(name: string): Promise<void>;
  /** Deletes apps (stopping them first); resolves when PM2 says they are gone. */
  remove(names: readonly string[]): Promise<void>;
  /** Deletes every app, disconnects, kills the PM2 daemon with `pm2 kill`, waits for it to go and removes the home. */
  close(): Promise<void>;
}

const PM2_BIN = join(dirname(createRequire(import.meta.url).resolve('pm2/package.json')), 'bin', 'pm2');

// `pm2 <args>` from node_modules with this PM2_HOME; resolves with the exit code.
function pm2Cli(home: string, args: readonly string[], deadlineMs = KILL_DEADLINE_MS): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PM2_BIN, ...args], { env: { ...process.env, PM2_HOME: home }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
    child.once('error', () => resolve(null));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

// PM2 reads PM2_HOME (and writes files there) when it is first imported: every PM2 daemon this process starts (one per
// suite) lives in that folder, removed when the process exits.
let sharedHome: string | undefined;

/**
 * Starts a PM2 daemon on this process's PM2_HOME, set in its environment before PM2 is imported (the PM2 daemon
 * inherits it too). One at a time.
 */
export async function startPm2(): Promise<Pm2> {
  if (sharedHome === undefined) {
    const made = mkdtempSync(join(tmpdir(), 'pm2-bench-'));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    sharedHome = made;
  }
  const home = sharedHome;
  const before = process.env.PM2_HOME;
  process.env.PM2_HOME = home;
  const api = ((await import('pm2')) as unknown as { default: typeof Pm2Api }).default;
  // PM2 calls back with (error, value); its errors are not always Error objects.
  const call = <T = unknown>(method: unknown, ...args: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      (method as (...a: unknown[]) => void).call(api, ...args, (error: unknown, value: T) => {
        if (error) reject(error instanceof Error ? error : new Error(`pm2: ${JSON.stringify(error)}`));
        else resolve(value);
      });
    });
  let daemonPid = NaN;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= closeOnce());
  const closeOnce = async (): Promise<void> => {
    await call(api.delete, 'all').catch(() => undefined);
    // Disconnect while the daemon still runs: once it is gone, PM2's socket would try to reconnect forever.
    try {
      api.disconnect();
    } catch {
      // never connected
    }
    await pm2Cli(home, ['kill']);
    const gone = Number.isNaN(daemonPid) || (await untilGone(daemonPid, KILL_DEADLINE_MS));
    if (before === undefined) delete process.env.PM2_HOME;
    else process.env.PM2_HOME = before;
    if (!gone) throw new Error(`the PM2 daemon (pid ${daemonPid}) is still running after pm2 kill`);
  };
  try {
    await call(api.connect);
    daemonPid = Number(readFileSync(join(home, 'pm2.pid'), 'utf8').trim());
    if (!running(daemonPid)) throw new Error(`no PM2 daemon runs with the pid in ${home}/pm2.pid (${daemonPid})`);
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return {
    home,
    daemonPid,
    async start(apps, cluster) {
      const ecosystem = {
        apps: apps.map((app) => ({
          ...app,
          exec_mode: cluster === undefined ? 'fork' : 'cluster',
          instances: cluster ?? 1,
          autorestart: true,
          restart_delay: 0,
          // Never "unstable": the benchmark kills the same app twenty times in a row on purpose.
          min_uptime: 0,
          max_restarts: 1_000_000,
          watch: false,
        })),
      };
      await call(api.start, ecosystem);
    },
    async reload(name) {
      await call(api.reload, name);
    },
    async remove(names) {
      for (const name of names) await call(api.delete, name);
    },
    close,
  };
}
