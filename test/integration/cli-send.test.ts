// The real `dae` binary: `dae send`, exit codes and messages.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestDaemon, type TestDaemon } from '../helpers/daemons.js';

const BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
let daemon: TestDaemon;
after(() => daemon?.stop());

function dae(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return daeWith({}, ...args);
}

function daeWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

test('dae send calls a command and prints the reply as JSON', async () => {
  daemon = await startTestDaemon();
  assert.deepEqual(await dae('send', String(daemon.port), 'add', '[2, 3]'), { code: 0, stdout: '5\n', stderr: '' });
  assert.deepEqual(await dae('send', `127.0.0.1:${daemon.port}`, 'echo', '"é"'), { code: 0, stdout: '"é"\n', stderr: '' });
  assert.deepEqual(await dae('send', String(daemon.port), 'ping'), { code: 0, stdout: 'null\n', stderr: '' });
});

test('failures exit 1 with one line naming the code; usage errors exit 2', async () => {
  const failed = await dae('send', String(daemon.port), 'nope');
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /^dae: ERR_UNKNOWN_COMMAND: unknown command "nope"\n$/);
  const badArgs = await dae('send', String(daemon.port), 'echo', '[1');
  assert.equal(badArgs.code, 1);
  assert.match(badArgs.stderr, /ERR_BAD_ARGS/);
  const badTarget = await dae('send', 'nowhere:port', 'ping');
  assert.equal(badTarget.code, 1);
  assert.match(badTarget.stderr, /ERR_BAD_OPTION: target must be/);
  const usage = await dae('send');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing required argument 'target'/);
  const help = await dae('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: dae/);
});

test('a protected command: --token or DAE_TOKEN over TCP (ps never shows the latter); over the daemon\'s unix socket, none', async () => {
  const token = 'a-token-of-the-owner-0123456789';
  const guarded = await startTestDaemon({ token });
  try {
    const port = String(guarded.port);
    assert.match((await dae('send', port, 'secret')).stderr, /^dae: ERR_AUTH_REQUIRED: /);
    assert.deepEqual(await dae('send', port, 'secret', '--token', token), { code: 0, stdout: '"the secret"\n', stderr: '' });
    assert.deepEqual(await daeWith({ DAE_TOKEN: token }, 'send', port, 'secret'), { code: 0, stdout: '"the secret"\n', stderr: '' });
    assert.match((await dae('send', port, 'secret', '--token', 'a-wrong-token-0123456789')).stderr, /^dae: ERR_AUTH_FAILED: wrong token\n$/);
    // The daemon's own socket is 0600 in a 0700 folder of the owner: its connections start authenticated.
    assert.deepEqual(await dae('send', String(guarded.identity().ports.unix), 'secret'), { code: 0, stdout: '"the secret"\n', stderr: '' });
  } finally {
    await guarded.stop();
  }
});
