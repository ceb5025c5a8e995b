// The dashboard's pure view code (it runs in the browser as written; loaded here from the source tree): formats, rows
// from the live feed, the window of a long table, sparklines, log records and their search, the wire's packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const PAGE = new URL('../../../src/supervisor/dashboard/page/', import.meta.url);
type Row = { entry: Record<string, unknown> & { name: string; instance: number; status: string }; at: number };
type Rows = Map<string, Row>;
interface View {
  formatBytes(n: number): string;
  formatDuration(ms: number): string;
  formatCpu(p: number): string;
  rowKey(name: string, instance: number): string;
  uptimeAt(row: Row, now: number): number | null;
  rowsFromList(entries: unknown[], at: number): Rows;
  applyEvent(rows: Rows, event: unknown, entry: unknown, at: number): Rows;
  applyGone(rows: Rows, rings: Map<string, number[][]>, gone: { name: string; from: number }): { rows: Rows; rings: Map<string, number[][]> };
  applySamples(rings: Map<string, number[][]>, rows: Rows, taken: unknown[]): { rings: Map<string, number[][]>; rows: Rows };
  shownRows(rows: Rows, filter: string): Row[];
  visibleWindow(top: number, height: number, rowHeight: number, count: number, overscan?: number): { start: number; end: number };
  sparkPoints(values: number[], width: number, height: number): string;
  parseRecord(line: string): { time: string; stream: string; instance: number; text: string };
  searchRecords(records: unknown[], query: string): Array<{ record: { text: string }; at: number }>;
  SAMPLES_KEPT: number;
}
const view = (await import(new URL('view.js', PAGE).href)) as View;
const { parsePacket } = (await import(new URL('wire.js', PAGE).href)) as { parsePacket(text: string): { name: string; args: unknown[] } | null };

const copy = (name: string, instance = 0, more: Record<string, unknown> = {}): Row['entry'] => ({ name, instance, status: 'online', pid: 10, uptime: 5, cpu: 0, memory: 0, restarts: 0, reason: null, ...more });

test('formats: bytes, durations, CPU', () => {
  assert.deepEqual([0, 512, 1536, 54.5 * 1024 * 1024, 300 * 1024 ** 3].map(view.formatBytes), ['-', '512 B', '1.5 KiB', '54.5 MiB', '300 GiB']);
  assert.deepEqual([NaN, -1, 999, 61_000, 3_660_000, 90_000_000].map(view.formatDuration), ['-', '-', '0s', '1m 1s', '1h 1m', '1d 1h']);
  assert.deepEqual([0, 2.345, 57.6, NaN].map(view.formatCpu), ['0.0%', '2.3%', '58%', '-']);
});

test('rows follow the feed: an event replaces its copy (or adds a new one), gone removes copies, samples fill rings', () => {
  let rows = view.rowsFromList([copy('a'), copy('b'), copy('b', 1)], 1000);
  assert.equal(rows.size, 3);
  rows = view.applyEvent(rows, { name: 'a', instance: 0, from: 'online', to: 'backoff', reason: 'exited 1' }, copy('a', 0, { status: 'backoff', pid: null, restarts: 1 }), 2000);
  assert.deepEqual([rows.get(view.rowKey('a', 0))!.entry.status, rows.get(view.rowKey('a', 0))!.entry.restarts, rows.get(view.rowKey('a', 0))!.at], ['backoff', 1, 2000]);
  // An event without an entry (a copy not shown) changes the status alone.
  rows = view.applyEvent(rows, { name: 'b', instance: 1, from: 'online', to: 'stopping', reason: 'scale' }, null, 3000);
  assert.equal(rows.get(view.rowKey('b', 1))!.entry.status, 'stopping');
  rows = view.applyEvent(rows, { name: 'c', instance: 0, from: 'stopped', to: 'starting', reason: null }, copy('c', 0, { status: 'starting' }), 3000);
  assert.equal(rows.size, 4);
  const ringsOf = new Map([[view.rowKey('b', 0), [[1, 1, 1]]], [view.rowKey('b', 1), [[1, 1, 1]]], [view.rowKey('a', 0), [[1, 1, 1]]]]);
  const scaled = view.applyGone(rows, ringsOf, { name: 'b', from: 1 });
  assert.deepEqual([...scaled.rows.keys()].sort(), [view.rowKey('a', 0), view.rowKey('b', 0), view.rowKey('c', 0)].sort());
  assert.deepEqual([...scaled.rings.keys()].sort(), [view.rowKey('a', 0), view.rowKey('b', 0)].sort(), 'the samples of copies gone go too');
  const uninstalled = view.applyGone(rows, ringsOf, { name: 'b', from: 0 });
  assert.deepEqual([uninstalled.rows.size, [...uninstalled.rings.keys()]], [2, [view.rowKey('a', 0)]]);
  let rings = new Map<string, number[][]>();
  for (let i = 0; i < view.SAMPLES_KEPT + 5; i++) ({ rings, rows } = view.applySamples(rings, rows, [{ name: 'c', instance: 0, samples: [[i, i % 7, 1000 + i]] }]));
  const ring = rings.get(view.rowKey('c', 0))!;
  assert.equal(ring.length, view.SAMPLES_KEPT, 'bounded');
  assert.deepEqual(ring.at(-1), [124, 124 % 7, 1124]);
  assert.deepEqual([rows.get(view.rowKey('c', 0))!.entry.cpu, rows.get(view.rowKey('c', 0))!.entry.memory], [124 % 7, 1124]);
});

test('uptime ticks from the entry while online only; rows sort by name then instance and filter by name, status, reason', () => {
  assert.equal(view.uptimeAt({ entry: copy('a'), at: 1000 }, 3500), 7500);
  assert.equal(view.uptimeAt({ entry: copy('a', 0, { status: 'backoff' }), at: 1000 }, 3500), null);
  const rows = view.rowsFromList([copy('zeta'), copy('alpha', 1), copy('alpha'), copy('mid', 0, { status: 'errored', reason: 'Port 80 held' })], 0);
  assert.deepEqual(view.shownRows(rows, '').map((r) => `${r.entry.name}${r.entry.instance}`), ['alpha0', 'alpha1', 'mid0', 'zeta0']);
  assert.deepEqual(view.shownRows(rows, 'ERR').map((r) => r.entry.name), ['mid']);
  assert.deepEqual(view.shownRows(rows, ' port 80 ').map((r) => r.entry.name), ['mid']);
  assert.deepEqual(view.shownRows(rows, 'nothing'), []);
});

test('a long table draws only the rows in view and a few either side', () => {
  assert.deepEqual(view.visibleWindow(0, 440, 44, 500, 8), { start: 0, end: 18 });
  assert.deepEqual(view.visibleWindow(44 * 250, 440, 44, 500, 8), { start: 242, end: 268 });
  assert.deepEqual(view.visibleWindow(44 * 498, 440, 44, 500, 8), { start: 490, end: 500 });
  assert.deepEqual(view.visibleWindow(0, 440, 44, 0, 8), { start: 0, end: 0 });
});

test('sparklines scale into their box, the highest value at the top', () => {
  assert.equal(view.sparkPoints([5], 60, 18), '');
  assert.equal(view.sparkPoints([0, 10], 60, 18), '0.0,17.0 60.0,1.0');
  assert.equal(view.sparkPoints([0, 0, 0], 60, 18), '0.0,17.0 30.0,17.0 60.0,17.0');
});

test('log records: stamped lines parse (instances too), others show whole; search marks where it matched', () => {
  assert.deepEqual(view.parseRecord('2026-12-07T10:00:00.123Z err@2 boom: a b'), { time: '2026-12-07T10:00:00.123Z', stream: 'err', instance: 2, text: 'boom: a b' });
  assert.deepEqual(view.parseRecord('2026-12-07T10:00:00.123Z out '), { time: '2026-12-07T10:00:00.123Z', stream: 'out', instance: 0, text: '' });
  assert.deepEqual(view.parseRecord('not a record'), { time: '', stream: 'out', instance: 0, text: 'not a record' });
  const records = ['alpha', 'Beta gamma', 'delta'].map((text) => ({ time: '', stream: 'out', instance: 0, text }));
  assert.deepEqual(view.searchRecords(records, 'GAMMA').map((f) => [f.record.text, f.at]), [['Beta gamma', 5]]);
  assert.equal(view.searchRecords(records, '').length, 3);
  // Found, but lower case changed the text's length: nothing is marked rather than the wrong place.
  assert.deepEqual(view.searchRecords([{ time: '', stream: 'out', instance: 0, text: 'İstanbul x' }], 'x').map((f) => f.at), [-1]);
});

test('the page\'s wire: replies and pushes parse as the protocol writes them', () => {
  assert.deepEqual(parsePacket('daemons [[{"name":"a"}]]'), { name: 'daemons', args: [[{ name: 'a' }]] });
  assert.deepEqual(parsePacket('event [{"name":"a"},null]'), { name: 'event', args: [{ name: 'a' }, null] });
  assert.deepEqual(parsePacket('pong'), { name: 'pong', args: [] });
  assert.deepEqual(parsePacket('error {"code":"ERR_X","message":"m"}'), { name: 'error', args: [{ code: 'ERR_X', message: 'm' }] });
  assert.equal(parsePacket('daemons [oops'), null);
});
