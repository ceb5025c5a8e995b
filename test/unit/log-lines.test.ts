// The log path's pure part: bytes into stamped lines, cut with a marker past the limit, partial lines kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cutMarker, formatRecord, LineSplitter, parseRecord, RUN_END, type LogRecord } from '../../src/logs/lines.js';
import { fifoPath, parseFifoName } from '../../src/logs/log-keeper.js';
import { rotationSteps } from '../../src/logs/rotating-file.js';
import { since } from '../../src/cli/parse.js';
import { showLine } from '../../src/cli/logs.js';

const lines = (records: LogRecord[]): string[] => records.map((record) => record.line);

test('lines split across chunks are whole, stamped when their end arrived; CRLF loses its CR; a partial line is kept at the end', () => {
  const splitter = new LineSplitter('out', 100);
  assert.deepEqual(splitter.push(Buffer.from('hel'), 1), []);
  assert.deepEqual(splitter.push(Buffer.from('lo\r\nwor'), 2), [{ time: 2, stream: 'out', line: 'hello' }]);
  assert.deepEqual(lines(splitter.push(Buffer.from('ld\n\nlast'), 3)), ['world', '']);
  assert.deepEqual(splitter.end(4), [{ time: 4, stream: 'out', line: 'last' }]);
  assert.deepEqual(splitter.end(5), [], 'nothing is left twice');
});

test('a line over the limit is cut at a character boundary with a marker that counts what was dropped; the next line is whole', () => {
  const splitter = new LineSplitter('err', 5);
  // "aaaé" is 5 bytes: é (2 bytes) would not fit whole after 4 a's, so the cut falls before it.
  const records = splitter.push(Buffer.from('aaaaébbbb\nnext\n'), 1);
  assert.deepEqual(lines(records), [`aaaa${cutMarker(6)}`, 'next']);
  // Cut across chunks: the dropped count covers every chunk.
  assert.deepEqual(lines(splitter.push(Buffer.from('1234567'), 2)), []);
  assert.deepEqual(lines(splitter.push(Buffer.from('89\n'), 3)), [`12345${cutMarker(4)}`]);
  assert.deepEqual(lines([...splitter.push(Buffer.from('xxxxxxx'), 4), ...splitter.end(5)]), [`xxxxx${cutMarker(2)}`]);
});

test('any bytes, in any chunking: the lines come out as the text split at newlines (none lost, none split), each within the limit', () => {
  fc.assert(fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '\n', 'z') }), { maxLength: 20 }), fc.integer({ min: 4, max: 40 }), (pieces, max) => {
    const text = pieces.join('');
    const splitter = new LineSplitter('out', max);
    const got = [...pieces.flatMap((piece, i) => splitter.push(Buffer.from(piece), i)), ...splitter.end(99)].map((record) => record.line);
    const expected = text.split('\n');
    if (expected.at(-1) === '') expected.pop();
    assert.equal(got.length, expected.length);
    got.forEach((line, i) => {
      const whole = expected[i]!;
      if (Buffer.byteLength(whole) <= max) assert.equal(line, whole);
      else {
        assert.ok(line.includes(' …[cut: '), line);
        const kept = line.slice(0, line.indexOf(' …[cut: '));
        assert.ok(whole.startsWith(kept) && Buffer.byteLength(kept) <= max);
      }
    });
  }));
});

test('the run-end marker ends a partial line and is no line itself', () => {
  const splitter = new LineSplitter('out', 100);
  assert.deepEqual(lines(splitter.push(Buffer.from(`whole\npartial${RUN_END}`), 1)), ['whole', 'partial']);
  assert.deepEqual(lines(splitter.push(Buffer.from(RUN_END), 2)), [], 'after a newline, nothing');
  assert.deepEqual(lines(splitter.push(Buffer.from('next run\n'), 3)), ['next run']);
});

test('a stored record reads back as it was; other text is not a record', () => {
  const record: LogRecord = { time: Date.UTC(2026, 11, 7, 10, 0, 0, 123), stream: 'err', line: 'x y  z' };
  const stored = formatRecord(record);
  assert.equal(stored, '2026-12-07T10:00:00.123Z err x y  z\n');
  assert.deepEqual(parseRecord(stored.slice(0, -1)), record);
  assert.equal(parseRecord('plain old line'), null);
  assert.equal(parseRecord('2026-12-07T10:00:00.123Z warn x'), null);
});

test('an instance past the first is tagged on its stream, and read back', () => {
  const splitter = new LineSplitter('err', 100, 2);
  const [record] = splitter.push(Buffer.from('hi\n'), Date.UTC(2026, 11, 7));
  assert.deepEqual(record, { time: Date.UTC(2026, 11, 7), stream: 'err', line: 'hi', instance: 2 });
  assert.equal(formatRecord(record!), '2026-12-07T00:00:00.000Z err@2 hi\n');
  assert.deepEqual(parseRecord('2026-12-07T00:00:00.000Z err@2 hi'), record);
  assert.deepEqual(parseRecord('2026-12-07T00:00:00.000Z out@0 hi'), { time: Date.UTC(2026, 11, 7), stream: 'out', line: 'hi' });
  assert.equal(parseRecord('2026-12-07T00:00:00.000Z out@x hi'), null);
});

test('pipe names: a daemon, its instance and stream; anything else is no pipe', () => {
  assert.deepEqual(parseFifoName('kv.out'), { name: 'kv', instance: 0, stream: 'out' });
  assert.deepEqual(parseFifoName('my.app@12.err'), { name: 'my.app', instance: 12, stream: 'err' });
  for (const entry of ['kv.log', 'kv', '.out', 'a b.out', 'kv@.out', 'kv@123.out']) assert.equal(parseFifoName(entry), null, entry);
  assert.equal(fifoPath('/r', 'kv', 'err', 3), '/r/kv@3.err');
  assert.equal(fifoPath('/r', 'kv', 'out'), '/r/kv.out');
});

test('rotation renames the oldest first, the log last; one file kept means the log alone, removed', () => {
  assert.deepEqual(rotationSteps('/l/x.log', 3), { remove: '/l/x.log.2', renames: [['/l/x.log.1', '/l/x.log.2'], ['/l/x.log', '/l/x.log.1']] });
  assert.deepEqual(rotationSteps('/l/x.log', 1), { remove: '/l/x.log', renames: [] });
});

test('--since takes a duration back from now or a time; anything else is a usage error', () => {
  const now = Date.UTC(2026, 11, 7, 12);
  assert.equal(since('90s', now), now - 90_000);
  assert.equal(since('10m', now), now - 600_000);
  assert.equal(since('1.5h', now), now - 5_400_000);
  assert.equal(since('2d', now), now - 172_800_000);
  assert.equal(since('500ms', now), now - 500);
  assert.equal(since('2026-12-07T10:00:00Z', now), Date.UTC(2026, 11, 7, 10));
  assert.equal(since('2026-12-07', now), Date.UTC(2026, 11, 7));
  for (const bad of ['', 'yesterday', '10', '-5m', '10 minutes', '2026-13-45']) assert.throws(() => since(bad, now), /expected a duration/, bad);
});

test('a stored line shown as text, raw or JSON; a line from before stamps is shown as it is', () => {
  const stored = '2026-12-07T10:00:00.123Z err@1 boom';
  assert.equal(showLine(stored, 'text', 'kv', true), stored);
  assert.equal(showLine(stored, 'raw', 'kv', true), 'boom');
  assert.deepEqual(JSON.parse(showLine(stored, 'json', 'kv', true)), { time: '2026-12-07T10:00:00.123Z', stream: 'err', line: 'boom', name: 'kv', instance: 1 });
  assert.deepEqual(JSON.parse(showLine('2026-12-07T10:00:00.123Z out ok', 'json', 'kv', false)), { time: '2026-12-07T10:00:00.123Z', stream: 'out', line: 'ok', name: 'kv' });
  assert.deepEqual(JSON.parse(showLine('2026-12-07T10:00:00.123Z out ok', 'json', 'kv', true)).instance, 0);
  assert.equal(showLine('old bare line', 'raw', 'kv', false), 'old bare line');
  assert.deepEqual(JSON.parse(showLine('old bare line', 'json', 'kv', false)), { time: null, stream: null, line: 'old bare line', name: 'kv' });
});

test('the log process\'s byte path stores exactly what the record path would, for any text in any chunking', () => {
  const unit = fc.constantFrom('a', 'é', '\n', '\r', 'z', RUN_END, '€');
  fc.assert(fc.property(fc.array(fc.string({ unit }), { maxLength: 20 }), fc.integer({ min: 4, max: 40 }), fc.integer({ min: 0, max: 3 }), (pieces, max, instance) => {
    const bytes = new LineSplitter('err', max, instance);
    const records = new LineSplitter('err', max, instance);
    const viaBytes = pieces.map((piece, i) => bytes.format(Buffer.from(piece), 1_700_000_000_000 + i).toString('utf8')).join('');
    const viaRecords = pieces.map((piece, i) => records.push(Buffer.from(piece), 1_700_000_000_000 + i).map(formatRecord).join('')).join('');
    assert.equal(viaBytes, viaRecords);
    assert.deepEqual(bytes.end(5), records.end(5));
  }));
});
