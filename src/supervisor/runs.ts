// A run's processes: its process group plus anything carrying its secret (a grandchild that left with setsid), and
// every process of a home (its runtime directory in the environment), found by one shared scan of /proc.
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { groupAlive, killGroup } from './process.js';

/** A process started for some home by some supervisor, as its environment and /proc/<pid>/stat tell. */
export interface RunProcess {
  pid: number;
  pgid: number;
  /** Start time in clock ticks since boot: the earliest of a run's processes is the one the supervisor spawned. */
  started: number;
  secret: string;
  runtimeDir: string | null;
}

function variable(environ: string, name: string): string | null {
  const at = environ.startsWith(`${name}=`) ? 0 : environ.indexOf(`\0${name}=`);
  if (at === -1) return null;
  const start = environ.indexOf('=', at) + 1;
  const end = environ.indexOf('\0', start);
  return environ.slice(start, end === -1 ? undefined : end);
}

async function readProcess(pid: number): Promise<RunProcess | null> {
  try {
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
    const secret = variable(environ, 'DAE_SECRET');
    if (secret === null) return null;
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return { pid, pgid: Number(fields[2]), started: Number(fields[19]), secret, runtimeDir: variable(environ, 'DAE_RUNTIME_DIR') };
  } catch {
    return null; // gone meanwhile, or another user's
  }
}

async function scanOnce(): Promise<RunProcess[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== process.pid);
  const found = await Promise.all(pids.map(readProcess));
  return found.filter((item): item is RunProcess => item !== null);
}

let current: Promise<RunProcess[]> | null = null;
let next: Promise<RunProcess[]> | null = null;

function begin(): Promise<RunProcess[]> {
  const scan = scanOnce();
  current = scan;
  void scan.finally(() => {
    if (current === scan) current = null;
  });
  return scan;
}

/**
 * Every live process that carries a dae run secret. Callers at the same moment share one scan; a caller arriving during
 * a scan gets the next one (the running one may have read /proc before what it waits for happened).
 */
export function scanRuns(): Promise<RunProcess[]> {
  if (current === null) return begin();
  const after = (): Promise<RunProcess[]> => {
    next = null;
    return begin();
  };
  next ??= current.then(after, after);
  return next;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

/** Sends `name` to the run's group and to every process that left it but carries its secret. */
export async function signalRun(run: { pid: number | null; secret: string }, name: NodeJS.Signals): Promise<void> {
  if (run.pid !== null) killGroup(run.pid, name);
  for (const found of await scanRuns()) if (found.secret === run.secret) signal(found.pid, name);
}

/** SIGKILLs whatever is left of a run (its group, and processes with its secret) and resolves once none runs. */
export async function reapRun(run: { pid: number | null; secret: string }, timeout = 2000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (run.pid !== null && groupAlive(run.pid)) killGroup(run.pid, 'SIGKILL');
    const left = (await scanRuns()).filter((found) => found.secret === run.secret);
    for (const found of left) signal(found.pid, 'SIGKILL');
    if ((left.length === 0 && (run.pid === null || !groupAlive(run.pid))) || Date.now() > deadline) return;
    await delay(5);
  }
}
