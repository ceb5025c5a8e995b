// The README's first command: `npm start` runs the demo in a home of its own (~/.dae-demo), a SIGTERM or SIGINT to npm's
// pid stops everything it started (ports freed, no process left), and a `dae start` of another home meanwhile says
// plainly that the port is taken and by whom.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baseEnv, fails, processesWhere, sigkill } from '../helpers/cli.js';
import { removeHomes, tempHome } from '../helpers/supervisor.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// The README's ports: the supervisor and its dashboard, the LAN manager's two doors, and the samples' first leases.
const PORTS = [23550, 23555, 23551, 23552, 15000, 15001, 16000, 16001, 17000, 17001];
const started: number[] = [];

after(() => {
  for (const pid of started) sigkill(pid);
  removeHomes();
});

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function demoProcesses(home: string): number[] {
  return processesWhere((env) => env.includes(`HOME=${home}`) || env.includes(`DAE_RUNTIME_DIR=${join(home, '.dae-demo', 'run')}`));
}

async function runDemo(signal: NodeJS.Signals, meanwhile?: (home: string) => Promise<void>): Promise<void> {
  const home = tempHome();
  const env: NodeJS.ProcessEnv = { ...baseEnv, HOME: home };
  delete env.DAE_HOME;
  const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(npm.pid!);
  let output = '';
  npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    npm.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('stops the supervisor, its daemons and the LAN manager')) resolve();
    });
    npm.once('exit', (code) => reject(new Error(`npm start exited (${code}) before it was up: ${output}`)));
  });
  assert.match(output, new RegExp(`home ${join(home, '.dae-demo')};`), 'the demo runs in ~/.dae-demo');
  assert.ok(existsSync(join(home, '.dae-demo', 'state.json')));
  assert.match(output, /dashboard {3}http:\/\/127\.0\.0\.1:23555\//, 'the dashboard is on its default port');
  assert.equal(existsSync(join(home, '.dae')), false, 'the default home is not touched');
  await meanwhile?.(home);
  const exited = once(npm, 'exit');
  process.kill(npm.pid!, signal);
  await exited;
  assert.deepEqual(demoProcesses(home), [], `nothing of the demo runs after ${signal} to npm`);
  for (const port of PORTS) assert.equal(await bindable(port), true, `port ${port} is free after ${signal}`);
}

test('npm start: SIGTERM to npm\'s pid stops everything it started; a dae start of another home says the port is taken', async () => {
  await runDemo('SIGTERM', async () => {
    const other = tempHome();
    await fails({ home: other, cwd: other }, 1, /^dae: ERR_START_FAILED: port 23550 on 127\.0\.0\.1 is taken by pid \d+ \(.*start\.mjs\): another supervisor/, 'start');
  });
});

test('npm start: SIGINT to npm\'s pid stops everything it started', async () => {
  await runDemo('SIGINT');
});
