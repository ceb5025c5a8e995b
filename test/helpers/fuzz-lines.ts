// The fuzzer's line generators: binary, huge, invalid JSON, reserved names, valid and mutated packets.
// Each returns one line's bytes without its `\n`; what the daemon must answer is fuzz-model's business.
import { deepJsonText, invalidJsonText, randomJsonText, randomString } from './fuzz-json.js';
import { weighted, type Rng } from './fuzz-random.js';

const LF = 0x0a;
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-';
const STRUCTURAL = 'ab:_.-09 \t\r[]{}",\\\'';

/** Commands of the fuzz target with the argument counts they accept (fuzz-model knows what they answer). */
const CALLS: readonly (readonly [string, number, number])[] = [
  ['echo', 1, 1], ['later', 1, 1], ['add', 2, 2], ['count', 0, 5], ['nothing', 0, 0], ['boom', 0, 0], ['custom', 0, 0],
  ['ping', 0, 0], ['whois', 0, 0], ['options', 0, 0],
];
/** Reply names, prototype members and EventEmitter/Daemon members: all must be unknown commands. */
export const RESERVED = [
  'error', 'credential', 'commands', 'pong', '__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty',
  'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', '__defineGetter__', '__lookupGetter__', 'prototype',
  'newListener', 'removeListener', 'emit', 'on', 'once', 'then', 'run', 'limits', 'name', 'status', 'start', 'stop',
  'dispatch', 'identity', 'doors', 'checkToken', 'env', 'Error', 'ERROR', 'Echo', 'PING', 'dae.', 'ping:', '-', '.', ':',
];
const HOST_LINES = ['Host: example.com', 'host:localhost', '  HOST : 127.0.0.1:80', '\thost:\t', 'Host:x\r', 'host:[1]'];
const HTTP_LINES = ['GET / HTTP/1.1', 'POST /x HTTP/1.0', 'OPTIONS * HTTP/1.1', 'PRI * HTTP/2.0', 'GET /dae?x=1 HTTP/1.1\r'];
const DAE_LINES = ['dae', 'dae []', ' dae\t[]\r', 'dae[]'];
const MUTATION_TOKENS = ['"', '\\', '[', ']', '{', '}', ',', ' ', '\t', '\r', '\u0000', '\u00ff', ':', 'null'];
const RAW_BYTES = [
  [0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80],
  [0xf0, 0x9f, 0x98, 0x80], [0x00], [0x7f], [0xef, 0xbb, 0xbf], [0xe2, 0x80, 0xa8], [0x0d], [0x09],
];

function ascii(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

// No `\n` inside a line: each generated item is exactly one line.
function oneLine(bytes: Buffer): Buffer {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === LF) bytes[i] = 0x0b;
  return bytes;
}

function randomBytes(rng: Rng, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = rng.int(256);
  return oneLine(bytes);
}

function randomName(rng: Rng, length: number): string {
  let name = '';
  for (let i = 0; i < length; i++) name += NAME_CHARS[rng.int(NAME_CHARS.length)];
  return name;
}

/** A packet text in one of the spellings the protocol allows (array, single value, bare name, odd blanks). */
export function spell(rng: Rng, name: string, args: readonly string[]): string {
  const list = args.join(rng.chance(0.8) ? ',' : ' , ');
  const single = args.length === 1 ? args[0]! : undefined;
  const form = rng.int(10);
  if (form === 0 && args.length === 0) return name;
  if (form === 1 && single !== undefined && !single.startsWith('[')) return `${name} ${single}`;
  if (form === 2 && single !== undefined && (single.startsWith('{') || single.startsWith('"'))) return `${name}${single}`;
  if (form === 3) return `${name}[${list}]`;
  if (form === 4) return `${rng.pick([' ', '\t', '  \t'])}${name}${rng.pick([' ', '\t', ' \t '])}[${list}]${rng.pick(['', ' ', '\r', ' \t\r'])}`;
  return `${name} [${list}]`;
}

function validCall(rng: Rng): string {
  const [name, low, high] = rng.pick(CALLS);
  const count = rng.chance(0.9) ? rng.between(low, high) : rng.pick([low - 1, high + 1, high + 2]);
  const numeric = name === 'add' && rng.chance(0.8);
  const args = Array.from({ length: Math.max(0, count) }, () => (numeric ? rng.pick(['1', '-2.5', '1e308', String(rng.int(1e9)), '0']) : randomJsonText(rng)));
  return spell(rng, name, args);
}

function mutate(rng: Rng, source: Buffer): Buffer {
  let bytes = Buffer.from(source);
  for (let n = rng.between(1, 3); n > 0; n--) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(7)) {
      case 0: if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << rng.int(8)); break;
      case 1: if (at < bytes.length) bytes[at] = rng.int(256); break;
      case 2: bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]); break;
      case 3: bytes = Buffer.concat([bytes.subarray(0, at), ascii(rng.pick(MUTATION_TOKENS)), bytes.subarray(at)]); break;
      case 4: {
        const from = rng.int(bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(from, from + rng.between(1, 12)), bytes.subarray(at)]);
        break;
      }
      case 5: bytes = bytes.subarray(0, at); break;
      default: bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.pick(RAW_BYTES)), bytes.subarray(at)]);
    }
  }
  return oneLine(Buffer.from(bytes));
}

// `echo` of one string, padded to exactly `bytes` bytes, in ASCII or two-byte characters.
function sizedEcho(rng: Rng, bytes: number): Buffer {
  const frame = 'echo [""]';
  const room = bytes - frame.length;
  const wide = rng.chance(0.5);
  const fill = wide ? 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat(room % 2) : 'x'.repeat(room);
  return ascii(`echo ["${fill}"]`);
}

/** A line over the limit `max`: ASCII, binary, multi-byte, blank, nested or one long name. */
export function hugeLine(rng: Rng, max: number): Buffer {
  const size = rng.between(max + 1, 4 * max);
  switch (rng.int(6)) {
    case 0: return sizedEcho(rng, size);
    case 1: return randomBytes(rng, size);
    case 2: return ascii('€'.repeat(Math.ceil(size / 3)));
    case 3: return ascii(' '.repeat(size));
    case 4: return ascii(`echo [${'['.repeat(size)}`);
    default: return ascii(randomName(rng, size));
  }
}

export interface LineContext {
  /** The daemon's packet limit, for huge and exactly-at-the-limit lines. */
  readonly maxPacketBytes: number;
}

/** Kinds of lines and how often each comes, per 1000. */
const KINDS: readonly (readonly [number, (rng: Rng, ctx: LineContext) => Buffer])[] = [
  [130, (rng) => randomBytes(rng, rng.pick([rng.int(8), rng.int(64), rng.int(400)]))],
  [20, (rng) => Buffer.concat([ascii(`${rng.pick(['echo', 'later', 'count'])} `), randomBytes(rng, rng.int(40))])],
  [110, (rng) => ascii(Array.from({ length: rng.between(1, 60) }, () => STRUCTURAL[rng.int(STRUCTURAL.length)]).join(''))],
  [90, (rng) => ascii(`${rng.pick(['echo', 'later', 'add', 'count', 'ping', 'nope', 'auth'])}${rng.pick([' ', '', '\t'])}${invalidJsonText(rng)}`)],
  [70, (rng) => ascii(spell(rng, rng.pick(RESERVED), Array.from({ length: rng.int(3) }, () => randomJsonText(rng, 1))))],
  [40, (rng) => ascii(spell(rng, randomName(rng, rng.pick([1, 63, 64, 64, 65, 65, 200])), rng.chance(0.5) ? [] : ['1']))],
  [15, (rng) => ascii(rng.pick(['[1]', ' "x"', '{"a":1}', 'ec/ho [1]', 'ech\u00e9o [1]', 'e\u0000cho [1]', 'echo\u00a0[1]', 'echo=1', '\u00a0echo [1]']))],
  [15, (rng) => ascii(spell(rng, rng.pick(['echo', 'later', 'count']), [deepJsonText(rng, rng.pick([10, 100, 500, 1000, 3000, 9000]))]))],
  [230, (rng) => ascii(validCall(rng))],
  [200, (rng) => mutate(rng, ascii(validCall(rng)))],
  [25, (rng) => ascii(rng.pick(['', ' ', '\t', '\r', ' \t \r', '\u00a0', '\v', '\f', '\ufeff', '\u2028', '\u3000']))],
  [30, (rng) => Buffer.concat([ascii(`echo ["${randomString(rng, 3).replace(/["\\\n]/g, '')}`), Buffer.from(rng.pick(RAW_BYTES)), ascii('"]')])],
  [6, (rng) => ascii(rng.pick(HTTP_LINES))],
  [12, (rng) => ascii(spell(rng, 'auth', rng.chance(0.8) ? [JSON.stringify(randomString(rng))] : []))],
  [5, (rng) => ascii(rng.pick([...DAE_LINES, 'dae [1]', 'DAE']))],
  [1.5, (rng) => ascii(rng.pick(HOST_LINES))],
  [2, (rng, ctx) => hugeLine(rng, ctx.maxPacketBytes)],
  [1.5, (rng, ctx) => sizedEcho(rng, ctx.maxPacketBytes + rng.pick([0, 0, -1, 1]))],
];

/** One fuzz line's bytes, without its newline. */
export function fuzzLine(rng: Rng, ctx: LineContext): Buffer {
  return weighted(rng, KINDS)(rng, ctx);
}

/** What a browser tricked into writing to the port sends first: an HTTP request, maybe after blank lines. */
export function httpPreamble(rng: Rng): Buffer[] {
  const blanks = Array.from({ length: rng.int(3) }, () => ascii(rng.pick(['', '\r', ' '])));
  return [...blanks, ascii(rng.pick(HTTP_LINES)), ascii('Host: 127.0.0.1'), ascii('')];
}

/** Hundreds of valid calls in one go, async ones among them: more than the daemon runs at once (maxInFlight). */
export function burst(rng: Rng, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => ascii(rng.chance(0.6) ? `later [${i}]` : rng.chance(0.5) ? `echo [${i}]` : `count [${i},${i}]`));
}
