// The log path's pure part: bytes into stamped lines, cut with a marker past the limit, partial lines kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cutMarker, formatRecord, LineSplitter, parseRecord, RUN_END, type LogRecord } from '../../src/logs/lines.js';

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
