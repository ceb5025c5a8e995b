// SIGKILL of the supervisor at any instant during parallel installs, restarts and uninstalls: the next supervisor
// adopts or kills everything an earlier one spawned. Afterwards each installed daemon runs exactly once, nothing of the
// home runs outside the state, and `dae kill` leaves nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type ListEntry, type StatusEvent } from '../../src/index.js';
import { environ, ok, procStat, processesWhere, sigkill } from '../helpers/cli.js';
import { fixture, removeHomes, tempHome } from '../helpers/supervisor.js';

const ITERATIONS = 20;
const NAMES = Array.from({ length: 8 }, (_, i) => `d${i}`);
const ECHO = fixture('echo');
const home = tempHome();
const place = { home, cwd: tempHome() };
const runDir = join(home, 'run');

after(async () => {
  for (const pid of homeProcesses()) sigkill(pid);
  removeHomes();
});

// A small deterministic generator: a failure names its seed.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Every live process of this home's daemons (their runtime directory is in their environment). */
function homeProcesses(): number[] {
  return processesWhere((env) => env.includes(`DAE_RUNTIME_DIR=${runDir}`));
}

function nameOf(pid: number): string | undefined {
  return environ(pid).find((item) => item.startsWith('DAE_NAME='))?.slice('DAE_NAME='.length);
}

async function startSupervisor(): Promise<number> {
  const out = await ok(place, 'start');
  const pid = Number(/pid (\d+)/.exec(out)?.[1]);
  assert.ok(pid > 0, out);
  return pid;
}

// Round trips of `list` until every daemon is online, or stopped (an uninstall cut short stops it first), bounded.
async function settled(): Promise<ListEntry[]> {
  const client = await Client.connect({ path: join(runDir, 'dae.sock') });
  try {
    const deadline = Date.now() + 20_000;
    let entries: ListEntry[] = [];
    while (Date.now() < deadline) {
      entries = (await client.call('list')) as ListEntry[];
      if (entries.every((entry) => entry.status === 'online' || entry.status === 'stopped')) return entries;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.fail(`not every daemon came online: ${JSON.stringify(entries.map((e) => [e.name, e.status, e.reason]))}`);
  } finally {
    client.destroy();
  }
}

test(`SIGKILL of the supervisor during parallel installs and restarts, ${ITERATIONS} times: every daemon runs exactly once`, async () => {
  writeFileSync(join(place.cwd, 'daeconfig.json'), JSON.stringify({ port: 0, http: null, portrangestart: { tcp: 32300, http: 32400, ws: 32500 }, adoptTimeout: 5000 }));
  const seed = Date.now() % 100_000;
  const next = random(seed);
  let pid = await startSupervisor();
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const client = await Client.connect({ path: join(runDir, 'dae.sock') });
    const installed = new Set(((await client.call('list')) as ListEntry[]).map((entry) => entry.name));
    // The kill comes with the k-th status event: any instant of the work below.
    const k = 1 + Math.floor(next() * 16);
    let seen = 0;
    const killed = new Promise<void>((resolve) => {
      client.on('push', (name: string, args: unknown[]) => {
        if (name !== 'event' || (args[0] as StatusEvent).name === undefined || ++seen !== k) return;
        sigkill(pid);
        resolve();
      });
    });
    await client.call('events');
    const work = NAMES.map((name) => {
      const choice = next();
      if (!installed.has(name)) return client.call('install', name, ECHO, {});
      return client.call(choice < 0.7 ? 'restart' : 'uninstall', name);
    });
    await Promise.race([killed, Promise.allSettled(work)]);
    sigkill(pid);
    await Promise.allSettled(work);
    client.destroy();

    pid = await startSupervisor();
    const entries = await settled();
    const context = `iteration ${iteration}, seed ${seed}, kill at event ${k}`;
    const listed = new Map(entries.map((entry) => [entry.name, entry.pid]));
    for (const [name, leader] of listed) {
      const leaders = homeProcesses().filter((p) => nameOf(p) === name && procStat(p)?.pgrp === p);
      assert.deepEqual(leaders, leader === null ? [] : [leader], `${context}: ${name} runs exactly once as listed, or not at all when stopped`);
    }
    for (const stray of homeProcesses()) {
      assert.ok(listed.has(nameOf(stray) ?? ''), `${context}: pid ${stray} (${nameOf(stray)}) runs outside the state`);
    }
  }
  await ok(place, 'kill');
  assert.deepEqual(homeProcesses(), [], 'dae kill leaves nothing of the home running');
});
