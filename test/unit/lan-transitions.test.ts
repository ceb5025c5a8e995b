// How a need moves between unsatisfied, claimed, satisfied, backoff and errored: the pure transitions, no registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canServe, isAllowedScript, matchesPin } from '../../src/lan/placement.js';
import type { Need, NeedStatus } from '../../src/lan/records.js';
import { checkNeed } from '../../src/lan/records.js';
import {
  claimNeed, failNeed, holdsClaim, isClaimable, releaseNeed, satisfyNeed, sweepNeed, type SweepFacts,
} from '../../src/lan/transitions.js';
import { DEFAULT_POLICY, type ExitFacts, type RestartPolicy } from '../../src/supervisor/policy.js';

const T0 = 1_700_000_000_000;
const QUICK: ExitFacts = { exitCode: 1, signal: null, uptime: 10 };

/** Frozen all the way down: a transition that mutates its input throws (ESM is strict mode). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function fresh(overrides: Partial<Need> = {}): Need {
  return deepFreeze({ ...checkNeed({ instancename: 'kv', script: '/srv/daemons/kv.js', timeout: 1000 }, 0), ...overrides });
}

function claimedBy(machine: string, at = T0, overrides: Partial<Need> = {}): Need {
  return deepFreeze(claimNeed(fresh(overrides), machine, at));
}

function facts(overrides: Partial<SweepFacts> = {}): SweepFacts {
  return { now: T0, machines: new Set(['m1', 'm2']), mayDeclareLost: true, policy: DEFAULT_POLICY, ...overrides };
}

test('isClaimable: unsatisfied, or backoff whose notBefore has come', () => {
  assert.equal(isClaimable(fresh(), T0), true);
  assert.equal(isClaimable(fresh({ status: 'backoff', notBefore: T0 + 1 }), T0), false);
  assert.equal(isClaimable(fresh({ status: 'backoff', notBefore: T0 }), T0), true);
  assert.equal(isClaimable(fresh({ status: 'backoff', notBefore: T0 - 1 }), T0), true);
  for (const status of ['claimed', 'satisfied', 'errored'] as NeedStatus[]) {
    assert.equal(isClaimable(fresh({ status, notBefore: 0 }), T0 + 1e9), false, status);
  }
});

test('holdsClaim: the same machine and epoch, while claimed or satisfied', () => {
  const claimed = claimedBy('m1');
  assert.equal(holdsClaim(claimed, 'm1', 1), true);
  assert.equal(holdsClaim(satisfyNeed(claimed), 'm1', 1), true);
  assert.equal(holdsClaim(claimed, 'm2', 1), false);
  assert.equal(holdsClaim(claimed, 'm1', 0), false);
  assert.equal(holdsClaim(claimed, 'm1', 2), false);
  assert.equal(holdsClaim(fresh(), 'm1', 0), false);
  // A claim object left on a need that is no longer claimed does not count.
  for (const status of ['unsatisfied', 'backoff', 'errored'] as NeedStatus[]) {
    assert.equal(holdsClaim({ ...claimed, status }, 'm1', 1), false, status);
  }
});

test('claimNeed takes the next epoch and clears reason and notBefore, keeping the history', () => {
  const before = fresh({ status: 'backoff', reason: 'exited with code 1; next try in 100 ms', epoch: 4, notBefore: T0 - 5, history: { quickExits: 2, nextDelay: 200 } });
  const after = claimNeed(before, 'm2', T0);
  assert.deepEqual(after, {
    ...before, status: 'claimed', reason: null, claim: { machine: 'm2', epoch: 5, at: T0 }, epoch: 5, notBefore: 0,
    history: { quickExits: 2, nextDelay: 200 },
  });
  assert.equal(before.status, 'backoff', 'the input is not changed');
});

test('satisfyNeed keeps the claim and clears the reason', () => {
  const claimed = claimedBy('m1', T0, { reason: 'machine m1: port taken' });
  assert.deepEqual(satisfyNeed(claimed), { ...claimed, status: 'satisfied', reason: null, claim: { machine: 'm1', epoch: 1, at: T0 } });
});

test('releaseNeed: back to unsatisfied without counting against the need, epoch kept', () => {
  const satisfied = deepFreeze(satisfyNeed(claimedBy('m1', T0, { history: { quickExits: 3, nextDelay: 400 } })));
  assert.deepEqual(releaseNeed(satisfied, 'machine m1 was lost'), {
    ...satisfied, status: 'unsatisfied', reason: 'machine m1 was lost', claim: null, notBefore: 0, epoch: 1,
    history: { quickExits: 3, nextDelay: 400 },
  });
});

test('failNeed: the first quick exit is retried at once, then backoff doubles, errored at maxRestarts', () => {
  let need = claimedBy('m1');
  const seen: Array<[NeedStatus, number, string | null]> = [];
  for (let i = 0; i < 12 && need.status !== 'errored'; i++) {
    const now = T0 + i * 100_000;
    need = deepFreeze(failNeed(need, DEFAULT_POLICY, QUICK, 'exited with code 1 on m1', now));
    seen.push([need.status, need.notBefore === 0 ? 0 : need.notBefore - now, need.reason]);
    assert.equal(need.claim, null);
    if (need.status !== 'errored') need = deepFreeze(claimNeed(need, 'm1', now));
  }
  const backoff = (ms: number): [NeedStatus, number, string] => ['backoff', ms, `exited with code 1 on m1; next try in ${ms} ms`];
  assert.deepEqual(seen, [
    ['unsatisfied', 0, 'exited with code 1 on m1'],
    backoff(100), backoff(200), backoff(400), backoff(800), backoff(1600), backoff(3200), backoff(6400), backoff(12800),
    ['errored', 0, 'exited with code 1 on m1; exited with code 1; 10 exits in a row within 5000 ms of starting or before it was ready: not restarted (dae restart clears this)'],
  ]);
  assert.deepEqual(need.history, { quickExits: 10, nextDelay: 25600 });
  assert.equal(need.epoch, 10, 'one epoch per claim, none for a failure');
});

test('failNeed: exact record of the first failure and of the first backoff', () => {
  const claimed = claimedBy('m1');
  const first = failNeed(claimed, DEFAULT_POLICY, QUICK, 'boom', T0 + 7);
  assert.deepEqual(first, { ...claimed, status: 'unsatisfied', reason: 'boom', claim: null, notBefore: 0, history: { quickExits: 1, nextDelay: 100 } });
  const second = failNeed(claimNeed(first, 'm2', T0 + 8), DEFAULT_POLICY, { exitCode: null, signal: 'SIGKILL', uptime: 0 }, 'killed', T0 + 9);
  assert.deepEqual(second, {
    ...claimed, status: 'backoff', reason: 'killed; next try in 100 ms', claim: null, epoch: 2, notBefore: T0 + 9 + 100,
    history: { quickExits: 2, nextDelay: 200 },
  });
});

test('failNeed uses the given policy numbers: base, cap and maxRestarts', () => {
  const policy: RestartPolicy = { ...DEFAULT_POLICY, maxRestarts: 5, backoffBase: 50, backoffMax: 120 };
  let need = claimedBy('m1');
  const delays: number[] = [];
  for (let i = 0; i < 6 && need.status !== 'errored'; i++) {
    need = failNeed(need, policy, QUICK, 'x', T0);
    delays.push(need.status === 'backoff' ? need.notBefore - T0 : need.status === 'unsatisfied' ? 0 : -1);
    if (need.status !== 'errored') need = claimNeed(need, 'm1', T0);
  }
  assert.deepEqual(delays, [0, 50, 100, 120, -1]);
});

test('failNeed always restarts: the need is wanted whatever the policy mode says', () => {
  const clean: ExitFacts = { exitCode: 0, signal: null, uptime: 10 };
  for (const mode of ['never', 'on-failure'] as const) {
    const next = failNeed(claimedBy('m1'), { ...DEFAULT_POLICY, mode }, clean, 'exited with code 0', T0);
    assert.equal(next.status, 'unsatisfied', mode);
    assert.deepEqual(next.history, { quickExits: 1, nextDelay: 100 }, mode);
  }
});

test('failNeed after a run longer than minUptime: at once, the row of quick exits broken, the delay kept', () => {
  const deep = { quickExits: 6, nextDelay: 6400 };
  const afterUp = failNeed(claimedBy('m1', T0, { history: deep }), DEFAULT_POLICY, { exitCode: 1, signal: null, uptime: 5_000 }, 'x', T0);
  assert.equal(afterUp.status, 'unsatisfied');
  assert.deepEqual(afterUp.history, { quickExits: 0, nextDelay: 6400 });
  // The next quick exit waits the kept delay: a flapping need does not get immediate retries back.
  const next = failNeed(claimNeed(afterUp, 'm1', T0), DEFAULT_POLICY, QUICK, 'x', T0);
  assert.deepEqual([next.status, next.notBefore - T0, next.history], ['backoff', 6400, { quickExits: 1, nextDelay: 12800 }]);
});

test('failNeed after a run of resetAfter or more: the history starts again', () => {
  const deep = { quickExits: 9, nextDelay: 25600 };
  const afterLong = failNeed(claimedBy('m1', T0, { history: deep }), DEFAULT_POLICY, { exitCode: 1, signal: null, uptime: 30_000 }, 'x', T0);
  assert.deepEqual([afterLong.status, afterLong.notBefore, afterLong.history], ['unsatisfied', 0, { quickExits: 0, nextDelay: 0 }]);
  const quick = failNeed(claimNeed(afterLong, 'm1', T0), DEFAULT_POLICY, QUICK, 'x', T0);
  assert.deepEqual([quick.status, quick.history], ['unsatisfied', { quickExits: 1, nextDelay: 100 }]);
  // A quick exit after nine in a row is the tenth: errored.
  const almost = failNeed(claimedBy('m1', T0, { history: deep }), DEFAULT_POLICY, { exitCode: 1, signal: null, uptime: 4_999 }, 'x', T0);
  assert.equal(almost.status, 'errored');
});

test('sweepNeed: a claim waits for its deadline, then fails under the restart policy', () => {
  const claimed = claimedBy('m1', T0);
  assert.deepEqual(sweepNeed(claimed, facts({ now: T0 + 999 })), { next: null, wakeAt: T0 + 1000 });
  assert.deepEqual(sweepNeed(claimed, facts({ now: T0 + 1000 })), {
    next: { ...claimed, status: 'unsatisfied', reason: 'not reachable within 1000 ms of the claim by m1', claim: null, notBefore: 0, history: { quickExits: 1, nextDelay: 100 } },
    wakeAt: null,
  });
  const again = claimedBy('m1', T0, { history: { quickExits: 1, nextDelay: 100 } });
  const swept = sweepNeed(again, facts({ now: T0 + 5000 }));
  assert.deepEqual([swept.next?.status, swept.next?.notBefore, swept.next?.reason, swept.wakeAt],
    ['backoff', T0 + 5100, 'not reachable within 1000 ms of the claim by m1; next try in 100 ms', null]);
  const last = sweepNeed(claimedBy('m1', T0, { history: { quickExits: 9, nextDelay: 25600 } }), facts({ now: T0 + 1000 }));
  assert.equal(last.next?.status, 'errored');
  assert.match(last.next?.reason ?? '', /^not reachable within 1000 ms of the claim by m1; exited with code null; 10 exits in a row/);
});

test('sweepNeed: a satisfied need on a registered machine has no timer', () => {
  assert.deepEqual(sweepNeed(satisfyNeed(claimedBy('m1', T0)), facts({ now: T0 + 1e9 })), { next: null, wakeAt: null });
});

test('sweepNeed: a lost machine releases its needs, but only once machines may be declared lost', () => {
  const machines = new Set(['m2']);
  for (const need of [claimedBy('m1', T0), deepFreeze(satisfyNeed(claimedBy('m1', T0, { history: { quickExits: 4, nextDelay: 1600 } })))]) {
    assert.deepEqual(sweepNeed(need, facts({ machines, mayDeclareLost: false, now: T0 + 1e6 })), { next: null, wakeAt: null }, need.status);
    assert.deepEqual(sweepNeed(need, facts({ machines, now: T0 + 10 })), {
      next: { ...need, status: 'unsatisfied', reason: 'machine m1 was lost', claim: null, notBefore: 0 },
      wakeAt: null,
    }, need.status);
  }
});

test('sweepNeed: backoff ends at notBefore; unsatisfied and errored have no timers', () => {
  const backoff = fresh({ status: 'backoff', reason: 'x; next try in 400 ms', notBefore: T0 + 400, history: { quickExits: 3, nextDelay: 800 } });
  assert.deepEqual(sweepNeed(backoff, facts({ now: T0 + 399 })), { next: null, wakeAt: T0 + 400 });
  assert.deepEqual(sweepNeed(backoff, facts({ now: T0 + 400 })), { next: { ...backoff, status: 'unsatisfied' }, wakeAt: null });
  assert.deepEqual(sweepNeed(fresh(), facts()), { next: null, wakeAt: null });
  assert.deepEqual(sweepNeed(fresh({ status: 'errored', reason: 'crash loop' }), facts({ machines: new Set() })), { next: null, wakeAt: null });
});

test('a life: claimed, satisfied, machine lost, placed again, the old epoch no longer holds', () => {
  let need = claimNeed(fresh(), 'm1', T0);
  need = satisfyNeed(need);
  const lost = sweepNeed(need, facts({ machines: new Set(['m2']), now: T0 + 60_000 }));
  assert.ok(lost.next);
  need = claimNeed(lost.next, 'm2', T0 + 60_001);
  assert.deepEqual([need.epoch, holdsClaim(need, 'm1', 1), holdsClaim(need, 'm2', 2)], [2, false, true]);
  // The returning m1's late exit report does not touch m2's claim; m2's own does.
  const m2Exit = failNeed(need, DEFAULT_POLICY, { exitCode: 1, signal: null, uptime: 40_000 }, 'exited with code 1 on m2', T0 + 100_000);
  assert.deepEqual([m2Exit.status, m2Exit.epoch, m2Exit.claim], ['unsatisfied', 2, null]);
});

type Step =
  | { kind: 'claim'; machine: string }
  | { kind: 'satisfy' }
  | { kind: 'release' }
  | { kind: 'fail'; uptime: number }
  | { kind: 'sweep'; dt: number; present: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('claim' as const), machine: fc.constantFrom('m1', 'm2') }),
  fc.record({ kind: fc.constant('satisfy' as const) }),
  fc.record({ kind: fc.constant('release' as const) }),
  fc.record({ kind: fc.constant('fail' as const), uptime: fc.integer({ min: 0, max: 40_000 }) }),
  fc.record({ kind: fc.constant('sweep' as const), dt: fc.integer({ min: 0, max: 5_000 }), present: fc.boolean() }),
);

test('any run of transitions: epochs only grow, a claim carries the current epoch, only claimed/satisfied hold one', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
      let need = fresh();
      let now = T0;
      for (const step of steps) {
        const before = need.epoch;
        switch (step.kind) {
          case 'claim':
            if (isClaimable(need, now)) need = claimNeed(need, step.machine, now);
            break;
          case 'satisfy':
            if (need.status === 'claimed') need = satisfyNeed(need);
            break;
          case 'release':
            if (need.claim !== null) need = releaseNeed(need, 'gone');
            break;
          case 'fail':
            if (need.claim !== null) need = failNeed(need, DEFAULT_POLICY, { exitCode: 1, signal: null, uptime: step.uptime }, 'x', now);
            break;
          case 'sweep': {
            now += step.dt;
            const sweep = sweepNeed(need, facts({ now, machines: new Set(step.present ? ['m1', 'm2'] : []) }));
            if (sweep.next !== null) need = sweep.next;
            if (sweep.wakeAt !== null) assert.ok(sweep.wakeAt > now, 'a timer is always in the future');
            break;
          }
        }
        assert.ok(need.epoch >= before);
        const holding = need.status === 'claimed' || need.status === 'satisfied';
        assert.equal(need.claim !== null, holding, `${need.status} with claim ${JSON.stringify(need.claim)}`);
        if (need.claim !== null) assert.equal(need.claim.epoch, need.epoch);
        if (need.status === 'backoff') assert.ok(need.notBefore > 0);
        assert.ok(need.history.quickExits < DEFAULT_POLICY.maxRestarts || need.status === 'errored');
      }
    }),
  );
});

// Placement is covered by placement.test.ts; these are the cases it leaves out.
test('placement: pin is checked before the script, and an empty allowedscripts says none', () => {
  const machine = { id: 'm1', address: '10.0.0.9', allowedscripts: [] };
  assert.deepEqual(canServe({ instancename: 'a', script: '/tmp/x.js', pin: '10.0.1.0/24' }, machine), { ok: false, reason: 'pinned to 10.0.1.0/24, not 10.0.0.9' });
  assert.deepEqual(canServe({ instancename: 'a', script: '/tmp/x.js', pin: '10.0.0.0/24' }, machine), {
    ok: false, reason: '/tmp/x.js is outside allowedscripts of machine m1 (none)',
  });
});

test('placement: CIDR edges', () => {
  assert.equal(matchesPin('10.0.0.5/24', '10.0.0.200'), true, 'host bits in the base are ignored');
  assert.equal(matchesPin('10.0.0.0/31', '10.0.0.1'), true);
  assert.equal(matchesPin('10.0.0.0/31', '10.0.0.2'), false);
  assert.equal(matchesPin('128.0.0.0/1', '200.1.1.1'), true);
  assert.equal(matchesPin('128.0.0.0/1', '127.255.255.255'), false);
  assert.equal(matchesPin('0.0.0.0/0', 'box.lan'), false, 'a CIDR never matches a host name');
  assert.equal(matchesPin('box.lan', 'box.lan'), true);
});

test('placement: scripts inside an allowed directory, however spelt', () => {
  assert.equal(isAllowedScript('/srv/daemons/./kv.js', ['/srv/daemons']), true);
  assert.equal(isAllowedScript('//srv//daemons/kv.js', ['/srv/daemons']), true);
  assert.equal(isAllowedScript('/srv/other/../daemons/kv.js', ['/srv/daemons']), true);
  assert.equal(isAllowedScript('/srv/daemons/kv.js', ['/srv/daemons/../other']), false);
  assert.equal(isAllowedScript('/anything.js', ['/']), true);
});

test('placement: a file whose name starts with ".." inside an allowed directory is allowed; the parent is not', () => {
  assert.equal(isAllowedScript('/srv/daemons/..kv.js', ['/srv/daemons']), true);
  assert.equal(isAllowedScript('/srv/daemons/sub/../..kv.js', ['/srv/daemons']), true);
  assert.equal(isAllowedScript('/srv/daemons/..', ['/srv/daemons']), false);
  assert.equal(isAllowedScript('/srv/daemons/../kv.js', ['/srv/daemons']), false);
});

// checkNeed refuses these pins, but a need read back from the store is not checked again.
test('placement: a CIDR prefix length must be digits', () => {
  assert.equal(matchesPin('10.0.0.0/', '192.168.1.1'), false, 'an empty prefix is not /0');
  assert.equal(matchesPin('10.0.0.0/ 8', '10.1.1.1'), false);
  assert.equal(matchesPin('10.0.0.0/8.0', '10.1.1.1'), false);
  assert.equal(matchesPin('10.0.0.0/-0', '192.168.1.1'), false);
});
