// Processes on Linux: spawning a daemon in its own group, signalling groups, and reading /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface SpawnSpec {
  /** The program's absolute path. */
  program: string;
  /** `node` (this process's node), an interpreter's absolute path, or null: the program runs by itself. */
  interpreter: string | null;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** File descriptors opened in append mode for stdout and stderr. */
  stdout: number;
  stderr: number;
  /** Listening sockets handed over from descriptor 3 on (systemd's convention: `LISTEN_PID` is set to the child's pid
   * by a shell that then execs the program, so the pid is right). */
  sockets?: readonly number[];
  /** Opens Node's IPC channel (after the sockets), for a program that may hand its sockets over. */
  ipc?: boolean;
}

/** Spawns the program (under its interpreter) as the leader of a new process group (and session): nothing wraps it. */
export function spawnProgram(spec: SpawnSpec): ChildProcess {
  const [command, args] = spec.interpreter === null ? [spec.program, spec.args] : [spec.interpreter === 'node' ? process.execPath : spec.interpreter, [spec.program, ...spec.args]];
  const sockets = spec.sockets ?? [];
  // The shell's pid is the program's once it execs: LISTEN_PID must name the process the sockets are for.
  const [file, argv] = sockets.length === 0 ? [command, args] : ['/bin/sh', ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', command, ...args]];
  return spawn(file, argv, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: ['ignore', spec.stdout, spec.stderr, ...sockets, ...(spec.ipc === true ? ['ipc' as const] : [])],
  });
}

/** Signals a whole process group; false when nobody was left in it. */
export function killGroup(pgid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` runs; a zombie nobody reaped (orphans in a container whose init does not reap) is dead. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** True when `pid` is stopped (SIGSTOP, a debugger): alive, but it cannot answer. */
export function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

/** True when anything still runs in the process group (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  if (!killGroup(pgid, 0)) return false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** SIGKILLs what is left of a process group and resolves once nothing of it runs (or after `timeout` ms). */
export async function reapGroup(pgid: number, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (groupAlive(pgid) && Date.now() < deadline) {
    killGroup(pgid, 'SIGKILL');
    await delay(5);
  }
}

/** True when process `pid` carries `DAE_SECRET=<secret>`: a reused pid proves nothing, the secret does. */
export function hasSecret(pid: number, secret: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`DAE_SECRET=${secret}`);
  } catch {
    return false;
  }
}

/** CPU time (clock ticks) and resident memory (bytes) of a whole process group, and how many processes it has. */
export interface GroupSample {
  ticks: number;
  rss: number;
  processes: number;
}

/** Every process group's CPU and memory, from one pass over /proc (children a daemon spawned count with it). */
export function sampleGroups(): Map<number, GroupSample> {
  const groups = new Map<number, GroupSample>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') continue;
    const pgid = Number(fields[2]);
    const group = groups.get(pgid) ?? { ticks: 0, rss: 0, processes: 0 };
    group.ticks += Number(fields[11]) + Number(fields[12]);
    group.rss += Number(fields[21]) * PAGE_SIZE;
    group.processes++;
    groups.set(pgid, group);
  }
  return groups;
}

/** A live process's start time (clock ticks since boot), or null when it is gone (a zombie is gone). */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? null : Number(fields[19]);
  } catch {
    return null;
  }
}

export const PAGE_SIZE = 4096;
export const CLOCK_TICKS = 100;

/** A process's command line as one string, for messages ('' when it cannot be read). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ').slice(0, 200);
  } catch {
    return '';
  }
}

/** The pid listening on a local TCP port, found through /proc (null when none or unknown). */
export function portHolder(port: number): number | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      const local = columns[1];
      if (local === undefined || columns[3] !== '0A') continue;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && columns[9] !== undefined) inodes.add(columns[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}
