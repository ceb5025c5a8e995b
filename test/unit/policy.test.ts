// The restart policy, without processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRestart, DEFAULT_POLICY, FRESH_HISTORY, type Decision, type RestartHistory } from '../../src/supervisor/policy.js';

function crashLoop(count: number, policy = DEFAULT_POLICY): Decision[] {
  let history: RestartHistory = FRESH_HISTORY;
  const decisions: Decision[] = [];
  for (let i = 0; i < count; i++) {
    const decision = decideRestart(policy, history, { exitCode: 1, signal: null, uptime: 10 });
    decisions.push(decision);
    history = decision.history;
    if (decision.action === 'stop') break;
  }
  return decisions;
}

test('a crash loop: immediate first, then doubling from 100 ms, errored at the 10th quick exit', () => {
  const decisions = crashLoop(20);
  assert.deepEqual(decisions.filter((d) => d.action === 'restart').map((d) => (d as { delay: number }).delay), [0, 100, 200, 400, 800, 1600, 3200, 6400, 12800]);
  const last = decisions.at(-1)!;
  assert.equal(last.action, 'stop');
  assert.equal((last as { status: string }).status, 'errored');
  assert.match(last.reason, /exited with code 1; 10 exits in a row within 5000 ms/);
});

test('the delay is capped at backoffMax', () => {
  const decisions = crashLoop(30, { ...DEFAULT_POLICY, maxRestarts: 20 });
  const delays = decisions.filter((d) => d.action === 'restart').map((d) => (d as { delay: number }).delay);
  assert.equal(Math.max(...delays), 30_000);
  assert.deepEqual(delays.slice(-3), [30_000, 30_000, 30_000]);
});

test('an exit after the daemon was up restarts at once and breaks the row; 30 s up resets the backoff', () => {
  let history: RestartHistory = { quickExits: 5, nextDelay: 3200 };
  const up = decideRestart(DEFAULT_POLICY, history, { exitCode: 1, signal: null, uptime: 6_000 });
  assert.deepEqual(up, { action: 'restart', delay: 0, history: { quickExits: 0, nextDelay: 3200 }, reason: 'exited with code 1' });
  history = up.history;
  const quick = decideRestart(DEFAULT_POLICY, history, { exitCode: 1, signal: null, uptime: 10 });
  assert.equal((quick as { delay: number }).delay, 3200);
  const long = decideRestart(DEFAULT_POLICY, { quickExits: 9, nextDelay: 12800 }, { exitCode: null, signal: 'SIGKILL', uptime: 30_000 });
  assert.deepEqual(long, { action: 'restart', delay: 0, history: { quickExits: 0, nextDelay: 0 }, reason: 'killed by SIGKILL' });
});

test('on-failure stops after a clean exit and restarts after a failure; never never restarts', () => {
  const onFailure = { ...DEFAULT_POLICY, mode: 'on-failure' as const };
  assert.equal(decideRestart(onFailure, FRESH_HISTORY, { exitCode: 0, signal: null, uptime: 10 }).action, 'stop');
  assert.equal(decideRestart(onFailure, FRESH_HISTORY, { exitCode: 2, signal: null, uptime: 10 }).action, 'restart');
  assert.equal(decideRestart(onFailure, FRESH_HISTORY, { exitCode: null, signal: 'SIGSEGV', uptime: 10 }).action, 'restart');
  const never = decideRestart({ ...DEFAULT_POLICY, mode: 'never' }, FRESH_HISTORY, { exitCode: 1, signal: null, uptime: 10 });
  assert.deepEqual([never.action, (never as { status: string }).status, never.reason], ['stop', 'stopped', 'exited with code 1 (restart: never)']);
  assert.equal(decideRestart(DEFAULT_POLICY, FRESH_HISTORY, { exitCode: 0, signal: null, uptime: 10 }).action, 'restart');
});

test('a zero backoff base restarts at once every time until errored', () => {
  const decisions = crashLoop(20, { ...DEFAULT_POLICY, backoffBase: 0 });
  assert.deepEqual(decisions.filter((d) => d.action === 'restart').map((d) => (d as { delay: number }).delay), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
});
