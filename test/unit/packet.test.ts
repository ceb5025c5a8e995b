import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_NAME_LENGTH,
  formatPacket,
  formatReply,
  isHostHeader,
  isHttpRequestLine,
  isValidName,
  parsePacket,
  type Parsed,
} from '../../src/protocol/packet.js';

function packet(name: string, args: unknown[]): Parsed {
  return { kind: 'packet', name, args };
}

// Asserts an error result with the given code; `name` is present only for ERR_BAD_ARGS.
function assertError(line: string, code: 'ERR_BAD_PACKET' | 'ERR_BAD_ARGS', name?: string): void {
  const parsed = parsePacket(line);
  assert.equal(parsed.kind, 'error', JSON.stringify(line));
  if (parsed.kind !== 'error') return;
  assert.equal(parsed.error.code, code, JSON.stringify(line));
  assert.equal(typeof parsed.error.message, 'string');
  assert.ok(parsed.error.message.length > 0);
  assert.deepEqual(Object.keys(parsed.error).sort(), ['code', 'message'], 'wire errors carry code and message only');
  if (name === undefined) assert.equal('name' in parsed, false, `${JSON.stringify(line)}: no name`);
  else assert.equal(parsed.name, name, JSON.stringify(line));
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-';

describe('isValidName', () => {
  test('1 to 64 letters, digits and _ . : -', () => {
    assert.equal(MAX_NAME_LENGTH, 64);
    for (const name of ['a', 'Z', '0', '_', '.', ':', '-', 'get', 'svc.v2:get-all_X', NAME_CHARS.slice(0, 64), 'n'.repeat(64)]) {
      assert.equal(isValidName(name), true, name);
    }
  });

  test('rejects empty, 65 characters, blanks, other punctuation and non-ASCII', () => {
    for (const name of ['', 'n'.repeat(65), 'a b', ' a', 'a ', 'a\t', 'a\n', 'get!', 'a/b', 'a[', 'é', 'naïve', '😀', 'a\u00a0']) {
      assert.equal(isValidName(name), false, JSON.stringify(name));
    }
  });

  test('reserved-looking names are valid names (dispatch refuses them elsewhere)', () => {
    for (const name of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']) {
      assert.equal(isValidName(name), true, name);
    }
  });
});

describe('parsePacket', () => {
  test('a name alone has no arguments', () => {
    assert.deepEqual(parsePacket('options'), packet('options', []));
    assert.deepEqual(parsePacket('get5'), packet('get5', []));
    assert.deepEqual(parsePacket('get-1'), packet('get-1', []));
  });

  test('a JSON array is the argument list', () => {
    assert.deepEqual(parsePacket('get ["a"]'), packet('get', ['a']));
    assert.deepEqual(parsePacket('set ["a", {"x": 1}]'), packet('set', ['a', { x: 1 }]));
    assert.deepEqual(parsePacket('get []'), packet('get', []));
    assert.deepEqual(parsePacket('get [[1, 2]]'), packet('get', [[1, 2]]));
    assert.deepEqual(parsePacket('say ["é€😀", "]", "[", "\\"q\\""]'), packet('say', ['é€😀', ']', '[', '"q"']));
  });

  test('any other JSON value is one argument', () => {
    assert.deepEqual(parsePacket('get {"a":1}'), packet('get', [{ a: 1 }]));
    assert.deepEqual(parsePacket('get "x"'), packet('get', ['x']));
    assert.deepEqual(parsePacket('get 5'), packet('get', [5]));
    assert.deepEqual(parsePacket('get -1.5e3'), packet('get', [-1500]));
    assert.deepEqual(parsePacket('get null'), packet('get', [null]));
    assert.deepEqual(parsePacket('get true'), packet('get', [true]));
    assert.deepEqual(parsePacket('get false'), packet('get', [false]));
  });

  test('the JSON may follow the name without a blank', () => {
    assert.deepEqual(parsePacket('get["a"]'), packet('get', ['a']));
    assert.deepEqual(parsePacket('get{"a":1}'), packet('get', [{ a: 1 }]));
    assert.deepEqual(parsePacket('get"x"'), packet('get', ['x']));
  });

  test('leading and trailing blanks (space, tab, \\r) are ignored; several blanks may separate name and JSON', () => {
    for (const line of ['  get ["a"]', 'get ["a"]  ', '\tget\t["a"]\t', '\r get ["a"] \r', ' \t get \t  ["a"] \t ']) {
      assert.deepEqual(parsePacket(line), packet('get', ['a']), JSON.stringify(line));
    }
    assert.deepEqual(parsePacket('  options \t'), packet('options', []));
    assert.deepEqual(parsePacket('get '), packet('get', []));
  });

  test('empty and blank lines are empty', () => {
    for (const line of ['', ' ', '\t', '\r', '  \t\r ']) {
      assert.deepEqual(parsePacket(line), { kind: 'empty' }, JSON.stringify(line));
    }
  });

  test('names of 64 characters parse; 65 are a bad packet', () => {
    const name64 = 'n'.repeat(64);
    assert.deepEqual(parsePacket(`${name64} [1]`), packet(name64, [1]));
    assert.deepEqual(parsePacket(name64), packet(name64, []));
    assertError(`${'n'.repeat(65)} [1]`, 'ERR_BAD_PACKET');
    assertError('n'.repeat(65), 'ERR_BAD_PACKET');
  });

  test('reserved-looking names parse as names, without polluting prototypes', () => {
    for (const name of ['__proto__', 'constructor', 'hasOwnProperty']) {
      assert.deepEqual(parsePacket(`${name} [1]`), packet(name, [1]));
    }
    const parsed = parsePacket('__proto__ {"__proto__": {"polluted": true}}');
    assert.equal(parsed.kind, 'packet');
    if (parsed.kind !== 'packet') return;
    const [arg] = parsed.args;
    assert.ok(typeof arg === 'object' && arg !== null);
    assert.equal(Object.hasOwn(arg, '__proto__'), true, 'JSON.parse makes __proto__ an own property');
    assert.equal(Object.getPrototypeOf(arg), Object.prototype);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('a line that is not `name [json]` is ERR_BAD_PACKET, without a name', () => {
    for (const line of ['get!', 'get! []', '!get', '["a"]', '{"a":1}', '"x"', 'é []', 'get/x []', 'a\u00a0[1]', '\u00a0get', 'get;', 'get#x']) {
      assertError(line, 'ERR_BAD_PACKET');
    }
  });

  test('JSON that does not parse is ERR_BAD_ARGS, with the name', () => {
    for (const line of ['get [1', 'get ["a"] extra', 'get [1,]', 'get 01', 'get u', "get ['a']", 'get {a:1}', 'get [1]]', 'get ]', 'get "x']) {
      assertError(line, 'ERR_BAD_ARGS', 'get');
    }
    assertError('a []b ["x"]', 'ERR_BAD_ARGS', 'a');
    assertError('get [1]0]', 'ERR_BAD_ARGS', 'get');
  });

  test('results are fresh objects: mutating one does not leak into the next', () => {
    const first = parsePacket('get [1]');
    if (first.kind === 'packet') first.args.push('mutated');
    assert.deepEqual(parsePacket('get [1]'), packet('get', [1]));
    assert.deepEqual(parsePacket('get'), packet('get', []));
  });
});

describe('formatPacket', () => {
  test('name, a blank, the JSON argument list, a newline', () => {
    assert.equal(formatPacket('options', []), 'options []\n');
    assert.equal(formatPacket('get', ['a']), 'get ["a"]\n');
    assert.equal(formatPacket('set', ['a', { x: 1 }]), 'set ["a",{"x":1}]\n');
    assert.equal(formatPacket('say', ['é€😀']), 'say ["é€😀"]\n');
  });

  test('newlines inside arguments are escaped: one packet is one line', () => {
    const text = formatPacket('say', ['a\nb', 'c\r\nd', '\u2028']);
    assert.equal(text.indexOf('\n'), text.length - 1);
    assert.equal(text.includes('\r'), false);
    assert.deepEqual(parsePacket(text.slice(0, -1)), packet('say', ['a\nb', 'c\r\nd', '\u2028']));
  });

  test('throws when an argument cannot be written as JSON', () => {
    assert.throws(() => formatPacket('x', [1n]), TypeError);
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    assert.throws(() => formatPacket('x', [circular]), TypeError);
  });
});

describe('formatReply', () => {
  test('undefined carries no value', () => {
    assert.equal(formatReply('r', undefined), 'r []\n');
  });

  test('functions and symbols carry no value', () => {
    assert.equal(formatReply('r', () => 1), 'r []\n');
    assert.equal(formatReply('r', Symbol('s')), 'r []\n');
    assert.equal(formatReply('r', { toJSON: () => undefined }), 'r []\n');
  });

  test('null, falsy values, strings, objects and arrays are one argument', () => {
    assert.equal(formatReply('r', null), 'r [null]\n');
    assert.equal(formatReply('r', 0), 'r [0]\n');
    assert.equal(formatReply('r', false), 'r [false]\n');
    assert.equal(formatReply('r', ''), 'r [""]\n');
    assert.equal(formatReply('r', 'é'), 'r ["é"]\n');
    assert.equal(formatReply('r', { a: 1, b: [2] }), 'r [{"a":1,"b":[2]}]\n');
    assert.equal(formatReply('r', { a: undefined, f() {} }), 'r [{}]\n');
    assert.equal(formatReply('r', [1, 2]), 'r [[1,2]]\n', 'an array value stays one argument');
    assert.equal(formatReply('r', []), 'r [[]]\n');
    assert.equal(formatReply('r', new Date(0)), 'r ["1970-01-01T00:00:00.000Z"]\n');
  });

  test('throws when the value cannot be written as JSON', () => {
    assert.throws(() => formatReply('r', 1n), TypeError);
  });
});

describe('format then parse (property)', () => {
  const nameArb = fc.string({ unit: fc.constantFrom(...NAME_CHARS.split('')), minLength: 1, maxLength: 64 });
  const jsonArb = fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 });
  const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

  test('formatPacket round-trips through parsePacket', () => {
    fc.assert(
      fc.property(nameArb, fc.array(jsonArb, { maxLength: 5 }), (name, args) => {
        assert.equal(isValidName(name), true);
        const text = formatPacket(name, args);
        assert.equal(text.indexOf('\n'), text.length - 1);
        assert.deepEqual(parsePacket(text.slice(0, -1)), packet(name, roundTrip(args) as unknown[]));
      }),
      { numRuns: 200 },
    );
  });

  test('formatReply round-trips as exactly one argument', () => {
    fc.assert(
      fc.property(nameArb, jsonArb, (name, value) => {
        const text = formatReply(name, value);
        assert.equal(text.indexOf('\n'), text.length - 1);
        assert.deepEqual(parsePacket(text.slice(0, -1)), packet(name, [roundTrip(value)]));
      }),
      { numRuns: 200 },
    );
  });
});

describe('isHttpRequestLine', () => {
  test('recognises request lines', () => {
    for (const line of ['GET / HTTP/1.1', 'POST /x HTTP/1.0', 'OPTIONS * HTTP/1.1', 'GET /a?b=c HTTP/2', 'PRI * HTTP/2.0', 'M-SEARCH * HTTP/1.1', 'GET / HTTP/1.1\r', 'HEAD http://h/ HTTP/1.1  ']) {
      assert.equal(isHttpRequestLine(line), true, JSON.stringify(line));
    }
  });

  test('packets and near misses are not request lines', () => {
    for (const line of ['get ["a"]', 'options', 'OPTIONS', 'GET ["a"]', 'GET /', 'get / HTTP/1.1', 'GET / http/1.1', 'GET  / HTTP/1.1', 'GET / HTTP/1.1 x', ' GET / HTTP/1.1', 'GET / HTTP/x', '']) {
      assert.equal(isHttpRequestLine(line), false, JSON.stringify(line));
    }
  });
});

describe('isHostHeader', () => {
  test('recognises Host headers in any case, with blanks around the colon', () => {
    for (const line of ['Host: example.com', 'host:x', 'HOST : x', '  Host:x', 'hOsT:\t127.0.0.1:80']) {
      assert.equal(isHostHeader(line), true, JSON.stringify(line));
    }
  });

  test('other headers and packets are not Host headers', () => {
    for (const line of ['hostname: x', 'Hosts: x', 'x-host: y', 'Host example.com', 'get ["host:"]', 'options', '']) {
      assert.equal(isHostHeader(line), false, JSON.stringify(line));
    }
  });

  test('`host:x` is also a valid packet name: callers must only look for Host after a request line', () => {
    assert.equal(isValidName('host:x'), true);
    assert.deepEqual(parsePacket('host:x []'), packet('host:x', []));
    assert.equal(isHostHeader('host:x []'), true);
  });
});
