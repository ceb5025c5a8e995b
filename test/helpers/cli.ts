// The real `dae` binary as a child process, and the processes it leaves, read from /proc.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where a CLI run happens: its DAE_HOME, working directory and any variables added to the environment. */
export interface Place {
  home: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

// The CLI sees nothing of a supervisor this test runner might itself run under.
export const baseEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'DAE' && !key.startsWith('DAE_')));

/** Runs the CLI in `place`. */
export function dae(place: Place, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...baseEnv, DAE_HOME: place.home, ...place.env }, cwd: place.cwd, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI and expects exit 0 with nothing on stderr; returns stdout. */
export async function ok(place: Place, ...args: string[]): Promise<string> {
  const run = await dae(place, ...args);
  assert.equal(run.code, 0, `dae ${args.join(' ')} exited ${run.code}: ${run.stderr}${run.stdout}`);
  assert.equal(run.stderr, '', `dae ${args.join(' ')} wrote to stderr`);
  return run.stdout;
}

/** Runs the CLI and expects `code` with exactly one line on stderr (for exit 1) matching `line`. */
export async function fails(place: Place, code: number, line: RegExp, ...args: string[]): Promise<Run> {
  const run = await dae(place, ...args);
  assert.equal(run.code, code, `dae ${args.join(' ')}: expected exit ${code}, got ${run.code}: ${run.stderr}${run.stdout}`);
  if (code === 1) assert.equal(run.stderr.split('\n').length, 2, `dae ${args.join(' ')}: one line on stderr, got ${JSON.stringify(run.stderr)}`);
  assert.match(run.stderr, line);
  return run;
}

// --- processes, read from /proc (zombies count as dead: nobody may reap orphans in a container) ---

export function procStat(pid: number): { state: string; pgrp: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

export function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X';
}

export function environ(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return [];
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return [];
  }
}

/** Live processes (not this one) whose environment and pid pass `test`. */
export function processesWhere(test: (env: string[], pid: number) => boolean): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid !== process.pid && alive(pid) && test(environ(pid), pid)) pids.push(pid);
  }
  return pids;
}

/** Live processes started with this DAE_HOME: supervisors, LAN managers, stray CLI runs. */
export function homeProcesses(home: string): number[] {
  return processesWhere((env) => env.includes(`DAE_HOME=${home}`));
}

export function sigkill(pid: number): void {
  try {
    // A daemon leads its own group: the group goes with it. Anything else goes alone.
    process.kill(procStat(pid)?.pgrp === pid ? -pid : pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
