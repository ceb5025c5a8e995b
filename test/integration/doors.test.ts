// Every daemon on four doors: TCP, unix socket, HTTP and WebSocket, one command table behind them.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'node:http';
import WebSocket from 'ws';
import { Client, DaeError } from '../../src/index.js';
import { startTestDaemon, TestDaemon } from '../helpers/daemons.js';
import { fixture, removeHomes, startDae } from '../helpers/supervisor.js';

const TOKEN = 'a-token-of-sixteen-chars-or-more';
const runtime = mkdtempSync(join(tmpdir(), 'dae-doors-'));
const daemons: TestDaemon[] = [];
async function daemon(options: ConstructorParameters<typeof TestDaemon>[0] = {}): Promise<TestDaemon> {
  const d = await startTestDaemon({ http: 0, ws: 0, token: TOKEN, env: { DAE_RUNTIME_DIR: runtime }, ...options });
  daemons.push(d);
  return d;
}
after(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  rmSync(runtime, { recursive: true, force: true });
  removeHomes();
});

function doors(d: TestDaemon): { tcp: number; unix: string; http: number; ws: number } {
  return d.identity().ports as { tcp: number; unix: string; http: number; ws: number };
}

describe('unix socket', () => {
  test('Common TCP on daemon.<pid>.sock in the runtime directory, mode 0600, removed on clean exit', async () => {
    const d = await daemon();
    const path = doors(d).unix;
    assert.match(path, new RegExp(`^${runtime}/daemon\\.${process.pid}(-\\d+)?\\.sock$`));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const client = await Client.connect({ path });
    assert.equal(await client.call('add', 2, 3), 5);
    client.destroy();
    await d.stop();
    assert.equal(existsSync(path), false);
  });

  test('nc -U types at the socket', async () => {
    const d = await daemon();
    const nc = spawn('nc', ['-NU', doors(d).unix], { stdio: ['pipe', 'pipe', 'inherit'] });
    const failed = new Promise<never>((_, reject) => nc.once('error', (error) => reject(new Error(`cannot run nc: ${error.message}`))));
    const lines = createInterface({ input: nc.stdout })[Symbol.asyncIterator]();
    nc.stdin.end('echo ["over unix"]\noptions\n');
    assert.equal((await Promise.race([failed, lines.next()])).value, 'echo ["over unix"]');
    assert.match((await lines.next()).value as string, /^commands \[\{"dae":0/);
    await once(nc, 'exit');
  });

  test('a stale socket file left by a SIGKILLed daemon is replaced; a live one is never taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dae-stale-'));
    try {
      const child = spawn(process.execPath, [fixture('echo')], { env: { ...process.env, DAE_RUNTIME_DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'] });
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const path = (JSON.parse(line.slice(line.indexOf('{'), line.indexOf('}') + 1)) as { unix: string }).unix;
      // A live socket is never taken.
      const thief = new TestDaemon({ env: {}, socket: path });
      await assert.rejects(thief.start(), (error: DaeError) => error.code === 'ERR_BAD_OPTION' && /served by a live process/.test(error.message));
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.equal(existsSync(path), true, 'SIGKILL leaves the file behind');
      const heir = new TestDaemon({ env: {}, socket: path });
      await heir.start();
      daemons.push(heir);
      const client = await Client.connect({ path });
      assert.equal(await client.call('echo', 'mine now'), 'mine now');
      client.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a socket path too long is a clear startup error', async () => {
    const d = new TestDaemon({ env: {}, socket: `/tmp/${'x'.repeat(120)}.sock` });
    await assert.rejects(d.start(), (error: DaeError) => error.code === 'ERR_BAD_OPTION' && /over the limit of 107/.test(error.message));
  });
});

// fetch cannot set Host: a plain request can (a DNS-rebinding page's requests carry the attacker's name).
function withHost(port: number, host: string, path: string): Promise<[number, string | undefined]> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path, method: 'POST', headers: { host, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve([res.statusCode ?? 0, (JSON.parse(body) as { code?: string } | null)?.code]));
    });
    req.on('error', reject);
    req.end('[1, 1]');
  });
}

describe('HTTP', () => {
  async function post(d: TestDaemon, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`http://127.0.0.1:${doors(d).http}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: response.status, body: await response.json() };
  }

  test('GET / answers identity and commands', async () => {
    const d = await daemon();
    const response = await fetch(`http://127.0.0.1:${doors(d).http}/`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { name: string; pid: number; ports: Record<string, unknown>; commands: Record<string, number> };
    assert.equal(body.name, 'test');
    assert.equal(body.pid, process.pid);
    assert.deepEqual(Object.keys(body.ports).sort(), ['http', 'tcp', 'unix', 'ws']);
    assert.equal(body.commands.add, 2);
    assert.equal(body.commands.dae, 0);
  });

  test('every row of the table', async () => {
    const d = await daemon({ limits: { maxPacketBytes: 1024 } });
    assert.deepEqual(await post(d, '/add', '[2, 3]'), { status: 200, body: 5 });
    assert.deepEqual(await post(d, '/echo', '[{"a": "é"}]', { 'content-type': 'application/json; charset=utf-8' }), { status: 200, body: { a: 'é' } });
    assert.deepEqual(await post(d, '/ping', ''), { status: 200, body: null });
    const codes = async (path: string, body: string, headers: Record<string, string> = {}): Promise<[number, string]> => {
      const { status, body: error } = await post(d, path, body, headers);
      return [status, (error as { code: string }).code];
    };
    assert.deepEqual(await codes('/nope', '[]'), [404, 'ERR_UNKNOWN_COMMAND']);
    assert.deepEqual(await codes('/__proto__', '[]'), [404, 'ERR_UNKNOWN_COMMAND']);
    assert.deepEqual(await codes('/add', '[1,'), [400, 'ERR_BAD_ARGS']);
    assert.deepEqual(await codes('/add', '[]'), [400, 'ERR_BAD_ARGS']);
    assert.deepEqual(await codes('/echo', `["${'x'.repeat(2000)}"]`), [413, 'ERR_PACKET_TOO_LARGE']);
    assert.deepEqual(await codes('/add', '[1, 2]', { 'content-type': 'text/plain' }), [415, 'ERR_UNSUPPORTED_MEDIA_TYPE']);
    assert.deepEqual(await codes('/add', '[1, 2]', { origin: 'http://evil.example' }), [403, 'ERR_FORBIDDEN']);
    assert.deepEqual(await withHost(doors(d).http, 'evil.example', '/add'), [403, 'ERR_FORBIDDEN']);
    assert.deepEqual(await withHost(doors(d).http, 'localhost:1234', '/add'), [200, undefined]);
    assert.deepEqual(await codes('/secret', '[]'), [401, 'ERR_AUTH_REQUIRED']);
    assert.deepEqual(await codes('/secret', '[]', { authorization: 'Bearer wrong' }), [403, 'ERR_AUTH_FAILED']);
    assert.deepEqual(await post(d, '/secret', '[]', { authorization: `Bearer ${TOKEN}` }), { status: 200, body: 'the secret' });
    assert.deepEqual(await codes('/fail', '[]'), [500, 'ERR_COMMAND_FAILED']);
    assert.deepEqual(await codes('/coded', '[]'), [500, 'ERR_NOT_FOUND']);
    const put = await fetch(`http://127.0.0.1:${doors(d).http}/add`, { method: 'PUT' });
    assert.equal(put.status, 405);
    await put.arrayBuffer();
  });

  test('an allowed Origin and a configured Host pass; a request without Origin (curl) passes', async () => {
    const d = await daemon({ allowOrigins: ['http://localhost:3000'], allowHosts: ['box.lan'] });
    assert.deepEqual(await post(d, '/add', '[1, 1]', { origin: 'http://localhost:3000' }), { status: 200, body: 2 });
    assert.deepEqual(await withHost(doors(d).http, 'box.lan:8080', '/add'), [200, undefined]);
    assert.equal((await post(d, '/add', '[1, 1]', { origin: 'http://localhost:3001' })).status, 403);
  });

  test('an allowed origin gets CORS headers and its preflight answered', async () => {
    const d = await daemon({ allowOrigins: ['http://localhost:3000'] });
    const preflight = await fetch(`http://127.0.0.1:${doors(d).http}/add`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/);
    const call = await fetch(`http://127.0.0.1:${doors(d).http}/add`, { method: 'POST', body: '[1, 2]', headers: { origin: 'http://localhost:3000', 'content-type': 'application/json' } });
    assert.equal(call.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    assert.equal(await call.json(), 3);
  });

  test('stop does not wait past its deadline for a request that never ends, nor for plain HTTP on the WebSocket port', async () => {
    const d = new TestDaemon({ env: { DAE_RUNTIME_DIR: runtime }, http: 0, ws: 0, stopTimeout: 200 });
    await d.start();
    const hanging = fetch(`http://127.0.0.1:${doors(d).http}/wait`, { method: 'POST', body: '["never"]', headers: { 'content-type': 'application/json' } }).catch(() => 'dropped');
    await d.untilRunning(1);
    const plain = await fetch(`http://127.0.0.1:${doors(d).ws}/`);
    assert.equal(plain.status, 426);
    await d.stop();
    assert.equal(await hanging, 'dropped');
  });

  test('POST /dae answers like any command and closes nothing', async () => {
    const d = await daemon();
    assert.deepEqual(await post(d, '/dae', '[]'), { status: 200, body: ['test', process.pid, d.port, null] });
    assert.deepEqual(await post(d, '/add', '[1, 1]'), { status: 200, body: 2 });
  });
});

describe('WebSocket', () => {
  async function socket(d: TestDaemon, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; next(): Promise<string> }> {
    const ws = new WebSocket(`ws://127.0.0.1:${doors(d).ws}`, { headers });
    const queue: string[] = [];
    const waiting: Array<(text: string) => void> = [];
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      const waiter = waiting.shift();
      if (waiter) waiter(text);
      else queue.push(text);
    });
    await once(ws, 'open');
    return { ws, next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
  }

  test('request and reply: each text message is one packet', async () => {
    const d = await daemon();
    const { ws, next } = await socket(d);
    ws.send('add [2, 3]');
    assert.equal(await next(), 'add [5]');
    ws.send('nope');
    assert.match(await next(), /^error \[\{"code":"ERR_UNKNOWN_COMMAND"/);
    ws.send('echo ["é"]\n');
    assert.equal(await next(), 'echo ["é"]');
    ws.close();
  });

  test('pushes come back as messages', async () => {
    const d = await daemon();
    const { ws, next } = await socket(d);
    ws.send('subscribe');
    assert.equal(await next(), 'subscribe [true]');
    d.lastGuest!.push('tick', 1);
    assert.equal(await next(), 'tick [1]');
    ws.close();
  });

  test('auth as on TCP', async () => {
    const d = await daemon();
    const { ws, next } = await socket(d);
    ws.send('secret');
    assert.match(await next(), /"ERR_AUTH_REQUIRED"/);
    ws.send(`auth ["${TOKEN}"]`);
    assert.equal(await next(), 'auth [true]');
    ws.send('secret');
    assert.equal(await next(), 'secret ["the secret"]');
    ws.close();
  });

  test('an oversized message gets ERR_PACKET_TOO_LARGE, then the close', async () => {
    const d = await daemon({ limits: { maxPacketBytes: 1024 } });
    const { ws, next } = await socket(d);
    const closed = once(ws, 'close');
    ws.send(`echo ["${'x'.repeat(1500)}"]`);
    assert.match(await next(), /^error \[\{"code":"ERR_PACKET_TOO_LARGE"/);
    await closed;
  });

  test('a foreign Origin or Host is refused at the upgrade with 403', async () => {
    const d = await daemon();
    for (const headers of [{ origin: 'http://evil.example' }, { host: 'evil.example' }]) {
      const ws = new WebSocket(`ws://127.0.0.1:${doors(d).ws}`, { headers });
      ws.on('error', () => undefined);
      const [, response] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
      assert.equal(response.statusCode, 403);
      ws.terminate();
    }
  });

  test('dae answers, then closes with 1000', async () => {
    const d = await daemon();
    const { ws, next } = await socket(d);
    const closed = once(ws, 'close');
    ws.send('dae');
    assert.equal(await next(), `credential ["test",${process.pid},${d.port},null]`);
    const [code] = (await closed) as [number];
    assert.equal(code, 1000);
  });

  test('the client has a WebSocket transport', async () => {
    const d = await daemon();
    const client = await Client.connect({ url: `ws://127.0.0.1:${doors(d).ws}` });
    const pushes: string[] = [];
    client.on('push', (name: string) => pushes.push(name));
    assert.equal(await client.call('add', 4, 5), 9);
    await client.call('subscribe');
    d.lastGuest!.push('tick');
    assert.equal(await client.call('echo', 'after'), 'after');
    assert.deepEqual(pushes, ['tick']);
    await assert.rejects(client.call('nope'), (error: DaeError) => error.code === 'ERR_UNKNOWN_COMMAND');
    await client.close();
  });
});

describe('under the supervisor', () => {
  test('a supervised daemon binds its leased tcp, http and ws ports and its socket; list shows four working doors', async () => {
    const dae = await startDae(21600);
    try {
      const entry = await dae.install('four', fixture('echo'));
      assert.equal(entry.status, 'online');
      assert.match(entry.socket!, new RegExp(`^${dae.paths.run}/daemon\\.${entry.pid}\\.sock$`));
      const viaTcp = await Client.connect({ port: entry.ports.tcp! });
      const viaUnix = await Client.connect({ path: entry.socket! });
      const viaWs = await Client.connect({ url: `ws://127.0.0.1:${entry.ports.ws}` });
      for (const client of [viaTcp, viaUnix, viaWs]) assert.equal(await client.call('pid'), entry.pid);
      const viaHttp = await fetch(`http://127.0.0.1:${entry.ports.http}/pid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
      assert.equal(await viaHttp.json(), entry.pid);
      const whois = (await viaTcp.call('whois')) as { ports: Record<string, unknown> };
      assert.deepEqual(whois.ports, { tcp: entry.ports.tcp, unix: entry.socket, http: entry.ports.http, ws: entry.ports.ws });
      for (const client of [viaTcp, viaUnix, viaWs]) client.destroy();
    } finally {
      await dae.stop();
    }
  });
});
