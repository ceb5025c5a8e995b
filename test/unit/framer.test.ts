import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Framer, type FramerOptions } from '../../src/protocol/framer.js';
import { parsePacket, type Parsed } from '../../src/protocol/packet.js';

type Event = { readonly line: string } | { readonly tooLarge: number };

interface Outcome {
  readonly events: Event[];
  readonly framer: Framer;
}

interface RunOptions {
  /** Call `end()` after the last chunk (the peer half-closed). */
  readonly end?: boolean;
  /** Call `framer.stop()` from inside the sink when this line arrives. */
  readonly stopOn?: string;
}

const DEFAULT_MAX = 1024;

function optionsOf(options: Partial<FramerOptions> = {}): FramerOptions {
  return { maxPacketBytes: DEFAULT_MAX, ...options };
}

// Feeds chunks to a fresh framer and records what reached the sink, in order.
function frame(chunks: readonly Buffer[], options: Partial<FramerOptions> = {}, run: RunOptions = {}): Outcome {
  const events: Event[] = [];
  const framer: Framer = new Framer(
    {
      line(text) {
        events.push({ line: text });
        if (run.stopOn !== undefined && text === run.stopOn) framer.stop();
      },
      tooLarge(bytes) {
        events.push({ tooLarge: bytes });
      },
    },
    optionsOf(options),
  );
  for (const chunk of chunks) framer.push(chunk);
  if (run.end === true) framer.end();
  return { events, framer };
}

interface Chunking {
  readonly label: string;
  readonly chunks: Buffer[];
}

// The three ways of the house rule: one chunk, byte by byte, and two chunks split at every byte boundary
// (including 0 and length, which also push an empty buffer).
function chunkings(bytes: Buffer): Chunking[] {
  const ways: Chunking[] = [
    { label: 'one chunk', chunks: [bytes] },
    { label: 'byte by byte', chunks: Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1)) },
  ];
  for (let i = 0; i <= bytes.length; i++) {
    ways.push({ label: `split at byte ${i}`, chunks: [bytes.subarray(0, i), bytes.subarray(i)] });
  }
  return ways;
}

// Cuts `bytes` into pieces whose sizes cycle through `sizes` (all >= 1).
function rechunk(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length] ?? 1;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function linesOf(events: readonly Event[]): string[] {
  return events.flatMap((event) => ('line' in event ? [event.line] : []));
}

// Parsed packets of the lines, without the empty ones (parsePacket ignores them, so does the daemon).
function packetsOf(lines: readonly string[]): Parsed[] {
  return lines.map(parsePacket).filter((parsed) => parsed.kind !== 'empty');
}

interface FramingCase {
  readonly input: string | Buffer;
  readonly options?: Partial<FramerOptions>;
  readonly end?: boolean;
  readonly stopOn?: string;
  /** The lines, in order, exactly as the one-chunk run emits them. */
  readonly lines: readonly string[];
  /** The stream ends with `tooLarge` after those lines. */
  readonly tooLarge?: boolean;
  /** Exact byte count reported by `tooLarge` for the one-chunk run. */
  readonly tooLargeBytes?: number;
  /** Bytes left buffered at the end (default 0). */
  readonly buffered?: number;
  /**
   * 'lines': every chunking emits exactly `lines`.
   * 'packets': with the legacy rule on, a read boundary may legitimately change WHEN a packet is emitted, and so
   * the raw text around it (a read ending right after `name [..]` emits it, and the `\n` that follows becomes an
   * empty line; blanks after a dispatched tail are dropped). Then the invariant is the sequence of non-empty
   * packets as parsePacket sees them.
   */
  readonly compare?: 'lines' | 'packets';
}

// Runs one case three ways (or the given ways) and checks every way against the same expectation.
function assertFramesAllWays(c: FramingCase, ways: (bytes: Buffer) => Chunking[] = chunkings): void {
  const bytes = typeof c.input === 'string' ? Buffer.from(c.input, 'utf8') : c.input;
  const max = optionsOf(c.options).maxPacketBytes;
  for (const way of ways(bytes)) {
    const run: RunOptions = { ...(c.end === undefined ? {} : { end: c.end }), ...(c.stopOn === undefined ? {} : { stopOn: c.stopOn }) };
    const { events, framer } = frame(way.chunks, c.options, run);
    const where = `${way.label} of ${JSON.stringify(bytes.toString('utf8'))}`;
    const overflows = events.filter((event) => 'tooLarge' in event);
    if (c.tooLarge === true) {
      assert.equal(overflows.length, 1, `${where}: tooLarge once`);
      const last = events.at(-1);
      assert.ok(last !== undefined && 'tooLarge' in last, `${where}: tooLarge is the last event`);
      assert.ok(last.tooLarge > max, `${where}: reported ${last.tooLarge} bytes, over the limit ${max}`);
      if (way.label === 'one chunk' && c.tooLargeBytes !== undefined) assert.equal(last.tooLarge, c.tooLargeBytes, where);
      assert.equal(framer.stopped, true, `${where}: stopped after tooLarge`);
    } else {
      assert.deepEqual(overflows, [], `${where}: no tooLarge`);
    }
    const lines = linesOf(events);
    const exact = way.label === 'one chunk' || (c.compare ?? 'lines') === 'lines';
    if (exact) {
      assert.deepEqual(lines, c.lines, `${where}: lines`);
    } else {
      assert.deepEqual(packetsOf(lines), packetsOf(c.lines), `${where}: packets`);
    }
    // With 'packets', blanks after a dispatched tail may stay buffered when they come in a later read.
    if (!framer.stopped && exact) assert.equal(framer.buffered, c.buffered ?? 0, `${where}: bytes left buffered`);
    if (framer.stopped) {
      // Later input is ignored once stopped, whatever it is.
      const before = events.length;
      framer.push(Buffer.from('late []\nlate\n'));
      framer.end();
      assert.equal(events.length, before, `${where}: nothing after stop`);
      assert.equal(framer.buffered, 0, `${where}: nothing held after stop`);
    }
  }
}

describe('Framer: newline framing, three ways', () => {
  test('several packets in one chunk', () => {
    const input = 'options\nget ["a"]\nset ["a", {"x": 1}]\n';
    const lines = ['options', 'get ["a"]', 'set ["a", {"x": 1}]'];
    assertFramesAllWays({ input, lines, compare: 'packets' });
    assertFramesAllWays({ input, lines, options: { legacy: false } });
  });

  test('one packet over many reads', () => {
    const line = 'set ["key", {"nested": [1, 2, {"deep": "value"}]}, "a longer tail to span reads"]';
    assertFramesAllWays({ input: `${line}\n`, lines: [line], compare: 'packets' });
    assertFramesAllWays({ input: `${line}\n`, lines: [line], options: { legacy: false } });
    for (const size of [2, 3, 7, 16]) {
      const { events } = frame(rechunk(Buffer.from(`${line}\n`), [size]), { legacy: false });
      assert.deepEqual(linesOf(events), [line], `reads of ${size} bytes`);
    }
  });

  test('\\r\\n ends a line like \\n; the \\r is not part of the line', () => {
    const input = 'get ["a"]\r\noptions\r\nlast\r\n';
    const lines = ['get ["a"]', 'options', 'last'];
    assertFramesAllWays({ input, lines, compare: 'packets' });
    assertFramesAllWays({ input, lines, options: { legacy: false } });
  });

  test('a lone \\r inside a line is kept; only the one before \\n is dropped', () => {
    assertFramesAllWays({ input: 'a\rb\n\r\r\n', lines: ['a\rb', '\r'] });
  });

  test('empty and blank lines are emitted as lines; parsePacket says empty', () => {
    const input = '\n\r\n  \n\t\r\nname\n \t \n';
    const lines = ['', '', '  ', '\t', 'name', ' \t '];
    assertFramesAllWays({ input, lines });
    assertFramesAllWays({ input, lines, options: { legacy: false } });
    for (const line of lines) {
      if (line !== 'name') assert.deepEqual(parsePacket(line), { kind: 'empty' }, JSON.stringify(line));
    }
  });

  test('multi-byte UTF-8 split inside the character decodes correctly', () => {
    // é is 2 bytes, € is 3, 😀 is 4: the every-boundary split cuts inside each of them.
    const text = 'say ["é€😀", "a😀b"]';
    assertFramesAllWays({ input: `${text}\n`, lines: [text], compare: 'packets' });
    assertFramesAllWays({ input: `${text}\n`, lines: [text], options: { legacy: false } });
    // Not legacy form, so held until the newline whatever the chunking: the raw lines are identical.
    assertFramesAllWays({ input: 'é€😀\nsay "😀"\n€\n', lines: ['é€😀', 'say "😀"', '€'] });
  });

  test('a multi-byte character split inside a legacy tail is decoded whole', () => {
    assertFramesAllWays({ input: 'say ["😀€é"]', lines: ['say ["😀€é"]'] });
  });
});

describe('Framer: byte limit', () => {
  test('a line of fewer characters than the limit but more bytes overflows', () => {
    // 3 characters, 9 bytes.
    assertFramesAllWays({ input: '€€€\n', options: { maxPacketBytes: 8 }, lines: [], tooLarge: true, tooLargeBytes: 9 });
    assertFramesAllWays({ input: '😀😀a\n', options: { maxPacketBytes: 8 }, lines: [], tooLarge: true, tooLargeBytes: 9 });
  });

  test('a line of exactly the limit in bytes passes', () => {
    assertFramesAllWays({ input: '😀😀\n', options: { maxPacketBytes: 8 }, lines: ['😀😀'] });
    assertFramesAllWays({ input: '€€ab\n', options: { maxPacketBytes: 8 }, lines: ['€€ab'] });
    assertFramesAllWays({ input: 'abcde\n', options: { maxPacketBytes: 5 }, lines: ['abcde'] });
    assertFramesAllWays({ input: 'abcdef\n', options: { maxPacketBytes: 5 }, lines: [], tooLarge: true, tooLargeBytes: 6 });
  });

  test('lines before the oversized one are emitted; nothing after it', () => {
    assertFramesAllWays({
      input: 'ok\nabcdefghij\nlater\n',
      options: { maxPacketBytes: 5 },
      lines: ['ok'],
      tooLarge: true,
      tooLargeBytes: 10,
    });
  });

  test('an unterminated tail over the limit overflows without waiting for a newline', () => {
    assertFramesAllWays({ input: 'x'.repeat(20), options: { maxPacketBytes: 10 }, lines: [], tooLarge: true, tooLargeBytes: 20 });
    assertFramesAllWays({ input: 'ok\n' + 'é'.repeat(6), options: { maxPacketBytes: 10 }, lines: ['ok'], tooLarge: true, tooLargeBytes: 12 });
    // A legacy-looking packet that never closes grows past the limit too.
    assertFramesAllWays({ input: 'get ["' + 'a'.repeat(20), options: { maxPacketBytes: 16 }, lines: [], tooLarge: true, tooLargeBytes: 26 });
  });

  test('an unterminated tail at exactly the limit is held, not an overflow', () => {
    assertFramesAllWays({ input: 'x'.repeat(10), options: { maxPacketBytes: 10 }, lines: [], buffered: 10 });
    assertFramesAllWays({ input: 'x'.repeat(10), options: { maxPacketBytes: 10 }, end: true, lines: ['x'.repeat(10)] });
  });

  test('a legacy packet of exactly the limit passes; one byte more overflows', () => {
    assertFramesAllWays({ input: 'a [1234]', options: { maxPacketBytes: 8 }, lines: ['a [1234]'] });
    assertFramesAllWays({ input: 'a [12345]', options: { maxPacketBytes: 8 }, lines: [], tooLarge: true, tooLargeBytes: 9 });
  });

  test('the limit resets at each packet', () => {
    assertFramesAllWays({ input: 'abcde\nabcde\nabcde\n', options: { maxPacketBytes: 5 }, lines: ['abcde', 'abcde', 'abcde'] });
  });

  // BUG (reported): the `\r` of a `\r\n` newline is counted against the limit, although the limit excludes the
  // newline and `\r\n` is an accepted newline. A telnet client (which always sends `\r\n`) cannot send a packet
  // of exactly maxPacketBytes that nc (`\n`) can.
  test('the \\r of \\r\\n does not count against the limit', () => {
    assertFramesAllWays({ input: 'abcde\r\n', options: { maxPacketBytes: 5 }, lines: ['abcde'] });
  });

  // BUG (reported): the limit is applied to the whole unterminated tail before the legacy scan cuts it into
  // packets, so several small legacy packets arriving in one read (TCP coalesces the legacy client's writes)
  // overflow, while the same bytes read byte by byte are three packets well under the limit.
  // Only reads that end on a packet boundary are checked: a read ending inside `c` leaves `a [1] b [2] c` held,
  // which would be ONE 13-byte line if a newline came next, so an overflow there is defensible.
  test('several small legacy packets in one read are not one oversized packet', () => {
    const input = 'a [1] b [2] c [3]';
    const atBoundaries = (bytes: Buffer): Chunking[] => [
      ...chunkings(bytes).slice(0, 2),
      ...[5, 6, 11, 12].map((at) => ({ label: `split at byte ${at}`, chunks: [bytes.subarray(0, at), bytes.subarray(at)] })),
    ];
    assertFramesAllWays({ input, options: { maxPacketBytes: 10 }, lines: ['a [1]', ' b [2]', ' c [3]'], compare: 'packets' }, atBoundaries);
  });
});

describe('Framer: legacy tail (unterminated `name [array]` packets)', () => {
  test('`dae []` alone is emitted without a newline', () => {
    assertFramesAllWays({ input: 'dae []', lines: ['dae []'] });
  });

  test('packets back to back are emitted one by one', () => {
    assertFramesAllWays({ input: 'a []b ["x"]', lines: ['a []', 'b ["x"]'] });
    assertFramesAllWays({ input: 'a[1]b[2]c []', lines: ['a[1]', 'b[2]', 'c []'] });
  });

  test('blanks between, before and after packets are allowed', () => {
    // One chunk keeps the blanks before a packet in its line; a read ending on the blanks drops them: compare packets.
    assertFramesAllWays({ input: 'a [] \t b ["x"]', lines: ['a []', ' \t b ["x"]'], compare: 'packets' });
    assertFramesAllWays({ input: '  a [1]', lines: ['  a [1]'] });
    assertFramesAllWays({ input: 'a \t [1]  ', lines: ['a \t [1]'], compare: 'packets' });
    assertFramesAllWays({ input: 'a [1]\r', lines: ['a [1]'], compare: 'packets' });
  });

  test('nested arrays, objects, and strings holding brackets and escaped quotes', () => {
    const text = String.raw`set ["]", "[", "say \"hi]\"", [[1], {"k": "]}", "o": {"p": [2]}}], "back\\", "\\\"]"]`;
    assert.doesNotThrow(() => JSON.parse(text.slice(4)), 'the fixture is valid JSON');
    assertFramesAllWays({ input: text, lines: [text] });
    assertFramesAllWays({ input: `${text}x [${text.slice(4)}]`, lines: [text, `x [${text.slice(4)}]`] });
  });

  test('an incomplete tail waits, then is emitted when it completes', () => {
    const { events, framer } = frame([Buffer.from('get [1, ')]);
    assert.deepEqual(events, []);
    assert.equal(framer.buffered, 8);
    framer.push(Buffer.from('[2], "]'));
    assert.deepEqual(events, []);
    framer.push(Buffer.from('"]'));
    assert.deepEqual(events, [{ line: 'get [1, [2], "]"]' }]);
    assert.equal(framer.buffered, 0);
    assertFramesAllWays({ input: 'get [1, [2], "]"]', lines: ['get [1, [2], "]"]'] });
  });

  test('a packet split across reads right after a complete one', () => {
    // The first read ends inside the second packet: the first one waits for the second to complete (the scanner
    // keeps its cut), then both are emitted separately.
    const { events } = frame([Buffer.from('a [1]b'), Buffer.from(' [2')]);
    assert.deepEqual(events, []);
    const more = frame([Buffer.from('a [1]b'), Buffer.from(' [2'), Buffer.from(']')]);
    assert.deepEqual(linesOf(more.events), ['a [1]', 'b [2]']);
  });

  test('a tail not of legacy form is held until the newline, then is one line', () => {
    for (const text of ['options', 'get {"a":1}', 'get "x"', 'get 5', 'a! []', '[1]', '"x"', 'é []', 'a\r[1]']) {
      assertFramesAllWays({ input: text, lines: [], buffered: Buffer.byteLength(text) });
      assertFramesAllWays({ input: `${text}\n`, lines: [text] });
      assertFramesAllWays({ input: text, end: true, lines: [text] });
    }
  });

  test('a complete packet followed by non-legacy text is held as one line', () => {
    // Only when the read ends on the text; see the chunking-dependent case below.
    const { events, framer } = frame([Buffer.from('a [1] options')]);
    assert.deepEqual(events, []);
    framer.push(Buffer.from('\n'));
    assert.deepEqual(linesOf(events), ['a [1] options']);
  });

  test('names of 64 bytes are legacy form; 65 are not', () => {
    const name64 = 'n'.repeat(64);
    const name65 = 'n'.repeat(65);
    assertFramesAllWays({ input: `${name64} []`, lines: [`${name64} []`] });
    assertFramesAllWays({ input: `${name65} []`, lines: [], buffered: 68 });
    assertFramesAllWays({ input: `${name65} []`, end: true, lines: [`${name65} []`] });
  });

  test('end() flushes a held tail as a final line', () => {
    assertFramesAllWays({ input: 'get {"a":1}', end: true, lines: ['get {"a":1}'] });
    assertFramesAllWays({ input: 'a\nrest', end: true, lines: ['a', 'rest'] });
    assertFramesAllWays({ input: 'abc\r', end: true, lines: ['abc'] });
    assertFramesAllWays({ input: 'a [1]\n', end: true, lines: ['a [1]'], compare: 'packets' });
    assertFramesAllWays({ input: '', end: true, lines: [] });
  });

  test('end() twice, or with nothing held, emits nothing more', () => {
    const { events, framer } = frame([Buffer.from('tail')], {}, { end: true });
    framer.end();
    assert.deepEqual(linesOf(events), ['tail']);
    const empty = frame([], {}, { end: true });
    assert.deepEqual(empty.events, []);
  });

  test('chunking-dependent by design: a read ending on a complete packet dispatches it', () => {
    // `get [1]` is complete when a read ends there; the rest of the line then starts a new line. In one chunk
    // the whole line is one (bad) packet. Such input is not a stream of complete packets, so the packets may
    // legitimately differ; this pins the documented behaviour.
    assert.deepEqual(linesOf(frame([Buffer.from('get [1]0]\n')]).events), ['get [1]0]']);
    assert.deepEqual(linesOf(frame([Buffer.from('get [1]'), Buffer.from('0]\n')]).events), ['get [1]', '0]']);
    assert.deepEqual(linesOf(frame([Buffer.from('a [1] options\n')]).events), ['a [1] options']);
    assert.deepEqual(linesOf(frame([Buffer.from('a [1]'), Buffer.from(' options\n')]).events), ['a [1]', ' options']);
  });

  test('legacy: false disables the tail rule', () => {
    const options = { legacy: false };
    assertFramesAllWays({ input: 'dae []', options, lines: [], buffered: 6 });
    assertFramesAllWays({ input: 'dae []', options, end: true, lines: ['dae []'] });
    assertFramesAllWays({ input: 'a []b ["x"]', options, end: true, lines: ['a []b ["x"]'] });
    assertFramesAllWays({ input: 'a []\nb [1]\n', options, lines: ['a []', 'b [1]'] });
  });
});

describe('Framer: original dae peers (packets framed by their structure)', () => {
  // A stream whose first packet came unterminated: the peer is an original one from then on.
  function legacyPeer(): { framer: Framer; lines: string[]; marked: () => number } {
    const lines: string[] = [];
    let marks = 0;
    const framer = new Framer({ line: (text) => lines.push(text), tooLarge: () => assert.fail('no overflow'), legacy: () => marks++ }, optionsOf());
    framer.push(Buffer.from('dae []'));
    return { framer, lines, marked: () => marks };
  }

  test('the first unterminated packet marks the peer, once; a newline first never does', () => {
    const { framer, lines, marked } = legacyPeer();
    framer.push(Buffer.from('a [1]'));
    assert.deepEqual([lines, marked(), framer.legacyPeer], [['dae []', 'a [1]'], 1, true]);
    const modern = frame([Buffer.from('x []\n'), Buffer.from('dae []')]);
    assert.equal(modern.framer.legacyPeer, false);
    assert.deepEqual(linesOf(modern.events), ['x []', 'dae []']);
  });

  test('a name outside the alphabet: held while bytes come, one packet once the peer is quiet (settle)', () => {
    const { events, framer } = frame([Buffer.from('a/b [1]')]);
    assert.deepEqual(events, []);
    assert.equal(framer.unsettled, true);
    framer.settle();
    assert.deepEqual(linesOf(events), ['a/b [1]']);
    assert.equal(framer.legacyPeer, true, 'an unterminated first packet, good or bad, marks an original peer');
    framer.settle();
    assert.equal(linesOf(events).length, 1, 'settle with nothing held does nothing');
    const junk = frame([Buffer.from('a/b [1]get ["x"]')]);
    junk.framer.settle();
    assert.deepEqual(linesOf(junk.events), ['a/b [1]', 'get ["x"]']);
    const open = frame([Buffer.from('a/b [1, [2]')]);
    open.framer.settle();
    assert.deepEqual(open.events, [], 'brackets still open: held');
  });

  test('a quote its encoder made of another character costs that packet only', () => {
    const { framer, lines } = legacyPeer();
    framer.push(Buffer.from('set ["a"b"]'));
    assert.deepEqual(lines, ['dae []']);
    framer.settle();
    framer.push(Buffer.from('get ["x"]'));
    assert.deepEqual(lines, ['dae []', 'set ["a"b"]', 'get ["x"]']);
    framer.push(Buffer.from('set ["c"d"]get ["y"]'));
    framer.settle();
    assert.deepEqual(lines.slice(3), ['set ["c"d"]', 'get ["y"]'], 'and so does one the next packet followed at once');
  });

  test('a newline its encoder made of another character is data inside the packet', () => {
    const { framer, lines } = legacyPeer();
    framer.push(Buffer.from('set ["a\nb"]get ["\n"]'));
    assert.deepEqual(lines, ['dae []', 'set ["a\nb"]', 'get ["\n"]']);
    assert.equal(framer.unsettled, false);
  });

  test('newline-terminated packets still work on an original peer\'s stream, and blanks are not held', () => {
    const { framer, lines } = legacyPeer();
    framer.push(Buffer.from('ping\r\nget "x"\n  \n'));
    assert.deepEqual(lines, ['dae []', 'ping', 'get "x"']);
    assert.equal(framer.buffered, 0);
    framer.push(Buffer.from('whois\n'));
    assert.deepEqual(lines.at(-1), 'whois');
  });

  test('an original peer\'s tail grows past the limit: tooLarge', () => {
    const events: Event[] = [];
    const framer = new Framer({ line: (text) => events.push({ line: text }), tooLarge: (bytes) => events.push({ tooLarge: bytes }) }, optionsOf({ maxPacketBytes: 16 }));
    framer.push(Buffer.from('dae []'));
    framer.push(Buffer.from(`set ["${'x'.repeat(20)}`));
    assert.deepEqual(events.at(-1), { tooLarge: 26 });
    framer.push(Buffer.from('ignored'));
    assert.equal(framer.stopped, true);
  });
});

describe('Framer: stop()', () => {
  test('stop() from inside the sink stops emission of the rest of the chunk', () => {
    assertFramesAllWays({ input: 'a\nb\nc\n', stopOn: 'b', lines: ['a', 'b'] });
    assertFramesAllWays({ input: 'a\nb\nc\nd', stopOn: 'a', end: true, lines: ['a'] });
  });

  test('stop() from inside the sink stops a legacy tail of several packets', () => {
    assertFramesAllWays({ input: 'a []b []c []', stopOn: 'b []', lines: ['a []', 'b []'] });
  });

  test('stop() before input: nothing is emitted, nothing held', () => {
    const lines: string[] = [];
    const framer = new Framer({ line: (text) => lines.push(text), tooLarge: () => assert.fail('no overflow') }, optionsOf());
    framer.push(Buffer.from('held'));
    assert.equal(framer.stopped, false);
    framer.stop();
    assert.equal(framer.stopped, true);
    assert.equal(framer.buffered, 0);
    framer.push(Buffer.from('a []\nb\n' + 'x'.repeat(2 * DEFAULT_MAX)));
    framer.end();
    assert.deepEqual(lines, []);
  });
});

// Packets as a peer writes them: names from the allowed alphabet, argument arrays of any JSON with unicode strings.
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-'.split('');
const nameArb = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 64 });
const argsArb = fc.array(fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }), { maxLength: 5 });
const packetArb = fc.record({ name: nameArb, args: argsArb });
const packetsArb = fc.array(packetArb, { minLength: 1, maxLength: 12 });
const sizesArb = fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 20 });
const RUNS = { numRuns: 200 };

// What the receiver must see: JSON is the wire, so the expected args are the JSON round trip (no -0 etc.).
function expectedPackets(packets: ReadonlyArray<{ name: string; args: unknown[] }>): Parsed[] {
  return packets.map(({ name, args }): Parsed => ({ kind: 'packet', name, args: JSON.parse(JSON.stringify(args)) as unknown[] }));
}

describe('Framer: any re-chunking of a valid stream (property)', () => {
  test('newline-terminated packets, legacy off: the same lines as one chunk, which parse back', () => {
    fc.assert(
      fc.property(packetsArb, sizesArb, (packets, sizes) => {
        const lines = packets.map(({ name, args }) => `${name} ${JSON.stringify(args)}`);
        const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');
        const whole = frame([bytes], { maxPacketBytes: bytes.length, legacy: false });
        const chunked = frame(rechunk(bytes, sizes), { maxPacketBytes: bytes.length, legacy: false });
        assert.deepEqual(linesOf(whole.events), lines);
        assert.deepEqual(chunked.events, whole.events);
        assert.deepEqual(chunked.events.map((e) => ('line' in e ? parsePacket(e.line) : e)), expectedPackets(packets));
      }),
      RUNS,
    );
  });

  test('newline-terminated packets, legacy on: the same packets whatever the reads', () => {
    fc.assert(
      fc.property(packetsArb, sizesArb, fc.constantFrom('\n', '\r\n'), (packets, sizes, newline) => {
        const lines = packets.map(({ name, args }) => `${name} ${JSON.stringify(args)}`);
        const bytes = Buffer.from(lines.map((line) => `${line}${newline}`).join(''), 'utf8');
        const whole = frame([bytes], { maxPacketBytes: bytes.length });
        const chunked = frame(rechunk(bytes, sizes), { maxPacketBytes: bytes.length });
        assert.deepEqual(linesOf(whole.events), lines);
        // A read ending right after `name [..]` dispatches it early and leaves an empty line: compare packets.
        assert.deepEqual(packetsOf(linesOf(chunked.events)), expectedPackets(packets));
        assert.equal(chunked.framer.buffered, 0);
      }),
      RUNS,
    );
  });

  test('legacy packets without newlines: every packet is emitted, none held', () => {
    const blanksArb = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
    fc.assert(
      fc.property(packetsArb, fc.array(blanksArb, { minLength: 12, maxLength: 12 }), sizesArb, (packets, blanks, sizes) => {
        const text = packets.map(({ name, args }, i) => `${blanks[i] ?? ''}${name} ${JSON.stringify(args)}`).join('');
        const bytes = Buffer.from(text, 'utf8');
        const chunked = frame(rechunk(bytes, sizes), { maxPacketBytes: bytes.length });
        assert.deepEqual(packetsOf(linesOf(chunked.events)), expectedPackets(packets));
        assert.equal(chunked.framer.buffered, 0, 'nothing waits for a newline');
      }),
      RUNS,
    );
  });

  test('the byte limit holds whatever the reads', () => {
    const textArb = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\n') && !s.includes('\r'));
    fc.assert(
      fc.property(textArb, fc.integer({ min: 1, max: 120 }), sizesArb, (text, max, sizes) => {
        const bytes = Buffer.from(`${text}\n`, 'utf8');
        const { events } = frame(rechunk(bytes, sizes), { maxPacketBytes: max, legacy: false });
        const size = bytes.length - 1;
        if (size <= max) {
          assert.deepEqual(events, [{ line: Buffer.from(text, 'utf8').toString('utf8') }]);
        } else {
          const [only, ...rest] = events;
          assert.deepEqual(rest, []);
          assert.ok(only !== undefined && 'tooLarge' in only && only.tooLarge > max && only.tooLarge <= size);
        }
      }),
      RUNS,
    );
  });
});
