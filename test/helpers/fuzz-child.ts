// Runs the fuzz target in its own process: waits for the port it reports, racing early exit and a deadline.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TARGET = fileURLToPath(new URL('../fixtures/daemons/fuzz-target.js', import.meta.url));
const READY = /^(\S+) ready: (\{.*\}) \(pid (\d+)\)$/;

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface FuzzTarget {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly exited: Promise<ChildExit>;
  /** True until the process exits. */
  alive(): boolean;
  /** What the process wrote to stderr, for failure messages. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. Safe to call twice. */
  stop(graceMs?: number): Promise<ChildExit>;
}

export interface StartOptions {
  /** Extra environment (the parent's `DAE_*` variables are never passed on). */
  readonly env?: Readonly<Record<string, string>>;
  readonly readyTimeout?: number;
}

/** Spawns `node fuzz-target.js` on 127.0.0.1:0 and resolves once it printed where it listens. */
export async function startFuzzTarget(options: StartOptions = {}): Promise<FuzzTarget> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DAE') && key !== 'DEBUG'));
  const child = spawn(process.execPath, [TARGET], { env: { ...env, ...options.env, DAE_TCP_PORT: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let exit: ChildExit | null = null;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve((exit = { code, signal })));
  });
  let errors = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (errors = (errors + text).slice(-4000)));

  const stop = async (graceMs = 5000): Promise<ChildExit> => {
    if (exit) return exit;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(force);
    }
  };

  let out = '';
  let onReady!: (match: RegExpMatchArray) => void;
  const ready = new Promise<RegExpMatchArray>((resolve) => (onReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    out += text;
    for (let nl = out.indexOf('\n'); nl !== -1; nl = out.indexOf('\n')) {
      const match = READY.exec(out.slice(0, nl));
      out = out.slice(nl + 1);
      if (match) onReady(match);
    }
  });

  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(new Error(`the fuzz target did not report ready within ${options.readyTimeout ?? 10_000} ms`)), options.readyTimeout ?? 10_000);
  });
  const early = exited.then((how): never => {
    throw new Error(`the fuzz target exited before ready (${JSON.stringify(how)}): ${errors}`);
  });
  early.catch(() => undefined); // it also settles after a successful start, when the process finally exits
  try {
    const match = await Promise.race([ready, late, early]);
    const ports = JSON.parse(match[2]!) as { tcp?: unknown };
    if (typeof ports.tcp !== 'number') throw new Error(`the fuzz target reported no tcp port: ${match[0]}`);
    return { name: match[1]!, pid: Number(match[3]), port: ports.tcp, exited, alive: () => exit === null, stderr: () => errors, stop };
  } catch (error) {
    await stop(1000);
    throw error;
  } finally {
    clearTimeout(deadline);
  }
}
