// Placement checks: pins, CIDRs, allowed script directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canServe, isRefusedVariable, isAllowedScript, matchesPin } from '../../src/lan/placement.js';

test('pins: an exact address or an IPv4 CIDR', () => {
  assert.equal(matchesPin('127.0.0.2', '127.0.0.2'), true);
  assert.equal(matchesPin('127.0.0.2', '127.0.0.3'), false);
  assert.equal(matchesPin('127.0.0.0/30', '127.0.0.3'), true);
  assert.equal(matchesPin('127.0.0.0/30', '127.0.0.4'), false);
  assert.equal(matchesPin('10.1.0.0/16', '10.1.255.7'), true);
  assert.equal(matchesPin('0.0.0.0/0', '192.168.1.1'), true);
  assert.equal(matchesPin('10.0.0.1/32', '10.0.0.1'), true);
  assert.equal(matchesPin('10.0.0.1/32', '10.0.0.2'), false);
  assert.equal(matchesPin('10.0.0.0/33', '10.0.0.1'), false);
  assert.equal(matchesPin('nonsense/8', '10.0.0.1'), false);
  assert.equal(matchesPin('10.0.0.0/8', 'box.lan'), false);
});

test('scripts must lie inside an allowed directory, after normalisation', () => {
  const dirs = ['/srv/daemons', '/opt/app/'];
  assert.equal(isAllowedScript('/srv/daemons/kv.js', dirs), true);
  assert.equal(isAllowedScript('/srv/daemons/sub/kv.js', dirs), true);
  assert.equal(isAllowedScript('/opt/app/x.js', dirs), true);
  assert.equal(isAllowedScript('/srv/daemons/../secret.js', dirs), false);
  assert.equal(isAllowedScript('/srv/daemonsX/kv.js', dirs), false);
  assert.equal(isAllowedScript('/srv/daemons', dirs), false);
  assert.equal(isAllowedScript('kv.js', dirs), false);
  assert.equal(isAllowedScript('/etc/passwd', []), false);
});

test('canServe names the reason', () => {
  const machine = { id: 'm1', address: '127.0.0.2', allowedscripts: ['/srv/daemons'] };
  assert.deepEqual(canServe({ instancename: 'a', script: '/srv/daemons/kv.js', pin: null }, machine), { ok: true });
  assert.deepEqual(canServe({ instancename: 'a', script: '/srv/daemons/kv.js', pin: '127.0.0.3' }, machine), { ok: false, reason: 'pinned to 127.0.0.3, not 127.0.0.2' });
  // A need from the store is checked again on the machine: env that loads other code is refused there too.
  assert.deepEqual(canServe({ instancename: 'a', script: '/srv/daemons/kv.js', pin: null, env: { NODE_OPTIONS: '--require /tmp/x.cjs' } }, machine), {
    ok: false, reason: 'env NODE_OPTIONS would load code from outside allowedscripts',
  });
  const outside = canServe({ instancename: 'a', script: '/tmp/evil.js', pin: null }, machine);
  assert.equal(outside.ok, false);
  assert.match((outside as { reason: string }).reason, /\/tmp\/evil\.js is outside allowedscripts of machine m1 \(\/srv\/daemons\)/);
});

test('variables that make a program or its loader read code or config from elsewhere are refused for needs; others pass', () => {
  const refused = [
    'OPENSSL_CONF', 'OPENSSL_MODULES', 'GCONV_PATH', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'node_options', 'LD_PRELOAD',
    'LD_LIBRARY_PATH', 'LD_AUDIT', 'BASH_ENV', 'ENV', 'BASH_FUNC_x%%', 'SHELLOPTS', 'PS4', 'PYTHONPATH', 'PYTHONSTARTUP', 'PYTHONHOME',
    'PERL5LIB', 'PERL5OPT', 'PERLLIB', 'RUBYOPT', 'RUBYLIB', 'JAVA_TOOL_OPTIONS', '_JAVA_OPTIONS', 'GIT_SSH_COMMAND', 'NPM_CONFIG_PREFIX',
    'npm_config_script_shell', 'ICU_DATA', 'SSL_CERT_FILE', 'LOCPATH', 'NLSPATH', 'HOSTALIASES', 'MALLOC_TRACE', 'PATH', 'HOME', 'TMPDIR',
    'XDG_CONFIG_HOME', 'CLASSPATH', 'ZDOTDIR', 'HTTPS_PROXY', 'http_proxy', 'ALL_PROXY', 'AWS_CA_BUNDLE',
  ];
  for (const name of refused) assert.equal(isRefusedVariable(name), true, name);
  for (const name of ['NODE_ENV', 'GREETING', 'PORT', 'LANG', 'LC_ALL', 'TZ', 'REDIS_URL', 'DEBUG', 'HEARTBEAT_INTERVAL']) assert.equal(isRefusedVariable(name), false, name);
});
