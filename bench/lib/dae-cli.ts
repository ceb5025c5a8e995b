// A dae supervisor in its own process, started by the real CLI (`dae start`) on a temporary home and working
// directory (holding its daeconfig.json), driven over its control socket; and the CLI itself, timed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Client } from '../../src/index.js';
import { killIfOurs, running, untilGone } from './procfs.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
// The background supervisor's own entry, which `dae start` spawns.
const FOREGROUND = fileURLToPath(new URL('../../src/cli/foreground.js', import.meta.url));
const CLI_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 20_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit (ms). */
  ms: number;
}

export interface CliSupervisor {
  readonly pid: number;
  readonly home: string;
  /** A connection to the control socket (trusted: protected commands need no token). */
  readonly client: Client;
  /** Runs `dae <args>` against this supervisor's home. */
  cli(args: readonly string[]): Promise<CliRun>;
  /** `kill --keep-daemons`: the supervisor goes, its daemons keep running for the next supervisor on this home. */
  release(): Promise<void>;
  /** `kill` (every daemon stopped gracefully, then the supervisor); SIGKILLs what is left; removes the home. */
  stop(): Promise<void>;
}

function runCli(args: readonly string[], cwd: string, home: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DAE_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let ms = NaN;
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_DEADLINE_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', () => (ms = performance.now() - started));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms });
    });
  });
}

// Pids of the daemons a supervisor recorded in its state file (its last word on what runs).
function recordedPids(home: string): number[] {
  try {
    const state = JSON.parse(readFileSync(join(home, 'state.json'), 'utf8')) as { daemons: { run: { pid: number } | null }[] };
    return state.daemons.flatMap((daemon) => (daemon.run ? [daemon.run.pid] : []));
  } catch {
    return [];
  }
}

/**
 * Writes `config` as daeconfig.json in a fresh working directory and runs `dae start` there with a fresh
 * DAE_HOME; resolves once the supervisor answers on its control socket. `marker` is a path every daemon's
 * command line holds (the fixture script), so that cleanup never kills a stranger with a reused pid.
 */
export async function startCliSupervisor(config: Record<string, unknown>, marker: string): Promise<CliSupervisor> {
  const cwd = mkdtempSync(join(tmpdir(), 'dae-bench-cwd-'));
  const home = mkdtempSync(join(tmpdir(), 'dae-bench-'));
  // Its HTTP door as by default, on a port of the OS's (two may run at once).
  writeFileSync(join(cwd, 'daeconfig.json'), `${JSON.stringify({ http: 0, ...config }, null, 2)}\n`);
  let pid = NaN;
  let client: Client | undefined;
  const seen = new Set<number>();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stopOnce());
  const stopOnce = async (): Promise<void> => {
    try {
      if (client !== undefined && !client.closed) {
        const list = (await client.call('list').catch(() => [])) as { pid: number | null }[];
        for (const entry of list) if (entry.pid !== null) seen.add(entry.pid);
        await client.call('kill', false).catch(() => undefined);
      }
      if (!Number.isNaN(pid) && !(await untilGone(pid, STOP_DEADLINE_MS))) killIfOurs(pid, FOREGROUND);
    } finally {
      client?.destroy();
      for (const daemon of [...seen, ...recordedPids(home)]) killIfOurs(daemon, marker);
      rmSync(home, { recursive: true, force: true });
      rmSync(cwd, { recursive: true, force: true });
    }
  };
  try {
    const started = await runCli(['start'], cwd, home);
    const match = /dae started \(pid (\d+),/.exec(started.stdout);
    if (started.code !== 0 || !match) throw new Error(`dae start failed (code ${started.code}): ${started.stdout}${started.stderr}`);
    pid = Number(match[1]);
    if (!running(pid)) throw new Error(`dae start reported pid ${pid}, which does not run`);
    client = await Client.connect({ path: join(home, 'run', 'dae.sock'), timeout: CLI_DEADLINE_MS });
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  const connected = client;
  const release = async (): Promise<void> => {
    await connected.call('kill', true);
    connected.destroy();
    if (!(await untilGone(pid, STOP_DEADLINE_MS))) throw new Error(`the supervisor (pid ${pid}) did not exit after kill --keep-daemons`);
  };
  return { pid, home, client: connected, cli: (args) => runCli(args, cwd, home), release, stop };
}
