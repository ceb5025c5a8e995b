// Matches one connection's replies, in order, against what the model expects of the lines sent on it.
// Pure: no sockets. It says what is wrong (a string) or null.
import { REPLY_NAMES, type Expectation, type Matcher } from './fuzz-model.js';

export interface SentLine {
  /** The fuzz line's number in the run (-1 for fences). */
  readonly index: number;
  readonly bytes: Buffer;
  readonly expect: Expectation;
}

/** Codes a line the model cannot pin down may still earn: anything else in a reply is a bug. */
const JUNK_CODES: ReadonlySet<string> = new Set([
  'ERR_BAD_PACKET', 'ERR_BAD_ARGS', 'ERR_UNKNOWN_COMMAND', 'ERR_COMMAND_FAILED', 'ERR_AUTH_FAILED', 'ERR_FUZZ_CUSTOM', 'ERR_PACKET_TOO_LARGE',
]);
const TOO_LARGE: Matcher = { kind: 'error', code: 'ERR_PACKET_TOO_LARGE' };
const REPLY = /^([A-Za-z0-9_.:-]{1,64}) (\[.*\])$/s;

/** A reply as the daemon must write it: `name [json array]`, exactly one space, nothing around. */
export function parseReply(text: string): { name: string; args: unknown[] } | null {
  const match = REPLY.exec(text);
  if (!match) return null;
  try {
    const args: unknown = JSON.parse(match[2]!);
    return Array.isArray(args) ? { name: match[1]!, args } : null;
  } catch {
    return null;
  }
}

// What is wrong with an `error` reply's argument list, or null.
function badError(args: unknown[], codes: ReadonlySet<string> | null): string | null {
  const wire = args[0] as Record<string, unknown> | undefined;
  if (args.length !== 1 || wire === null || typeof wire !== 'object') return 'an error carries one {code, message}';
  const keys = Object.keys(wire).sort().join();
  if (keys !== 'code,message') return `an error carries exactly code and message, not ${keys}`;
  if (typeof wire.code !== 'string' || typeof wire.message !== 'string') return 'code and message are strings';
  if (/\n\s+at /.test(wire.message)) return 'an error message carries no stack';
  if (codes && !codes.has(wire.code)) return `${wire.code} is not a code this line can earn`;
  return null;
}

/** What is wrong with `text` as the reply `matcher` describes, or null. */
export function mismatch(matcher: Matcher, text: string): string | null {
  switch (matcher.kind) {
    case 'exact':
      return text === matcher.text ? null : `expected ${preview(matcher.text)}`;
    case 'oneOf':
      return matcher.options.some((option) => mismatch(option, text) === null) ? null : `expected one of ${matcher.options.map(describe).join(' | ')}`;
    case 'error': {
      const reply = parseReply(text);
      if (reply?.name !== 'error') return `expected error ${matcher.code}`;
      const bad = badError(reply.args, null);
      if (bad) return bad;
      const code = (reply.args[0] as { code: string }).code;
      return code === matcher.code ? null : `expected error ${matcher.code}`;
    }
    case 'check': {
      const reply = parseReply(text);
      if (reply?.name !== matcher.name) return `expected a ${matcher.name} reply`;
      const bad = matcher.check(reply.args);
      return bad === null ? null : `expected ${matcher.name} with ${bad}`;
    }
  }
}

function describe(matcher: Matcher): string {
  switch (matcher.kind) {
    case 'exact': return preview(matcher.text);
    case 'error': return `error ${matcher.code}`;
    case 'oneOf': return matcher.options.map(describe).join(' | ');
    case 'check': return `a ${matcher.name} reply`;
  }
}

/** Text shortened for a message. */
export function preview(text: string, max = 160): string {
  const shown = JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return text.length > max ? `${shown} (${text.length} chars)` : shown;
}

/** A sent line as a message shows it: number, a readable preview and, when short, its exact bytes. */
export function showLine(line: SentLine): string {
  const name = line.index < 0 ? 'fence' : `line #${line.index}`;
  const exact = line.bytes.length <= 300 ? ` base64 ${line.bytes.toString('base64')}` : '';
  return `${name} ${preview(line.bytes.toString('utf8'), 120)} (${line.bytes.length} bytes${exact})`;
}

/** The ordered replies of one connection, checked line by line. */
export class ReplyTracker {
  readonly #lines: SentLine[] = [];
  #cursor = 0;
  #got = 0;
  /** Replies matched to an exact expectation, and replies of lines the model could not pin down. */
  checked = 0;
  loose = 0;

  add(line: SentLine): void {
    this.#lines.push(line);
  }

  /** Every reply owed so far has arrived. */
  get done(): boolean {
    this.#settle();
    return this.#cursor === this.#lines.length;
  }

  /** One reply (without its newline); returns what is wrong with it, or null. */
  reply(text: string): string | null {
    this.#settle();
    const line = this.#lines[this.#cursor];
    if (line === undefined) return `a reply to nothing: ${preview(text)} (last line sent: ${this.#describeLast()})`;
    const replies = line.expect.replies;
    if (replies === null) {
      // Lines the legacy rule may cut are always followed by a fence with a reply of its own.
      let next = this.#cursor;
      while (next < this.#lines.length && (this.#lines[next]!.expect.replies?.length ?? 0) === 0) next++;
      const fence = this.#lines[next]?.expect.replies?.[0];
      if (fence && mismatch(fence, text) === null) return this.#advance(next);
      if (this.#skipToOverflow(text)) return null;
      this.loose++;
      return this.#wellFormed(text, line);
    }
    const problem = mismatch(replies[this.#got]!, text);
    if (problem === null) {
      this.#got++;
      this.checked++;
      return null;
    }
    if (this.#skipToOverflow(text)) return null;
    return `${showLine(line)}: ${problem}, got ${preview(text)}${this.#context()}`;
  }

  /** The daemon closed the connection; returns what is wrong with that, or null. Also names the cause. */
  closed(partial: boolean): { problem: string | null; cause: string } {
    this.#settle();
    const c = this.#cursor;
    const lines = this.#lines;
    // A line that closed after its replies, with only reply-less lines after it.
    for (let k = c - 1; k >= 0; k--) {
      const expect = lines[k]!.expect;
      if (expect.close !== 'no') {
        const problem = partial && !expect.abrupt ? `a reply cut short by the close after ${showLine(lines[k]!)}` : null;
        return { problem, cause: expect.reason ?? 'closed' };
      }
      if ((expect.replies?.length ?? 1) !== 0) break;
    }
    // The first line not fully answered closes at once (destroyed, or a cut line's piece did it) ...
    const first = lines[c]?.expect;
    if (first && first.close !== 'no' && (first.abrupt === true || first.replies === null)) return { problem: null, cause: first.reason ?? 'closed' };
    // ... or is a command still running when a later huge line, maybe cut, ended it all (a packet surely over
    // the limit says so with its error first: see #skipToOverflow).
    if (first && (first.async === true || first.replies === null)) {
      const limit = lines.slice(c + 1).find((l) => l.expect.overLimit === true && l.expect.replies === null);
      if (limit) return { problem: null, cause: limit.expect.reason ?? 'closed' };
    }
    const owed = lines[c];
    const problem = owed === undefined
      ? `the daemon closed the connection after answering everything, though no line asked for a close (last: ${this.#describeLast()})`
      : `the daemon closed the connection while ${showLine(owed)} was owed ${owed.expect.replies === null ? 'a fence' : `reply ${this.#got + 1}`}`;
    return { problem, cause: 'unexpected' };
  }

  // Moves past lines whose replies are all in.
  #settle(): void {
    for (;;) {
      const line = this.#lines[this.#cursor];
      if (line === undefined || line.expect.replies === null || this.#got < line.expect.replies.length) return;
      this.#cursor++;
      this.#got = 0;
    }
  }

  #advance(to: number): null {
    this.#cursor = to;
    this.#got = 1;
    this.checked++;
    return null;
  }

  // A packet over the limit ends the connection at once: replies of commands still running, and of every line
  // after them, are dropped. Its error then arrives while an earlier line is still owed.
  #skipToOverflow(text: string): boolean {
    if (mismatch(TOO_LARGE, text) !== null) return false;
    const c = this.#cursor;
    const k = this.#lines.findIndex((line, i) => i > c && line.expect.overLimit === true);
    if (k === -1 || !this.#lines.slice(c, k).some((l) => l.expect.async || l.expect.replies === null)) return false;
    if (this.#lines[k]!.expect.replies === null) {
      // A huge line that may be cut: its replies are loose, the error among them.
      this.#cursor = k;
      this.#got = 0;
      this.loose++;
    } else {
      this.#advance(k);
    }
    return true;
  }

  #wellFormed(text: string, line: SentLine): string | null {
    const reply = parseReply(text);
    if (reply === null) return `${showLine(line)}: a reply that is not \`name [json]\`: ${preview(text)}`;
    if (!REPLY_NAMES.has(reply.name)) return `${showLine(line)}: a reply named ${reply.name}, not a command of the target: ${preview(text)}`;
    const bad = reply.name === 'error' ? badError(reply.args, JUNK_CODES) : null;
    return bad === null ? null : `${showLine(line)}: ${bad}: ${preview(text)}`;
  }

  // The lines sent just before the current one, for a failure message.
  #context(): string {
    const before = this.#lines.slice(Math.max(0, this.#cursor - 3), this.#cursor);
    return before.length === 0 ? '' : `; after ${before.map(showLine).join(', ')}`;
  }

  #describeLast(): string {
    const last = this.#lines[this.#lines.length - 1];
    return last === undefined ? 'none' : showLine(last);
  }
}
