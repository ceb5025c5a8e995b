// Facts about processes from /proc (Linux): resident memory, parent, command line, liveness; and careful killing.
import { readdirSync, readFileSync } from 'node:fs';
import { isAlive } from '../../src/supervisor/process.js';

const MIB = 1024 * 1024;

/** VmRSS of `pid` in MiB, from /proc/<pid>/status; NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? (Number(match[1]) * 1024) / MIB : NaN;
  } catch {
    return NaN;
  }
}

/** VmRSS of `pid` split into anonymous and file-backed pages (MiB; the latter are mostly the node binary, shared). */
export function rssPartsMiB(pid: number): { anon: number; file: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) / 1024;
    return { anon: field('RssAnon'), file: field('RssFile') + field('RssShmem') };
  } catch {
    return { anon: NaN, file: NaN };
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`: 100 on Linux). */
const CLOCK_TICKS = 100;

/** CPU time (user + system, ms, 10 ms steps) `pid` has used so far, from /proc/<pid>/stat; NaN when it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // After the command name: state is field 3, utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** The parent pid of `pid`, or null when it is gone. */
export function parentPid(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** The argument vector of `pid` as /proc shows it (empty when it is gone). */
export function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter((arg) => arg !== '');
  } catch {
    return [];
  }
}

/** `pid` and its descendants, one line each: pid, state, argv (for error messages). */
export function describeTree(pid: number): string[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const parent = parentPid(Number(name));
    if (parent !== null) children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
  }
  const lines: string[] = [];
  const visit = (at: number, depth: number): void => {
    let state = 'gone';
    try {
      const stat = readFileSync(`/proc/${at}/stat`, 'latin1');
      state = stat[stat.lastIndexOf(')') + 2] ?? '?';
    } catch {
      // gone
    }
    lines.push(`${'  '.repeat(depth)}${at} ${state} ${JSON.stringify(commandLine(at))}`);
    for (const child of children.get(at) ?? []) visit(child, depth + 1);
  };
  visit(pid, 0);
  return lines;
}

/** True while `pid` exists and is not a zombie: the supervisor's own check. */
export const running = isAlive;

/**
 * SIGKILLs `pid` and its process group, but only while its command line still mentions `marker` (a pid seen
 * earlier may since have been reused by a stranger). True when something was killed.
 */
export function killIfOurs(pid: number, marker: string): boolean {
  if (!running(pid) || !commandLine(pid).some((arg) => arg.includes(marker))) return false;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // not a group leader, or gone meanwhile
    }
  }
  return true;
}

/** Resolves once `pid` is gone; false when it is still there at the deadline (polled every `everyMs`). */
export async function untilGone(pid: number, deadlineMs: number, everyMs = 10): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (running(pid)) {
    if (Date.now() >= end) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}

/** Pids (other than this process) whose initial environment holds exactly `entry` (`NAME=value`). */
export function pidsWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry) && running(Number(name))) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/**
 * SIGKILLs every process carrying `entry` in its environment, again until none is left (a supervisor may
 * respawn a child between two sweeps); resolves with how many were killed.
 */
export async function killAllWithEnv(entry: string, deadlineMs = 5000): Promise<number> {
  const end = Date.now() + deadlineMs;
  const killed = new Set<number>();
  for (let pids = pidsWithEnv(entry); pids.length > 0; pids = pidsWithEnv(entry)) {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // gone meanwhile
      }
    }
    if (Date.now() >= end) throw new Error(`processes with ${entry} still running after ${deadlineMs} ms: ${pids.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return killed.size;
}
