// What a starting supervisor does with the runs an earlier one left: adopt, reap, start, give back, kill strays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideTakeBack } from '../../src/supervisor/take-back.js';
import type { DaemonSpec, PersistedState } from '../../src/supervisor/spec.js';
import type { RunProcess } from '../../src/supervisor/runs.js';

const RUN_DIR = '/home/me/.dae/run';
const spec = (name: string, more: Partial<DaemonSpec> = {}): DaemonSpec => ({
  name, script: `/srv/${name}.js`, args: [], env: {}, cwd: '/srv', restart: 'always', maxRestarts: 10, minUptime: 5000,
  stopSignal: 'SIGTERM', stopTimeout: 5000, maxMemory: 0, leases: {}, stopped: false, ...more,
});
const proc = (pid: number, secret: string, more: Partial<RunProcess> = {}): RunProcess => ({ pid, pgid: pid, started: pid, secret, runtimeDir: RUN_DIR, ...more });

test('a recorded run that is alive is adopted; one whose record was written ahead of its spawn is found by its secret', () => {
  const state: PersistedState = { version: 1, daemons: [
    { spec: spec('up'), run: { pid: 10, secret: 'a', startedAt: 1 }, restarts: 2 },
    { spec: spec('early'), run: { pid: null, secret: 'b', startedAt: 1 } },
  ] };
  // The early run's own process (a group leader) and a grandchild that left with setsid, started later.
  const found = [proc(10, 'a'), proc(21, 'b'), proc(30, 'b', { pgid: 30, started: 40 })];
  const plan = decideTakeBack(state, found, { runtimeDir: RUN_DIR, followsLan: false });
  assert.deepEqual(plan.keep.map(({ spec: s, adopt, start, restarts }) => [s.name, adopt?.pid ?? null, start, restarts]), [['up', 10, false, 2], ['early', 21, false, 0]]);
  assert.deepEqual([plan.reap, plan.strays, plan.giveBack], [[], [], []]);
});

test('a dead or reused pid is started afresh, and what is left of its run reaped first; a stopped daemon keeps nothing running', () => {
  const state: PersistedState = { version: 1, daemons: [
    { spec: spec('gone'), run: { pid: 10, secret: 'a', startedAt: 1 } },
    { spec: spec('orphaned'), run: { pid: 11, secret: 'b', startedAt: 1 } },
    { spec: spec('off', { stopped: true }), run: { pid: 12, secret: 'c', startedAt: 1 } },
  ] };
  // `orphaned`: its leader died, a grandchild of the run lives on; `off`: stopped, yet a process of it runs.
  const found = [proc(13, 'b', { pgid: 11 }), proc(12, 'c')];
  const plan = decideTakeBack(state, found, { runtimeDir: RUN_DIR, followsLan: false });
  assert.deepEqual(plan.keep.map(({ spec: s, adopt, start }) => [s.name, adopt, start]), [['gone', null, true], ['orphaned', null, true], ['off', null, false]]);
  assert.deepEqual(plan.reap.map((run) => run.secret), ['b', 'c']);
});

test('a LAN daemon is given back by a supervisor that follows no LAN; a process of this home no record knows is a stray', () => {
  const state: PersistedState = { version: 1, daemons: [{ spec: spec('placed', { lan: { need: 'placed', epoch: 3 } }), run: { pid: 10, secret: 'a', startedAt: 1 } }] };
  const found = [proc(10, 'a'), proc(50, 'z'), proc(51, 'z', { pgid: 50 }), proc(60, 'y', { runtimeDir: '/elsewhere/run' })];
  const standalone = decideTakeBack(state, found, { runtimeDir: RUN_DIR, followsLan: false });
  assert.deepEqual([standalone.keep, standalone.giveBack.map((s) => s.name)], [[], ['placed']]);
  assert.deepEqual(standalone.reap.map((run) => [run.pid, run.secret]), [[10, 'a'], [50, 'z']], 'one reap per stray run; another home\'s is not ours');
  assert.deepEqual(standalone.strays.map((stray) => stray.pid), [50]);
  const machine = decideTakeBack(state, found, { runtimeDir: RUN_DIR, followsLan: true });
  assert.equal(machine.keep[0]?.adopt?.pid, 10, 'a machine manager keeps its LAN daemons');
});

test('instances: each copy is adopted; a reload cut short keeps its old run (the unproven new one is reaped), or the new one when the old is gone; copies past the count go', () => {
  const run = (pid: number, secret: string): { pid: number; secret: string; startedAt: number } => ({ pid, secret, startedAt: 1 });
  const state: PersistedState = {
    version: 1,
    daemons: [{
      spec: spec('web', { instances: 3 }),
      run: run(10, 'a0'),
      restarts: 1,
      copies: [
        { instance: 1, run: run(11, 'a1'), restarts: 0 },
        // The reload of instance 0 had started its new run when the supervisor died.
        { instance: 0, run: run(20, 'b0'), restarts: 0 },
        // Instance 2's old run had died meanwhile: its new one is kept.
        { instance: 2, run: run(12, 'a2'), restarts: 0 },
        { instance: 2, run: run(22, 'b2'), restarts: 0 },
        // Its new run for instance 1 had not been spawned: the old one stays.
        { instance: 1, run: { pid: null, secret: 'b1', startedAt: 0 }, restarts: 0 },
        { instance: 3, run: run(13, 'a3'), restarts: 0 },
      ],
    }],
  };
  const found = [proc(10, 'a0'), proc(11, 'a1'), proc(20, 'b0'), proc(13, 'a3'), proc(22, 'b2')];
  const plan = decideTakeBack(state, found, { runtimeDir: RUN_DIR, followsLan: false });
  assert.deepEqual(plan.keep.map(({ instance, adopt, start }) => [instance, adopt?.pid ?? null, start]).sort(), [[0, 10, false], [1, 11, false], [2, 22, false]].sort());
  assert.deepEqual(plan.reap.map((r) => r.pid).sort(), [13, 20]);
  assert.deepEqual(plan.strays, []);
});
