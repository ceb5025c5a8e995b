// Server processes for benchmarks: spawn, wait for the port they report, stop (SIGTERM, then SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const READY_TIMEOUT_MS = 10_000;
const KILL_AFTER_MS = 3_000;

export interface ServerChild {
  readonly port: number;
  readonly pid: number;
  /** The child's own CPU time so far (µs), from `process.cpuUsage()`: immune to time spent waiting for a core. */
  cpuUsage(): Promise<Usage>;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** Extra node flags for the child (e.g. `--cpu-prof`). */
  execArgv?: readonly string[];
  label: string;
}

function exited(child: ChildProcess): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ exitCode: child.exitCode, signal: child.signalCode });
  return once(child, 'exit').then(([exitCode, signal]) => ({ exitCode: exitCode as number | null, signal: signal as NodeJS.Signals | null }));
}

async function stopChild(child: ChildProcess): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }> {
  const gone = exited(child);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    try {
      return await gone;
    } finally {
      clearTimeout(killer);
    }
  }
  return gone;
}

type Usage = { user: number; system: number };

// The value under `key` when `line` is a JSON object reporting it, else undefined.
function reported(line: string, key: 'port' | 'cpu'): unknown {
  if (!line.startsWith(`{"${key}"`)) return undefined;
  try {
    return (JSON.parse(line) as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * Runs `node script ...args`; the child must print a `{"port":N}` line on stdout (other lines go to stderr,
 * e.g. from `--trace-*` flags). Rejects on early exit or after a deadline, having killed the child. The
 * child should exit when its stdin closes, so that it never outlives the benchmark.
 */
export async function spawnServer(script: string, args: readonly string[], options: SpawnOptions): Promise<ServerChild> {
  const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin!.on('error', () => {}); // EPIPE once the child is gone; its exit rejects whatever waits
  const waiting: { resolve(usage: Usage): void; reject(error: Error): void }[] = [];
  let onPort: ((port: number) => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const port = reported(line, 'port');
    const cpu = reported(line, 'cpu') as Usage | undefined;
    if (onPort && typeof port === 'number' && Number.isInteger(port) && port > 0) onPort(port);
    else if (cpu !== undefined && waiting.length > 0) waiting.shift()!.resolve(cpu);
    else process.stderr.write(`[${options.label}] ${line}\n`);
  });
  child.once('exit', () => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${options.label} exited`));
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${options.label}: no port reported within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`${options.label}: exited before reporting a port (code ${code}, signal ${signal})`)));
      onPort = resolve;
    });
    onPort = undefined;
    const cpuUsage = (): Promise<Usage> =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`${options.label} has exited`));
        waiting.push({ resolve, reject });
        child.stdin!.write('cpu\n');
      });
    return { port, pid: child.pid ?? -1, cpuUsage, stop: () => stopChild(child) };
  } catch (error) {
    await stopChild(child);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * In a server child: report the port, answer `cpu` lines on stdin with `{"cpu":{user,system}}`, and call
 * `stop` on SIGTERM, SIGINT or when the parent goes away (stdin closes).
 */
export function reportReady(port: number, stop: () => Promise<void>): void {
  let stopping = false;
  const finish = (): void => {
    if (stopping) return;
    stopping = true;
    // process.exit (not a signal death) so that `--cpu-prof` gets to write its profile.
    stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  const commands = createInterface({ input: process.stdin });
  commands.on('line', (line) => {
    if (line.trim() === 'cpu') process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage() })}\n`);
  });
  commands.on('close', finish);
  process.stdin.on('error', finish);
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}
