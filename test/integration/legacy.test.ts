// Peers written for the original 2016 dae, both ways. An original client writes each packet unterminated, in one
// write, and turns every packet it receives into an event (an `error` packet would crash it); an original daemon
// answers unterminated too. Simulated here byte for byte on raw sockets.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Client } from '../../src/index.js';
import { SupervisorLink } from '../../src/daemon/supervised.js';
import { Kv } from '../../sample/kv.js';

const closers: Array<() => unknown> = [];
after(async () => {
  for (const close of closers) await close();
});

/** An original client: one unterminated packet per write, each answered before the next is written. */
async function originalClient(port: number): Promise<{ call(packet: string): Promise<string>; quiet(): Promise<void>; socket: Socket }> {
  const socket = connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  closers.push(() => socket.destroy());
  let buffer = '';
  const waiters: Array<(line: string) => void> = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      waiters.shift()?.(line);
    }
  });
  return {
    socket,
    call: (packet) => new Promise((resolve) => {
      waiters.push(resolve);
      socket.write(packet);
    }),
    // Nothing more arrives in answer to what was written (a `ping` written after it is answered first).
    quiet: async () => {
      const line = await new Promise<string>((resolve) => {
        waiters.push(resolve);
        socket.write('ping []');
      });
      assert.equal(line, 'pong []');
    },
  };
}

test('an original client against sample/kv: `all` is answered as `memory`, and bad packets never cost the connection', async () => {
  const kv = new Kv({ env: {} });
  await kv.start();
  closers.push(() => kv.stop());
  const peer = await originalClient(kv.port);
  assert.equal(await peer.call('set ["a", 1]'), 'set []');
  assert.equal(await peer.call('all []'), 'memory [{"a":1}]', 'the original sample\'s reply name');
  // A name outside the alphabet: one reply at most, never `error`, and the next call is served.
  await peer.quiet();
  peer.socket.write('a/b [1]');
  assert.equal(await peer.call('get ["a"]'), 'get [1]');
  // A quote or a newline the old encoder made of another character: that packet's reply only.
  const broken = await peer.call('set ["x"y", 2]');
  assert.match(broken, /^set \[null,\{"code":"ERR_BAD_ARGS"/);
  const split = await peer.call('set ["line\nbreak", 3]');
  assert.match(split, /^set \[null,\{"code":"ERR_BAD_ARGS"/);
  // Errors come under the command's own name, the error second: an original client never sees an `error` packet.
  assert.match(await peer.call('nope []'), /^nope \[null,\{"code":"ERR_UNKNOWN_COMMAND"/);
  assert.match(await peer.call('get []'), /^get \[null,\{"code":"ERR_BAD_ARGS"/);
  assert.equal(await peer.call('get ["a"]'), 'get [1]');
  await peer.quiet();
  assert.equal(peer.socket.destroyed, false);
});

test('our Client against an original daemon: unterminated replies are read at once', async () => {
  // The original daemon: replies `name [args]` with no newline, one per write.
  const server: Server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      for (const packet of chunk.toString().split('\n').filter(Boolean)) {
        const name = packet.split(' ')[0];
        if (name === 'dae') socket.write(`credential ["old", ${process.pid}, 1, "secret"]`);
        else if (name === 'options') socket.write('commands [{"get":1}]');
        else if (name === 'get') socket.write('get [42]');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  const client = await Client.connect({ port: (server.address() as { port: number }).port, timeout: 2000 });
  closers.push(() => client.destroy());
  const started = Date.now();
  assert.deepEqual(await client.call('options'), { get: 1 });
  assert.equal(await client.call('get', 'a'), 42);
  assert.deepEqual(await client.call('dae'), ['old', process.pid, 1, 'secret']);
  assert.ok(Date.now() - started < 1000, 'no call waited for a timeout');
});

test('a supervisor that never answers the ready report leaves no connection behind', async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => {
    sockets.push(socket);
    socket.resume();
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  closers.push(() => silent.close());
  const env = { DAE: '1', DAE_PORT: String((silent.address() as { port: number }).port), DAE_SECRET: 'x'.repeat(48), DAE_NAME: 'kv' };
  const link = new SupervisorLink(() => ({ name: 'kv', pid: process.pid, secret: 'x'.repeat(48), ports: {} }), env, 100);
  closers.push(() => link.close());
  await link.open();
  // Each attempt times out and is retried: every earlier attempt's connection closes (a leak would keep them open).
  while (sockets.length < 4) await once(silent, 'connection');
  const earlier = sockets.slice(0, 3).map((socket) => (socket.closed ? Promise.resolve() : once(socket, 'close')));
  const leaked = new Promise((_, reject) => setTimeout(() => reject(new Error('timed-out attempts kept their connections')), 3000).unref());
  await Promise.race([Promise.all(earlier), leaked]);
});
