// The restart policy: a pure function from the last exit and the history to the next decision.

export type RestartMode = 'always' | 'on-failure' | 'never';

export interface RestartPolicy {
  mode: RestartMode;
  /** An exit sooner than this after the start (ms) counts as a quick exit. */
  minUptime: number;
  /** This many quick exits in a row make the daemon `errored`. */
  maxRestarts: number;
  /** First backoff delay (ms); doubles with each further quick exit. */
  backoffBase: number;
  backoffMax: number;
  /** Staying up this long (ms) resets the backoff. */
  resetAfter: number;
}

export const DEFAULT_POLICY: Readonly<RestartPolicy> = Object.freeze({
  mode: 'always',
  minUptime: 5_000,
  maxRestarts: 10,
  backoffBase: 100,
  backoffMax: 30_000,
  resetAfter: 30_000,
});

/** What is carried from one exit to the next. */
export interface RestartHistory {
  quickExits: number;
  nextDelay: number;
}

export const FRESH_HISTORY: Readonly<RestartHistory> = Object.freeze({ quickExits: 0, nextDelay: 0 });

export interface ExitFacts {
  exitCode: number | null;
  signal: string | null;
  /** How long the run lasted (ms). */
  uptime: number;
  /** It never became ready: a failed start (a quick exit), however long it lasted. */
  neverReady?: boolean;
}

export type Decision =
  | { action: 'restart'; delay: number; history: RestartHistory; reason: string }
  | { action: 'stop'; status: 'stopped' | 'errored'; history: RestartHistory; reason: string };

/** Words for an exit: "exited with code 1", "killed by SIGKILL". */
export function describeExit(exit: Pick<ExitFacts, 'exitCode' | 'signal'>): string {
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with code ${exit.exitCode}`;
}

/** Decides what follows an exit that nobody asked for. */
export function decideRestart(policy: RestartPolicy, history: RestartHistory, exit: ExitFacts): Decision {
  const what = describeExit(exit);
  const clean = exit.exitCode === 0 && exit.signal === null;
  const base = exit.uptime >= policy.resetAfter && exit.neverReady !== true ? FRESH_HISTORY : history;
  if (policy.mode === 'never') return { action: 'stop', status: 'stopped', history: base, reason: `${what} (restart: never)` };
  if (policy.mode === 'on-failure' && clean) return { action: 'stop', status: 'stopped', history: base, reason: `${what} (restart: on-failure)` };
  if (exit.uptime >= policy.minUptime && exit.neverReady !== true) {
    // It was up: the first restart is immediate, and the row of quick exits is broken.
    return { action: 'restart', delay: 0, history: { quickExits: 0, nextDelay: base.nextDelay }, reason: what };
  }
  const quickExits = base.quickExits + 1;
  if (quickExits >= policy.maxRestarts) {
    return {
      action: 'stop', status: 'errored', history: { quickExits, nextDelay: base.nextDelay },
      reason: `${what}; ${quickExits} exits in a row within ${policy.minUptime} ms of starting or before it was ready: not restarted (dae restart clears this)`,
    };
  }
  const delay = base.nextDelay;
  const nextDelay = delay === 0 ? policy.backoffBase : Math.min(delay * 2, policy.backoffMax);
  return { action: 'restart', delay, history: { quickExits, nextDelay }, reason: exit.neverReady === true ? `${what}: it never became ready` : `${what} within ${exit.uptime} ms of starting` };
}
