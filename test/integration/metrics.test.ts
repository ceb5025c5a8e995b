// `GET /metrics` on the supervisor's HTTP door, read by a real Prometheus text-format parser: per daemon and instance
// up, status, restarts, CPU, memory, start time and last exit code; the supervisor's own process figures.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { WebSocket } from 'ws';
import { join } from 'node:path';
import { formatMetrics } from '../../src/supervisor/metrics.js';
import { Client, type DaeError, type ListEntry } from '../../src/index.js';
import { fixture, removeHomes, startDae, untilStatus } from '../helpers/supervisor.js';

interface Family {
  name: string;
  type: string;
  help: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}
// The parser is CommonJS without types: its one function, typed here.
const parse = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

after(() => removeHomes());

function series(families: Family[], name: string): Array<{ value: number; labels: Record<string, string> }> {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `no ${name}`);
  return family.metrics.map((m) => ({ value: Number(m.value), labels: m.labels ?? {} }));
}

test('the supervisor\'s metrics parse as Prometheus text and tell the truth about each copy', async () => {
  const dae = await startDae(31850, { portrangestart: { tcp: 31850, http: 31855, ws: 31860 }, http: 0 });
  try {
    const doors = JSON.parse(readFileSync(join(dae.paths.run, 'dae.port'), 'utf8')) as { tcp: number; http: number; host: string };
    assert.deepEqual(doors, { tcp: dae.port, http: doors.http, host: '127.0.0.1' });
    assert.ok(doors.http > 0);
    const up = await dae.install('web', fixture('echo'), { instances: 2 });
    assert.equal(up.status, 'online');
    await dae.install('once', fixture('exit-zero'), { restart: 'never', ready: 'none' });
    await untilStatus(dae, 'once', 'stopped');
    await new Promise((resolve) => dae.once('sampled', resolve));
    await new Promise((resolve) => dae.once('sampled', resolve));

    const response = await fetch(`http://127.0.0.1:${doors.http}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const families = parse(await response.text());
    const of = (name: string, daemon: string, instance = '0'): number[] => series(families, name).filter((s) => s.labels.name === daemon && s.labels.instance === instance).map((s) => s.value);
    assert.deepEqual([...of('dae_daemon_up', 'web', '0'), ...of('dae_daemon_up', 'web', '1'), ...of('dae_daemon_up', 'once')], [1, 1, 0]);
    const statuses = series(families, 'dae_daemon_status').filter((s) => s.labels.name === 'once');
    assert.equal(statuses.length, 7, 'one series per status');
    assert.deepEqual(statuses.filter((s) => s.value === 1).map((s) => s.labels.status), ['stopped']);
    assert.deepEqual(of('dae_daemon_last_exit_code', 'once'), [0]);
    assert.deepEqual(of('dae_daemon_restarts_total', 'web', '1'), [0]);
    const [memory] = of('dae_daemon_memory_bytes', 'web', '1');
    assert.ok(memory! > 1e6, `memory ${memory}`);
    const [started] = of('dae_daemon_start_time_seconds', 'web');
    assert.ok(Math.abs(started! - Date.now() / 1000) < 60);
    assert.ok(of('dae_daemon_cpu_seconds_total', 'web')[0]! >= 0);
    assert.deepEqual(of('dae_daemon_start_time_seconds', 'once'), [], 'no start time without a run');
    assert.equal(families.find((f) => f.name === 'dae_daemon_restarts_total')!.type, 'COUNTER');
    assert.ok(series(families, 'process_resident_memory_bytes')[0]!.value > 1e6);
    assert.ok(series(families, 'process_cpu_seconds_total')[0]!.value > 0);

    // The live feed: a WebSocket session on the same port, read-only without the token.
    const feed = await Client.connect({ url: `ws://127.0.0.1:${doors.http}` });
    try {
      assert.deepEqual(((await feed.call('list')) as ListEntry[]).map((entry) => `${entry.name}/${entry.instance}`), ['web/0', 'web/1', 'once/0']);
      assert.equal(await feed.call('events'), true);
      const pushed = new Promise<unknown[]>((resolve) => feed.on('push', (name: string, args: unknown[]) => name === 'event' && resolve(args)));
      await dae.stopDaemon('once').catch(() => undefined);
      await dae.startDaemon('once');
      assert.equal(((await pushed)[0] as { name: string }).name, 'once');
      await assert.rejects(feed.call('stop', 'web'), (error: DaeError) => error.code === 'ERR_AUTH_REQUIRED');
      // Each sampler tick reaches the feed: a sample of every running copy.
      const tick = new Promise<Array<{ name: string; instance: number; samples: number[][] }>>((resolve) => feed.on('push', (name: string, args: unknown[]) => name === 'sample' && resolve(args[0] as never)));
      const copies = (await tick).map((copy) => `${copy.name}/${copy.instance}`);
      assert.ok(copies.includes('web/0') && copies.includes('web/1'), copies.join(', '));
      const kept = (await feed.call('samples', 'web')) as Array<{ instance: number; samples: Array<[number, number, number]> }>;
      assert.deepEqual(kept.map((copy) => copy.instance).sort(), [0, 1]);
      assert.ok(kept.every((copy) => copy.samples.length >= 1 && copy.samples.every(([at, , memory]) => at <= Date.now() && memory > 0)));
    } finally {
      feed.destroy();
    }
    // A page of another origin cannot open the feed.
    const foreign = new WebSocket(`ws://127.0.0.1:${doors.http}`, { headers: { origin: 'http://evil.example' } });
    const [, refused] = (await once(foreign, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(refused.statusCode, 403);
    foreign.on('error', () => undefined);
    foreign.terminate();

    // Other clients still get the JSON identity at `/`; a foreign page is refused.
    assert.equal(((await (await fetch(`http://127.0.0.1:${doors.http}/`)).json()) as { name: string }).name, 'Dae');
    assert.equal((await fetch(`http://127.0.0.1:${doors.http}/metrics`, { headers: { origin: 'http://evil.example' } })).status, 403);
  } finally {
    await dae.stop();
  }
});

test('label values are escaped so that any text reads back as it was', () => {
  const entry = { name: 'we"ird\\name\nx', instance: 0, status: 'online', restarts: 1, memory: 5, lastExit: null, logBehind: false } as unknown as ListEntry;
  const families = parse(formatMetrics([{ entry, cpuSeconds: 1.5, startTime: 10 }], { cpuSeconds: 1, residentBytes: 2, startTime: 3 }));
  assert.deepEqual(series(families, 'dae_daemon_up').map((s) => s.labels.name), ['we"ird\\name\nx']);
  assert.deepEqual(series(families, 'dae_daemon_cpu_seconds_total').map((s) => s.value), [1.5]);
});
