// Need records: what `need add` accepts and refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNeed } from '../../src/lan/records.js';
import type { DaeError } from '../../src/errors.js';

test('a minimal need gets every default and starts unsatisfied', () => {
  const need = checkNeed({ instancename: 'kv-1', script: '/srv/daemons/kv.js' }, 1_700_000_000_000);
  assert.deepEqual(need, {
    instancename: 'kv-1', script: '/srv/daemons/kv.js', args: [], env: {}, ports: {}, pin: null, timeout: 60_000,
    status: 'unsatisfied', reason: null, claim: null, epoch: 1_700_000_000_000, history: { quickExits: 0, nextDelay: 0 }, notBefore: 0,
  });
  const full = checkNeed({ instancename: 'web', script: '/srv/web.js', args: ['-v'], env: { MODE: 'x' }, ports: { tcp: 15000, http: 16000 }, pin: '127.0.0.0/24', timeout: 5000 });
  assert.deepEqual([full.ports, full.pin, full.timeout], [{ tcp: 15000, http: 16000 }, '127.0.0.0/24', 5000]);
});

test('bad needs are refused with the field named', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /a need is an object/],
    [{ instancename: '../x', script: '/a.js' }, /name must be/],
    [{ instancename: 'a', script: 'rel.js' }, /script must be an absolute path/],
    [{ instancename: 'a', script: '/a.js', args: [1] }, /args must be a list of strings/],
    [{ instancename: 'a', script: '/a.js', env: { DAE_SECRET: 'x' } }, /env must map NAME to string/],
    [{ instancename: 'a', script: '/a.js', ports: { udp: 1 } }, /ports.udp: the protocols are tcp, http and ws/],
    [{ instancename: 'a', script: '/a.js', ports: { tcp: 0 } }, /ports.tcp must be a port/],
    [{ instancename: 'a', script: '/a.js', pin: '10.0.0.0/40' }, /pin must be an address or an IPv4 CIDR/],
    [{ instancename: 'a', script: '/a.js', timeout: 5 }, /timeout must be a whole number of ms from 100 to 86400000/],
    [{ instancename: 'a', script: '/a.js', timeout: 2 ** 31 }, /timeout must be a whole number of ms from 100 to 86400000/],
    [{ instancename: 'a', script: '/a.js', env: { NODE_OPTIONS: '--require /tmp/x.cjs' } }, /env NODE_OPTIONS would load code/],
    [{ instancename: 'a', script: '/a.js', env: { LD_PRELOAD: '/tmp/x.so' } }, /env LD_PRELOAD would load code/],
    [{ instancename: 'a', script: '/a.js', status: 'satisfied' }, /unknown need field "status"/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(() => checkNeed(input), (error: DaeError) => error.code === 'ERR_BAD_ARGS' && pattern.test(error.message), JSON.stringify(input));
  }
});
