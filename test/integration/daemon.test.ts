// The Daemon over real loopback sockets: replies, order, built-ins, errors, limits, defences, auth, shutdown.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { DaeError } from '../../src/index.js';
import { startTestDaemon, TestDaemon } from '../helpers/daemons.js';
import { rawPeer } from '../helpers/wire.js';

const TOKEN = 'a-token-of-sixteen-chars-or-more';
const daemons: TestDaemon[] = [];
async function daemon(options: Parameters<typeof startTestDaemon>[0] = {}): Promise<TestDaemon> {
  const d = await startTestDaemon(options);
  daemons.push(d);
  return d;
}
after(() => Promise.all(daemons.map((d) => d.stop())));

describe('replies', () => {
  test('a reply is named after its command and carries the result', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('echo ["a"]\necho [{"x": [1, 2]}]\necho 5\necho "s"\nadd [1, 2]\nadd [1]\nping\n');
    assert.deepEqual(await peer.lines(7), ['echo ["a"]', 'echo [{"x":[1,2]}]', 'echo [5]', 'echo ["s"]', 'add [3]', 'add [1]', 'pong []']);
    peer.end();
  });

  test('replies come in the order the commands arrived, even when async handlers finish out of order', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('wait ["one"]\necho [2]\nwait ["three"]\necho [4]\n');
    const replies = peer.lines(4);
    // Wait until both handlers run, then release them last-first.
    await d.untilRunning(2);
    d.gate('three').resolve(3);
    d.gate('one').resolve(1);
    assert.deepEqual(await replies, ['wait [1]', 'echo [2]', 'wait [3]', 'echo [4]']);
    peer.end();
  });

  test('no result, null and non-JSON results', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('echo [null]\nbigint\n');
    const [nul, bigint] = await peer.lines(2);
    assert.equal(nul, 'echo [null]');
    assert.match(bigint!, /^error \[\{"code":"ERR_COMMAND_FAILED"/);
    peer.end();
  });

  test('UTF-8 split across writes, byte by byte', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    const bytes = Buffer.from('echo ["é€😀"]\n');
    for (const byte of bytes) peer.write(Buffer.from([byte]));
    assert.equal(await peer.line(), 'echo ["é€😀"]');
    peer.end();
  });

  test('`\\r\\n`, blanks and empty lines', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('\r\n   \n\t echo  ["x"] \t\r\n');
    assert.equal(await peer.line(), 'echo ["x"]');
    peer.end();
  });
});

describe('built-ins', () => {
  test('options lists every command with its arity, built-ins included', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('options\n');
    const line = await peer.line();
    assert.match(line, /^commands \[/);
    const commands = JSON.parse(line.slice('commands '.length))[0] as Record<string, number>;
    assert.deepEqual(
      { dae: commands.dae, whois: commands.whois, options: commands.options, ping: commands.ping, auth: commands.auth, echo: commands.echo, add: commands.add, wait: commands.wait, subscribe: commands.subscribe },
      { dae: 0, whois: 0, options: 0, ping: 0, auth: 1, echo: 1, add: 2, wait: 1, subscribe: 0 },
    );
    peer.end();
  });

  test('whois answers the identity and never the secret', async () => {
    const d = await daemon({ env: { DAE: '1', DAE_SECRET: 'super-secret-value', DAE_NAME: 'renamed' } });
    const peer = await rawPeer(d.port);
    peer.write('whois\n');
    const line = await peer.line();
    assert.ok(!line.includes('super-secret-value'));
    const identity = JSON.parse(line.slice('credential '.length))[0];
    assert.equal(identity.name, 'renamed');
    assert.equal(identity.pid, process.pid);
    assert.equal(identity.port, d.port);
    assert.deepEqual(Object.keys(identity.ports), ['tcp', 'unix']);
    assert.equal(identity.ports.tcp, d.port);
    assert.match(identity.ports.unix, /\/daemon\.\d+(-\d+)?\.sock$/);
    assert.ok(!Number.isNaN(Date.parse(identity.created)));
    peer.end();
  });

  test('dae flushes earlier replies, answers credential with no secret, closes and ignores later input', async () => {
    const d = await daemon({ env: { DAE: '1', DAE_SECRET: 'super-secret-value' } });
    const peer = await rawPeer(d.port);
    peer.write('wait ["d"]\ndae\necho ["after"]\n');
    const rest = peer.closed();
    await d.untilRunning(1);
    d.gate('d').resolve('first');
    assert.deepEqual(await rest, ['wait ["first"]', `credential ["test",${process.pid},${d.port},null]`]);
  });

  test('the legacy client: `dae []` with no newline is answered', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('dae []');
    assert.deepEqual(await peer.closed(), [`credential ["test",${process.pid},${d.port},null]`]);
  });

  test('the legacy client: packets back to back without newlines', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('echo ["a]"]add [1,2]');
    assert.deepEqual(await peer.lines(2), ['echo ["a]"]', 'add [3]']);
    peer.write('echo [{"b":');
    peer.write('"]"}]');
    assert.equal(await peer.line(), 'echo [{"b":"]"}]');
    peer.end();
  });
});

describe('errors', () => {
  test('coded errors, and the connection keeps serving', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('nope\nget!\necho [1\nadd\nadd [1,2,3]\nfail\ncoded\necho ["still here"]\n');
    const lines = await peer.lines(8);
    const codes = lines.slice(0, 7).map((line) => {
      assert.match(line, /^error \[/);
      const error = JSON.parse(line.slice('error '.length))[0];
      assert.deepEqual(Object.keys(error).sort(), ['code', 'message']);
      assert.ok(!/at .*\(.*:\d+:\d+\)/.test(error.message), 'no stack in the message');
      return error.code;
    });
    assert.deepEqual(codes, ['ERR_UNKNOWN_COMMAND', 'ERR_BAD_PACKET', 'ERR_BAD_ARGS', 'ERR_BAD_ARGS', 'ERR_BAD_ARGS', 'ERR_COMMAND_FAILED', 'ERR_NOT_FOUND']);
    assert.equal(lines[7], 'echo ["still here"]');
    peer.end();
  });

  test('names that reach emitters or prototypes are unknown commands', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    const names = ['error', '__proto__', 'constructor', 'newListener', 'toString', 'hasOwnProperty', 'emit', 'on', 'start', 'stop', 'credential', 'commands', 'pong'];
    peer.write(names.map((name) => `${name} []\n`).join(''));
    for (const line of await peer.lines(names.length)) assert.match(line, /^error \[\{"code":"ERR_UNKNOWN_COMMAND"/);
    peer.end();
  });

  test('a rest parameter takes any number of arguments', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('many\nmany [1,2,3,4,5]\n');
    assert.deepEqual(await peer.lines(2), ['many [0]', 'many [5]']);
    peer.end();
  });
});

describe('half-close', () => {
  test('every command received is answered after the peer ends its side', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.end('echo [1]\nwait ["h"]\necho [3]\nadd [1, 1]');
    const rest = peer.closed();
    await d.untilRunning(1);
    d.gate('h').resolve(2);
    assert.deepEqual(await rest, ['echo [1]', 'wait [2]', 'echo [3]', 'add [2]']);
  });
});

describe('limits', () => {
  test('a packet over the limit gets ERR_PACKET_TOO_LARGE, then the connection closes', async () => {
    const d = await daemon({ limits: { maxPacketBytes: 1024 } });
    const peer = await rawPeer(d.port);
    peer.write('echo ["ok"]\n');
    peer.write(`echo ["${'é'.repeat(600)}"]\n`);
    const lines = await peer.closed();
    assert.equal(lines[0], 'echo ["ok"]');
    assert.match(lines[1]!, /^error \[\{"code":"ERR_PACKET_TOO_LARGE"/);
    assert.equal(lines.length, 2);
  });

  test('an unterminated packet over the limit is refused before it ends', async () => {
    const d = await daemon({ limits: { maxPacketBytes: 1024 } });
    const peer = await rawPeer(d.port);
    peer.write(`echo ["${'x'.repeat(2000)}`);
    const lines = await peer.closed();
    assert.match(lines[0]!, /^error \[\{"code":"ERR_PACKET_TOO_LARGE"/);
  });

  test('commands in flight past the limit pause reading; every command is still answered in order', async () => {
    const d = await daemon({ limits: { maxInFlight: 2 } });
    const peer = await rawPeer(d.port);
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    peer.write(keys.map((key) => `wait ["${key}"]\n`).join(''));
    const replies = peer.lines(10);
    for (const key of keys) d.gate(key).resolve(key);
    assert.deepEqual(await replies, keys.map((key) => `wait ["${key}"]`));
    assert.equal(d.maxRunning, 2);
    peer.end();
  });

  test('a peer that stops reading is disconnected with ERR_SLOW_CONSUMER', async () => {
    const d = await daemon({ limits: { maxWriteBuffer: 64 * 1024, slowConsumerTimeout: 100 } });
    const guest = once(d, 'guest');
    const socket = connect({ port: d.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.pause();
    socket.write('big [1000000]\n'.repeat(20));
    socket.on('error', () => undefined);
    const [session] = await guest;
    await once(session, 'close');
    assert.ok(true, 'the server closed the session of a peer that does not read');
    socket.destroy();
  });

  test('the idle timeout closes a silent connection with ERR_IDLE_TIMEOUT', async () => {
    const d = await daemon({ limits: { idleTimeout: 50 } });
    const peer = await rawPeer(d.port);
    const lines = await peer.closed();
    assert.match(lines[0]!, /^error \[\{"code":"ERR_IDLE_TIMEOUT"/);
  });

  test('one connection over the limit gets ERR_TOO_MANY_CONNECTIONS', async () => {
    const d = await daemon({ limits: { maxConnections: 1 } });
    const first = await rawPeer(d.port);
    first.write('ping\n');
    assert.equal(await first.line(), 'pong []');
    const second = await rawPeer(d.port);
    const lines = await second.closed();
    assert.match(lines[0]!, /^error \[\{"code":"ERR_TOO_MANY_CONNECTIONS"/);
    first.write('ping\n');
    assert.equal(await first.line(), 'pong []');
    first.end();
  });

  test('options are checked with messages naming the option', async () => {
    // Checked when the daemon is made, reported by start(): a runnable file says it in one line, not a stack.
    await assert.rejects(new TestDaemon({ limits: { maxPacketBytes: -1 } }).start(), /limits\.maxPacketBytes must be an integer >= 0, got -1/);
    await assert.rejects(new TestDaemon({ limits: { nope: 1 } as never }).start(), /limits\.nope is not a limit/);
    await assert.rejects(new TestDaemon({ port: 70000 }).start(), /port must be an integer from 0 to 65535, got 70000/);
    await assert.rejects(new TestDaemon({ env: { DAE_TCP_PORT: 'x' } }).start(), /DAE_TCP_PORT must be an integer/);
    await assert.rejects(new TestDaemon({ token: 'short' }).start(), (error: DaeError) => error.code === 'ERR_BAD_OPTION' && /token must be a string of at least 16 characters, got 5/.test(error.message));
    // The five-line daemon with a short token: one coded line on stderr and exit 1.
    const index = new URL('../../src/index.js', import.meta.url).href;
    const source = `const { Daemon, runDaemon } = await import('${index}'); class Kv extends Daemon { commands = {}; } await runDaemon(new Kv({ token: 'short' }));`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8' });
    assert.deepEqual([run.status, run.stderr], [1, 'kv: ERR_BAD_OPTION: token must be a string of at least 16 characters, got 5\n']);
  });
});

describe('cross-protocol defence', () => {
  for (const request of ['GET / HTTP/1.1', 'POST /set HTTP/1.1', 'OPTIONS * HTTP/1.0', 'M-SEARCH * HTTP/1.1']) {
    test(`a first line \`${request}\` closes the connection at once`, async () => {
      const d = await daemon();
      const peer = await rawPeer(d.port);
      peer.write(`${request}\r\nHost: 127.0.0.1\r\n\r\n`);
      assert.deepEqual(await peer.closed(), []);
    });
  }

  test('a `Host:` line closes the connection, even after valid packets', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('ping\n');
    assert.equal(await peer.line(), 'pong []');
    peer.write('Host: example.com\necho [1]\n');
    assert.deepEqual(await peer.closed(), []);
  });
});

describe('authentication', () => {
  test('a protected command needs auth; a wrong token is refused, the right one accepted', async () => {
    const d = await daemon({ token: TOKEN });
    const peer = await rawPeer(d.port);
    peer.write(`secret\nauth ["wrong"]\nsecret\nauth ["${TOKEN}"]\nsecret\n`);
    const lines = await peer.lines(5);
    assert.match(lines[0]!, /"ERR_AUTH_REQUIRED"/);
    assert.match(lines[1]!, /"ERR_AUTH_FAILED"/);
    assert.match(lines[2]!, /"ERR_AUTH_REQUIRED"/);
    assert.equal(lines[3], 'auth [true]');
    assert.equal(lines[4], 'secret ["the secret"]');
    peer.end();
  });

  test('auth fails when no token is configured, and repeated failures close the connection', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('auth ["x"]\n'.repeat(6));
    const lines = await peer.closed();
    assert.equal(lines.length, 5);
    for (const line of lines) assert.match(line, /"ERR_AUTH_FAILED"/);
  });
});

describe('pushes', () => {
  test('a push reaches the peer; the API refuses command and reply names', async () => {
    const d = await daemon();
    const peer = await rawPeer(d.port);
    peer.write('subscribe\n');
    assert.equal(await peer.line(), 'subscribe [true]');
    const guest = d.lastGuest!;
    assert.equal(guest.push('tick', 1, { a: 2 }), true);
    assert.equal(await peer.line(), 'tick [1,{"a":2}]');
    for (const name of ['echo', 'error', 'credential', 'pong', 'commands', 'bad name']) {
      assert.throws(() => guest.push(name), (error: DaeError) => error.code === 'ERR_BAD_OPTION');
    }
    peer.end();
  });
});

describe('identity and lifecycle', () => {
  test('DAE_TCP_PORT wins over the port option; DAE_NAME over the name', async () => {
    const probe = await daemon();
    const port = probe.port;
    await probe.stop();
    const d = await daemon({ port: 1, env: { DAE_TCP_PORT: String(port), DAE_NAME: 'kv2' } });
    assert.equal(d.port, port);
    assert.equal(d.name, 'kv2');
  });

  test('a port in use is a clear start error', async () => {
    const first = await daemon();
    const second = new TestDaemon({ env: {}, port: first.port });
    await assert.rejects(second.start(), (error: DaeError) => error.code === 'ERR_BAD_OPTION' && /EADDRINUSE/.test(error.message));
  });

  test('emits a guest event per connection', async () => {
    const d = await daemon();
    const guest = once(d, 'guest');
    const peer = await rawPeer(d.port);
    const [session] = await guest;
    assert.equal(session.kind, 'tcp');
    assert.match(session.remote, /^127\.0\.0\.1:\d+$/);
    peer.end();
  });

  test('stop lets commands in flight finish, runs and answers those received and held back, and closes', async () => {
    const d = await startTestDaemon({ limits: { maxInFlight: 1 } });
    const peer = await rawPeer(d.port);
    peer.write('wait ["s"]\nadd [1,2]\nadd [3,4]\n');
    await d.untilRunning(1);
    const stopped = d.stop();
    d.gate('s').resolve('done');
    assert.deepEqual(await peer.closed(), ['wait ["done"]', 'add [3]', 'add [7]']);
    await stopped;
    assert.equal(d.status, 'stopped');
    await assert.rejects(rawPeer(d.port));
  });

  test('stop does not wait for its deadline when a client kept calling: the drained connection closes at its peer\'s end', { timeout: 10_000 }, async () => {
    const d = await startTestDaemon({ stopTimeout: 60_000 });
    // A plain client calling back to back: each answer brings the next call; it ends its side when the daemon ends.
    const client = connect({ port: d.port, host: '127.0.0.1' });
    client.on('data', () => client.writable && client.write('add [1,2]\n'));
    await once(client, 'connect');
    client.write('add [1,2]\n');
    await once(client, 'data');
    await d.stop();
    assert.equal(d.status, 'stopped');
    client.destroy();
  });

  test('stop does not wait for an HTTP request whose body never comes (a slow client): it goes after a short grace', { timeout: 10_000 }, async () => {
    const d = await startTestDaemon({ stopTimeout: 60_000, http: 0 });
    const port = (d.identity().ports as { http: number }).http;
    const slow = connect({ port, host: '127.0.0.1' });
    slow.on('error', () => undefined);
    await once(slow, 'connect');
    slow.write(`POST /add HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[1,`);
    // Its headers have arrived once the daemon counts a request: an answered call on another connection after them.
    const answer = await fetch(`http://127.0.0.1:${port}/add`, { method: 'POST', body: '[1,2]', headers: { 'content-type': 'application/json' } });
    assert.equal(await answer.text(), '3');
    await d.stop();
    assert.equal(d.status, 'stopped');
    slow.destroy();
  });

  test('stop closes connections whose commands outlive the deadline', async () => {
    const d = await startTestDaemon({ stopTimeout: 50 });
    const peer = await rawPeer(d.port);
    peer.write('wait ["never"]\n');
    await d.untilRunning(1);
    await d.stop();
    assert.deepEqual(await peer.closed(), []);
  });

  test('dispatch runs a command in-process with the same checks', async () => {
    const d = new TestDaemon({ env: {} });
    assert.equal(await d.dispatch('add', 2, 3), 5);
    assert.equal(await d.dispatch('secret'), 'the secret');
    await assert.rejects(d.dispatch('nope'), (error: DaeError) => error.code === 'ERR_UNKNOWN_COMMAND');
    await assert.rejects(d.dispatch('add'), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
    await assert.rejects(d.dispatch('coded'), (error: DaeError) => error.code === 'ERR_NOT_FOUND');
    await assert.rejects(d.dispatch('fail'), (error: DaeError) => error.code === 'ERR_COMMAND_FAILED');
  });
});
