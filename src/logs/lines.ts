// Pure: a program's output bytes into log records, one per line, each stamped with when it arrived and its stream;
// a line over the limit is cut with a marker (the rest of it dropped and counted), and a partial line at the end is
// kept. The stored form is one text line per record: `<ISO time> <out|err> <text>`, the stream tagged `@<n>` for an
// instance past the first (`out@1`).
export type Stream = 'out' | 'err';

export interface LogRecord {
  /** When the line's end arrived (ms since the epoch). */
  time: number;
  stream: Stream;
  line: string;
  /** Which copy of the daemon wrote it (absent: instance 0). */
  instance?: number;
}

const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * Written by the supervisor into a daemon's pipe after a run has exited (so after all it wrote): the partial line the
 * run left ends there, and the marker itself is not a line. A NUL byte never starts a line of text.
 */
export const RUN_END = '\u0000dae:run-end\n';
const RUN_END_TEXT = RUN_END.slice(0, -1);
const RUN_END_BYTES = Buffer.from(RUN_END_TEXT);

/** The marker that ends a line cut at the limit. */
export function cutMarker(dropped: number): string {
  return ` …[cut: ${dropped} more bytes]`;
}

// The longest prefix of `bytes` (at most `max`) that does not split a UTF-8 character.
function utf8Prefix(bytes: Buffer, max: number): Buffer {
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back off continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** Splits one stream of a program's output into lines. */
export class LineSplitter {
  readonly #stream: Stream;
  readonly #instance: number;
  readonly #maxLine: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes of the current line dropped past the limit (the line was cut). */
  #dropped = 0;
  #prefix: { time: number; bytes: Buffer } | null = null;

  /** `maxLine`: the most bytes of one line kept (a longer one is cut with a marker). */
  constructor(stream: Stream, maxLine: number, instance = 0) {
    this.#stream = stream;
    this.#maxLine = maxLine;
    this.#instance = instance;
  }

  /** The complete lines in `chunk` (with what came before it), stamped `now`. */
  push(chunk: Buffer, now: number): LogRecord[] {
    const records: LogRecord[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.#take(chunk.subarray(start, nl));
      const record = this.#finish(now);
      if (record !== null) records.push(record);
      start = nl + 1;
    }
    if (start < chunk.length) this.#take(chunk.subarray(start));
    return records;
  }

  /**
   * The stored form (`formatRecord`) of the complete lines in `chunk`, as bytes: the log process's path, which copies
   * an ordinary line's bytes once (no text decoding); a line that is cut, split across chunks, ends in CR or carries
   * the run-end marker goes through `push`'s path.
   */
  format(chunk: Buffer, now: number): Buffer {
    // One stamp a millisecond: a flood of small chunks does not format the time for each.
    if (this.#prefix === null || this.#prefix.time !== now) this.#prefix = { time: now, bytes: Buffer.from(stamp(now, this.#stream, this.#instance)) };
    const prefix = this.#prefix.bytes;
    // First the line ends, then one buffer of the right size filled in order: no object per line on the way.
    const ends: number[] = [];
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, nl + 1)) ends.push(nl);
    const slow: Array<Buffer | null> = [];
    let size = 0;
    let start = 0;
    for (const nl of ends) {
      const length = nl - start;
      if (this.#pendingBytes === 0 && this.#dropped === 0 && length <= this.#maxLine && chunk[nl - 1] !== 0x0d && !endsWithMarker(chunk, start, nl)) {
        slow.push(null);
        size += prefix.length + length + 1;
      } else {
        this.#take(chunk.subarray(start, nl));
        const record = this.#finish(now);
        const stored = record === null ? EMPTY : Buffer.from(formatRecord(record));
        slow.push(stored);
        size += stored.length;
      }
      start = nl + 1;
    }
    if (start < chunk.length) this.#take(chunk.subarray(start));
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    start = 0;
    ends.forEach((nl, i) => {
      const stored = slow[i];
      if (stored === null) {
        at += prefix.copy(out, at);
        at += chunk.copy(out, at, start, nl);
        out[at++] = NEWLINE;
      } else at += stored!.copy(out, at);
      start = nl + 1;
    });
    return out;
  }

  /** The partial line left when the stream ends (none when it ended with a newline). */
  end(now: number): LogRecord[] {
    const record = this.#pendingBytes > 0 || this.#dropped > 0 ? this.#finish(now) : null;
    return record === null ? [] : [record];
  }

  // Keeps what fits of a piece of the current line; counts the rest.
  #take(piece: Buffer): void {
    const room = this.#maxLine - this.#pendingBytes;
    if (this.#dropped > 0 || room <= 0) {
      this.#dropped += piece.length;
      return;
    }
    if (piece.length <= room) {
      this.#pending.push(Buffer.from(piece));
      this.#pendingBytes += piece.length;
      return;
    }
    const kept = utf8Prefix(piece, room);
    this.#pending.push(Buffer.from(kept));
    this.#pendingBytes += kept.length;
    this.#dropped += piece.length - kept.length;
  }

  // The current line as a record; null for a run-end marker alone (one after a partial line ends that line).
  #finish(now: number): LogRecord | null {
    let line = Buffer.concat(this.#pending, this.#pendingBytes).toString('utf8');
    const dropped = this.#dropped;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#dropped = 0;
    if (line.endsWith(RUN_END_TEXT)) {
      line = line.slice(0, -RUN_END_TEXT.length);
      if (line === '' && dropped === 0) return null;
    }
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (dropped > 0) line += cutMarker(dropped);
    return this.#instance === 0 ? { time: now, stream: this.#stream, line } : { time: now, stream: this.#stream, line, instance: this.#instance };
  }
}

// Whether chunk[start, end) ends with the run-end marker (its NUL byte first: the cheap test).
function endsWithMarker(chunk: Buffer, start: number, end: number): boolean {
  const from = end - RUN_END_BYTES.length;
  return from >= start && chunk[from] === 0 && chunk.compare(RUN_END_BYTES, 0, RUN_END_BYTES.length, from, end) === 0;
}

// What a stored line starts with: `<ISO time> <stream>[@<instance>] `.
function stamp(time: number, stream: Stream, instance = 0): string {
  return `${new Date(time).toISOString()} ${stream}${instance === 0 ? '' : `@${instance}`} `;
}

/** The stored form of a record: one text line, newline included. */
export function formatRecord(record: LogRecord): string {
  return `${stamp(record.time, record.stream, record.instance)}${record.line}\n`;
}

const STORED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (out|err)(?:@(\d{1,2}))? (.*)$/s;

/** Reads a stored line back (without its newline); null when it is not one (a file written before timestamps). */
export function parseRecord(text: string): LogRecord | null {
  const match = STORED.exec(text);
  if (match === null) return null;
  const time = Date.parse(match[1]!);
  if (Number.isNaN(time)) return null;
  const record: LogRecord = { time, stream: match[2] as Stream, line: match[4]! };
  if (match[3] !== undefined && match[3] !== '0') record.instance = Number(match[3]);
  return record;
}
