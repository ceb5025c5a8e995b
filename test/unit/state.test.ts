// state.json checks: a hand-edited file with a missing or wrong field is refused with a coded error naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkState } from '../../src/supervisor/spec.js';
import type { DaeError } from '../../src/errors.js';

const spec = {
  name: 'kv', script: '/srv/kv.js', args: [], env: { A: 'b' }, cwd: '/srv', restart: 'always', maxRestarts: 10, minUptime: 5000,
  stopSignal: 'SIGTERM', stopTimeout: 5000, maxMemory: 0, leases: { tcp: 15000 }, stopped: false,
};
const run = { pid: 42, secret: 'ab'.repeat(24), startedAt: 1 };

function refused(value: unknown, ...parts: RegExp[]): void {
  assert.throws(() => checkState(value, 'state.json'), (error: DaeError) => {
    assert.equal(error.code, 'ERR_BAD_STATE');
    for (const part of parts) assert.match(error.message, part);
    return true;
  });
}

test('a well-formed state passes as it is', () => {
  const state = { version: 1, daemons: [{ spec, run }, { spec: { ...spec, name: 'b', lan: { need: 'b', epoch: 3 }, host: '10.0.0.1' }, run: null }] };
  assert.equal(checkState(state, 'state.json'), state);
});

test('every missing or wrong field is named, with the daemon it belongs to', () => {
  const missing: Partial<typeof spec> = { ...spec };
  delete missing.maxRestarts;
  refused({ version: 1, daemons: [{ spec: missing, run: null }] }, /daemons\[0\]\.spec\.maxRestarts is missing/);
  refused({ version: 1, daemons: [{ spec: { ...spec, leases: { tcp: 'x' } }, run: { ...run, pid: 'x' } }] },
    /daemons\[0\]\.spec\.leases expected/, /daemons\[0\]\.run\.pid expected/);
  refused({ version: 1, daemons: [{ spec: { ...spec, env: { A: 1 } }, run: null }] }, /spec\.env expected an object of NAME: string/);
  refused({ version: 1, daemons: [{ spec: { ...spec, constructor: 1 }, run: null }] }, /spec\.constructor is not a field/);
  refused({ version: 1, daemons: [{ spec }] }, /daemons\[0\]\.run is missing/);
  refused({ version: 1, daemons: [{ spec, run: null }, { spec, run: null }] }, /installed twice/);
  refused({ version: 1, daemons: [null] }, /daemons\[0\] expected \{spec, run\}/);
  refused({ version: 1, daemons: [{ spec: { ...spec, name: '../x' }, run: null }] }, /spec\.name expected a daemon name/);
  refused({ version: 2, daemons: [] }, /not a dae state file/);
  refused(null, /not a dae state file/);
});
