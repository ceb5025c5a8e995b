// Random JSON texts for the fuzzer: the awkward corners (lone surrogates, `__proto__` keys, huge numbers) on purpose.
import type { Rng } from './fuzz-random.js';

const NUMBERS = [
  '0', '-0', '1', '-1', '3.14', '1e308', '1e400', '-1e400', '5e-324', '1e-400', '0.1', '-2.5E+3',
  '123456789012345678901234567890', '9007199254740993', '1.0', '0e0',
];
const KEYS = ['a', 'b', 'key', '', '__proto__', 'constructor', 'toString', 'prototype', 'code', 'message', 'é', '😀', 'x y', '\u0000'];
const ESCAPED_STRINGS = [
  '"\\u0000"', '"\\ud800"', '"\\udfff\\ud800"', '"\\ud83d\\ude00"', '"\\/"', '"\\b\\f\\n\\r\\t"', '"\\u2028\\u2029"',
  '"\\"quoted\\""', '"back\\\\slash"', '"\\uFEFF"', '"é"', '"😀"', '"\u2028"', '""',
];

// Characters from every awkward class: ASCII, controls, BMP, astral, lone surrogates, separators.
function randomChar(rng: Rng): string {
  switch (rng.int(8)) {
    case 0: return String.fromCharCode(rng.int(0x20));
    case 1: return String.fromCharCode(0xd800 + rng.int(0x800));
    case 2: return String.fromCodePoint(0x10000 + rng.int(0x100000 - 0x10000));
    case 3: return String.fromCharCode(0x80 + rng.int(0xd800 - 0x80));
    case 4: return rng.pick(['"', '\\', '\n', '\r', '[', ']', '{', '}', '\u2028', '\u00a0', '\ufeff', '\ufffd']);
    default: return String.fromCharCode(0x20 + rng.int(0x5f));
  }
}

/** A random JS string, unpaired surrogates and controls included. */
export function randomString(rng: Rng, maxLength = 12): string {
  let text = '';
  const length = rng.int(maxLength + 1);
  for (let i = 0; i < length; i++) text += randomChar(rng);
  return text;
}

function blank(rng: Rng): string {
  return rng.chance(0.85) ? '' : rng.pick([' ', '\t', '\r', ' \t ']);
}

/** JSON text of a random value; `depth` bounds nesting. */
export function randomJsonText(rng: Rng, depth = 3): string {
  const kind = rng.int(depth > 0 ? 9 : 6);
  switch (kind) {
    case 0: return rng.pick(['null', 'true', 'false']);
    case 1: return rng.pick(NUMBERS);
    case 2: return String(rng.int(2 ** 31) - 2 ** 30);
    case 3: return rng.pick(ESCAPED_STRINGS);
    case 4:
    case 5: return JSON.stringify(randomString(rng));
    case 6:
    case 7: {
      const items = Array.from({ length: rng.int(4) }, () => randomJsonText(rng, depth - 1));
      return `[${blank(rng)}${items.join(`${blank(rng)},${blank(rng)}`)}${blank(rng)}]`;
    }
    default: {
      const members = Array.from({ length: rng.int(4) }, () => `${JSON.stringify(rng.pick(KEYS))}${blank(rng)}:${blank(rng)}${randomJsonText(rng, depth - 1)}`);
      return `{${blank(rng)}${members.join(',')}${blank(rng)}}`;
    }
  }
}

/** Nested arrays or objects `depth` levels deep, around a random leaf. */
export function deepJsonText(rng: Rng, depth: number): string {
  const leaf = rng.chance(0.5) ? '1' : JSON.stringify(randomString(rng, 4));
  return rng.chance(0.5) ? '['.repeat(depth) + leaf + ']'.repeat(depth) : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

/** Broken JSON: truncated, or one of the classic mistakes. */
export function invalidJsonText(rng: Rng): string {
  if (rng.chance(0.4)) {
    const valid = `[${randomJsonText(rng)},${randomJsonText(rng)}]`;
    return valid.slice(0, rng.between(1, Math.max(1, valid.length - 1)));
  }
  return rng.pick([
    '[1,]', '[01]', "['a']", '[NaN]', '[Infinity]', '[-Infinity]', '{"a"}', '[1 2]', '[undefined]', '["\\x"]', '["\\u12"]',
    '[1]]', '[[1]', '"unterminated', '[true false]', '[.5]', '[+1]', '[0x10]', '["tab\there"]', '["ctl\u0001"]',
    '{a:1}', '[,]', '[1,,2]', '{"a":1,}', '["\\ud800"', '[]]', '[}', '{]', '[1] [2]', '"a" "b"', '[1]x', '{"a":1}}',
    '[-]', '[1e]', '[1.]', '["\u2028\\"]', '[null,nul]', '[tru]', '\u00a0[1]', '[1]\u00a0', '[1]\v', '\f[1]',
  ]);
}
