// The client against a real daemon on loopback: calls, timeouts that keep replies matched, failures, pushes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Client, DaeError } from '../../src/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemons.js';

const daemons: TestDaemon[] = [];
const clients: Client[] = [];
async function setup(): Promise<{ daemon: TestDaemon; client: Client }> {
  const daemon = await startTestDaemon();
  daemons.push(daemon);
  const client = await Client.connect({ port: daemon.port });
  clients.push(client);
  return { daemon, client };
}
after(async () => {
  for (const client of clients) client.destroy();
  await Promise.all(daemons.map((d) => d.stop()));
});

test('calls resolve with reply values; many in flight on one connection', async () => {
  const { client } = await setup();
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.call('add', i, 1)));
  assert.deepEqual(results, Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.equal(await client.call('echo', { a: [1, 'é'] }).then((v) => JSON.stringify(v)), '{"a":[1,"é"]}');
  assert.equal(await client.call('ping'), undefined);
  assert.equal(((await client.call('whois')) as { name: string }).name, 'test');
  assert.equal(((await client.call('options')) as Record<string, number>).echo, 1);
});

test('errors reject with the remote code', async () => {
  const { client } = await setup();
  await assert.rejects(client.call('nope'), (error: DaeError) => error instanceof DaeError && error.code === 'ERR_UNKNOWN_COMMAND');
  await assert.rejects(client.call('coded'), (error: DaeError) => error.code === 'ERR_NOT_FOUND' && error.message === 'not found here');
  await assert.rejects(client.call('add'), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
  await assert.rejects(client.call('bad name'), (error: DaeError) => error.code === 'ERR_BAD_OPTION');
  await assert.rejects(client.call('echo', 1n), (error: DaeError) => error.code === 'ERR_BAD_ARGS');
  assert.equal(await client.call('echo', 'still fine'), 'still fine');
});

test('a timed-out call rejects where it was made, and later calls still get their own replies', async () => {
  const { daemon, client } = await setup();
  async function callerNamedInTheStack(): Promise<unknown> {
    return client.request('wait', ['late'], { timeout: 20 });
  }
  const late = callerNamedInTheStack();
  await assert.rejects(late, (error: DaeError) => error.code === 'ERR_TIMEOUT' && /callerNamedInTheStack/.test(error.stack ?? ''));
  // The next call is queued behind the late one; its reply must not be taken for the late one's.
  const next = client.call('echo', 'mine');
  daemon.gate('late').resolve('theirs');
  assert.equal(await next, 'mine');
  assert.equal(await client.call('add', 2, 2), 4);
});

test('a refused connection is a rejection, not an exception', async () => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  await assert.rejects(Client.connect({ port }), (error: DaeError) => error.code === 'ERR_CONNECTION_FAILED' && /ECONNREFUSED/.test(error.message));
  await assert.rejects(Client.connect({ path: '/nonexistent/dae.sock' }), (error: DaeError) => error.code === 'ERR_CONNECTION_FAILED');
  await assert.rejects(Client.connect({}), (error: DaeError) => error.code === 'ERR_BAD_OPTION');
});

test('a connection closed under pending calls rejects them; later calls reject at once', async () => {
  const { client } = await setup();
  const pending = client.call('wait', 'forever');
  const kicked = client.call('kick');
  await assert.rejects(pending, (error: DaeError) => error.code === 'ERR_CONNECTION_CLOSED');
  await assert.rejects(kicked, (error: DaeError) => error.code === 'ERR_CONNECTION_CLOSED');
  assert.equal(client.closed, true);
  await assert.rejects(client.call('ping'), (error: DaeError) => error.code === 'ERR_CONNECTION_CLOSED');
});

test('a reset from a server that is not a daemon is a rejection', async () => {
  const server = createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = await Client.connect({ port: (server.address() as { port: number }).port });
  await assert.rejects(client.call('ping'), (error: DaeError) => error.code === 'ERR_CONNECTION_CLOSED');
  server.close();
});

test('pushes reach listeners and are told apart from replies', async () => {
  const { daemon, client } = await setup();
  const pushes: Array<[string, unknown[]]> = [];
  client.on('push', (name: string, args: unknown[]) => pushes.push([name, args]));
  assert.equal(await client.call('subscribe'), true);
  const reply = client.call('echo', 'reply');
  daemon.lastGuest!.push('tick', 1);
  daemon.lastGuest!.push('tick', 2);
  assert.equal(await reply, 'reply');
  await client.call('ping');
  assert.deepEqual(pushes, [['tick', [1]], ['tick', [2]]]);
});

test('dae answers the credential, then the connection closes', async () => {
  const { daemon, client } = await setup();
  assert.deepEqual(await client.call('dae'), ['test', process.pid, daemon.port, null]);
  await client.close();
  assert.equal(client.closed, true);
});

test('a connection-ending error reaches pending calls with its code', async () => {
  const daemon = await startTestDaemon({ limits: { maxPacketBytes: 100 } });
  daemons.push(daemon);
  const client = await Client.connect({ port: daemon.port });
  await assert.rejects(client.call('echo', 'x'.repeat(200)), (error: DaeError) => error.code === 'ERR_PACKET_TOO_LARGE');
  await assert.rejects(client.call('ping'), (error: DaeError) => error.code === 'ERR_PACKET_TOO_LARGE');
});
