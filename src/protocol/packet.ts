// Parsing and formatting of one Common TCP packet: `name [json]`.
import type { WireError } from '../errors.js';

export const MAX_NAME_LENGTH = 64;
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

export type Parsed =
  | { readonly kind: 'empty' }
  | { readonly kind: 'packet'; readonly name: string; readonly args: unknown[] }
  | { readonly kind: 'error'; readonly error: WireError; readonly name?: string };

const EMPTY: Parsed = { kind: 'empty' };

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d;
}

function isNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === 0x5f || c === 0x2e || c === 0x3a || c === 0x2d
  );
}

/** True when `name` may be used as a command or packet name. */
export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** Parses one line (without its newline). A JSON array is the argument list; any other JSON value is one argument. */
export function parsePacket(line: string): Parsed {
  let start = 0;
  let end = line.length;
  while (start < end && isBlank(line.charCodeAt(start))) start++;
  while (end > start && isBlank(line.charCodeAt(end - 1))) end--;
  if (start === end) return EMPTY;
  let i = start;
  while (i < end && isNameChar(line.charCodeAt(i))) i++;
  const nameLength = i - start;
  if (nameLength === 0 || nameLength > MAX_NAME_LENGTH) return badPacket(nameLength === 0 ? 'a packet starts with a name' : `a name is at most ${MAX_NAME_LENGTH} characters`);
  const name = line.slice(start, i);
  if (i === end) return { kind: 'packet', name, args: [] };
  const next = line.charCodeAt(i);
  if (!isBlank(next) && next !== 0x5b && next !== 0x7b && next !== 0x22) {
    return badPacket(`unexpected character after the name ${JSON.stringify(name)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(line.slice(i, end));
  } catch {
    return { kind: 'error', name, error: { code: 'ERR_BAD_ARGS', message: `arguments of ${name} are not valid JSON` } };
  }
  return { kind: 'packet', name, args: Array.isArray(value) ? value : [value] };
}

function badPacket(message: string): Parsed {
  return { kind: 'error', error: { code: 'ERR_BAD_PACKET', message: `${message}: expected \`name [json]\`` } };
}

/** Formats a packet with its newline. Throws when an argument cannot be written as JSON. */
export function formatPacket(name: string, args: readonly unknown[]): string {
  return args.length === 0 ? `${name} []\n` : `${name} ${JSON.stringify(args)}\n`;
}

/** Formats a reply carrying one value (or none, for `undefined`). */
export function formatReply(name: string, value: unknown): string {
  if (value === undefined) return `${name} []\n`;
  const json = JSON.stringify(value);
  // Functions and symbols stringify to undefined: they carry no value.
  return json === undefined ? `${name} []\n` : `${name} [${json}]\n`;
}

const HTTP_REQUEST_LINE = /^[A-Z][A-Z-]{1,20} \S+ HTTP\/\d(\.\d)?\s*$/;
const HOST_HEADER = /^\s*host\s*:/i;

/** An HTTP request line: a browser tricked into writing to a Common TCP port. */
export function isHttpRequestLine(line: string): boolean {
  return HTTP_REQUEST_LINE.test(line);
}

/** An HTTP `Host:` header line. */
export function isHostHeader(line: string): boolean {
  return HOST_HEADER.test(line);
}

/** Commands that answer under the original dae's reply names; clients match replies by these too. */
export const LEGACY_REPLIES: Readonly<Record<string, string>> = Object.freeze({
  dae: 'credential',
  whois: 'credential',
  options: 'commands',
  ping: 'pong',
  list: 'daemons',
  // The original shared-memory sample answered `all` with `memory`; its clients wait for that name.
  all: 'memory',
});
