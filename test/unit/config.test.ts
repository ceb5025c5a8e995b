// daeconfig.json checks: every refusal names the key, what was expected and what was found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkConfig, DEFAULT_CONFIG, parseConfig } from '../../src/supervisor/config.js';
import type { DaeError } from '../../src/errors.js';

test('an empty object is every default; given keys replace them, groups merge key by key', () => {
  assert.deepEqual(checkConfig({}), DEFAULT_CONFIG);
  const config = checkConfig({ port: 0, portrangestart: { http: 18000 }, restart: { mode: 'never' }, lanmanageraddress: ['10.0.0.1:23552', 'lan:23552'], lantoken: 'a-cluster-token-of-32-characters' });
  assert.equal(config.port, 0);
  assert.deepEqual(config.portrangestart, { tcp: 15000, http: 18000, ws: 17000 });
  assert.equal(config.restart.mode, 'never');
  assert.equal(config.restart.minUptime, 5000);
  assert.deepEqual(config.lanmanageraddress, ['10.0.0.1:23552', 'lan:23552']);
  assert.equal(DEFAULT_CONFIG.portrangestart.http, 16000, 'defaults are not mutated');
});

test('refusals name the key, the expectation and what was found', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ prot: 1 }, /unknown key "prot" \(known: host, port,/],
    [{ port: '23550' }, /key "port" expected a whole number from 0 to 65535, found "23550"/],
    [{ port: 70000 }, /key "port" expected a whole number from 0 to 65535, found 70000/],
    [{ host: '' }, /key "host" expected a non-empty string, found ""/],
    [{ lanmanageraddress: 'lan:23552' }, /key "lantoken" expected the LAN's cluster token \(lanmanageraddress is set\), found null/],
    [{ lantoken: 'short' }, /key "lantoken" expected null or a token of at least 16 characters, found "short"/],
    [{ allowedscripts: ['relative/dir'] }, /key "allowedscripts" expected a list of absolute directory paths/],
    [{ portrangestart: 15000 }, /key "portrangestart" expected an object with tcp, http, ws, found 15000/],
    [{ portrangestart: { udp: 1 } }, /unknown key "portrangestart.udp"/],
    [{ portrangestart: { tcp: 0 } }, /key "portrangestart.tcp" expected a whole number from 1 to 65535, found 0/],
    [{ restart: { mode: 'sometimes' } }, /key "restart.mode" expected one of always, on-failure, never, found "sometimes"/],
    [{ restart: { backoffBase: 500, backoffMax: 100 } }, /key "restart.backoffMax" expected at least restart.backoffBase \(500\), found 100/],
    [{ stopSignal: 'SIGNOPE' }, /key "stopSignal" expected one of SIGHUP/],
    [{ lanmanageraddress: 'nohost' }, /key "lanmanageraddress" expected null, "host:port"/],
    [{ lanmanageraddress: [] }, /key "lanmanageraddress" expected null/],
    [{ logs: { files: 0 } }, /key "logs.files" expected a whole number from 1 to 100, found 0/],
    [[], /expected a JSON object, found \[\]/],
  ];
  for (const [input, pattern] of cases) {
    assert.throws(() => checkConfig(input), (error: DaeError) => error.code === 'ERR_BAD_CONFIG' && pattern.test(error.message), JSON.stringify(input));
  }
  assert.throws(() => parseConfig('{"port": 1,}', '/etc/daeconfig.json'), /\/etc\/daeconfig.json: not valid JSON/);
});

test('keys named like Object.prototype members are unknown keys, never rules or prototypes', () => {
  for (const key of ['valueOf', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const text = `{"${key}": 1}`;
    assert.throws(() => parseConfig(text), (error: DaeError) => error.code === 'ERR_BAD_CONFIG' && error.message.includes(`unknown key "${key}"`), key);
    assert.throws(() => parseConfig(`{"restart": {"${key}": 1}}`), (error: DaeError) => error.code === 'ERR_BAD_CONFIG' && error.message.includes(`unknown key "restart.${key}"`), key);
  }
  assert.equal(Object.getPrototypeOf(checkConfig(JSON.parse('{"port": 1}'))), Object.prototype);
});

test('a config with several problems names every one at once', () => {
  assert.throws(() => checkConfig({ port: 'x', host: '', restart: { mode: 'no', nope: 1 }, extra: true }), (error: DaeError) => {
    assert.equal(error.code, 'ERR_BAD_CONFIG');
    assert.match(error.message, /5 problems/);
    for (const part of [/key "port" expected/, /key "host" expected/, /key "restart.mode" expected/, /unknown key "restart.nope"/, /unknown key "extra"/]) assert.match(error.message, part);
    return true;
  });
});
