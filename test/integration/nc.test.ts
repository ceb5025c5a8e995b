// A real `nc` types at a daemon, as a person would. Needs netcat-openbsd (the README's test command installs it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Kv } from '../../sample/kv.js';

const kv = new Kv({ env: {} });
after(() => kv.stop());

function nc(port: number): { stdin: NodeJS.WritableStream; nextLine(): Promise<string>; exit: Promise<number | null> } {
  const child = spawn('nc', ['-N', '127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const failed = new Promise<never>((_, reject) => child.once('error', (error) => reject(new Error(`cannot run nc (apt-get install netcat-openbsd): ${error.message}`))));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    stdin: child.stdin,
    nextLine: () => Promise.race([failed, lines.next().then((r) => (r.done ? Promise.reject(new Error('nc closed')) : r.value))]),
    exit: Promise.race([failed, once(child, 'exit').then(([code]) => code as number | null)]),
  };
}

test('nc types options and get ["a"], one line at a time', async () => {
  await kv.start();
  await kv.dispatch('set', 'a', 1);
  const session = nc(kv.port);
  session.stdin.write('options\n');
  const options = await session.nextLine();
  assert.match(options, /^commands \[\{"dae":0,"whois":0,"options":0,"ping":0,"auth":1,"all":0,"get":1,"set":2,"reset":0\}\]$/);
  session.stdin.write('get ["a"]\n');
  assert.equal(await session.nextLine(), 'get [1]');
  session.stdin.write('get ["a"\n');
  assert.match(await session.nextLine(), /^error \[\{"code":"ERR_BAD_ARGS"/);
  session.stdin.end();
  assert.equal(await session.exit, 0);
});

test('printf | nc -N: every command is answered after the half-close', async () => {
  const session = nc(kv.port);
  session.stdin.end('set ["b", {"x": "é"}]\nget ["b"]\nall\n');
  assert.equal(await session.nextLine(), 'set []');
  assert.equal(await session.nextLine(), 'get [{"x":"é"}]');
  assert.equal(await session.nextLine(), 'memory [{"a":1,"b":{"x":"é"}}]', 'the original sample\'s reply name');
  assert.equal(await session.exit, 0);
});
