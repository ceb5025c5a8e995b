// Byte-level line framer. Why not split2: its `maxLength` counts characters of an already-decoded string
// (a multi-byte flood passes it), and it cannot see the legacy rule (unterminated `name [array]` packets).

const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const BRACE_OPEN = 0x7b;
const BRACE_CLOSE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_NAME = 64;

/** How long (ms) a tail `settle()` may cut should wait for more bytes: the packets of one write arrive well within it. */
export const SETTLE_MS = 50;

export interface FramerSink {
  /** A complete packet's text (UTF-8 decoded, without its newline). */
  line(text: string): void;
  /** A packet grew past the limit; the framer has stopped. */
  tooLarge(bytes: number): void;
  /** The peer speaks the original dae's way (unterminated packets from its first one on); called once. */
  legacy?(): void;
}

export interface FramerOptions {
  maxPacketBytes: number;
  /** Dispatch an unterminated tail made only of complete `name [array]` packets (the original dae client). */
  legacy?: boolean;
}

// 1 when the line ending at `nl` in `chunk` (preceded by `parts`) ends with `\r`, which the limit does not count.
function endsWithCr(chunk: Buffer, nl: number, parts: Buffer[]): number {
  if (nl > 0) return chunk[nl - 1] === CR ? 1 : 0;
  const last = parts[parts.length - 1];
  return last !== undefined && last[last.length - 1] === CR ? 1 : 0;
}

function isNameByte(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39) ||
    b === 0x5f || b === 0x2e || b === 0x3a || b === 0x2d
  );
}

const enum Scan { Start, Name, Gap, Array, Str, Esc, Dead }

function isBlankBytes(buffer: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const b = buffer[i]!;
    if (b !== SPACE && b !== TAB && b !== CR && b !== LF) return false;
  }
  return true;
}

/** Splits a byte stream into lines, counting limits in bytes and decoding UTF-8 only on whole lines. */
export class Framer {
  readonly #sink: FramerSink;
  readonly #max: number;
  readonly #legacy: boolean;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #stopped = false;
  // Legacy scanner over the unterminated tail, resumed across reads so each byte is looked at once.
  #scan = Scan.Start;
  #scanned = 0;
  #nameLength = 0;
  #depth = 0;
  #cuts: number[] = [];
  /** A newline has ended a packet on this stream. */
  #sawNewline = false;
  /**
   * The peer is an original dae one: packets are framed by their structure alone, a newline inside a packet is data
   * (its encoder turned characters into any byte), and a packet that cannot be scanned is cut where its brackets close.
   */
  #legacyPeer = false;

  constructor(sink: FramerSink, options: FramerOptions) {
    this.#sink = sink;
    this.#max = options.maxPacketBytes;
    this.#legacy = options.legacy ?? true;
  }

  /** Bytes held for an unfinished packet. */
  get buffered(): number {
    return this.#partBytes;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Stops emitting; later input is ignored. */
  stop(): void {
    this.#stopped = true;
    this.#parts = [];
    this.#partBytes = 0;
  }

  /** True once the peer was found to speak the original dae's way. */
  get legacyPeer(): boolean {
    return this.#legacyPeer;
  }

  push(chunk: Buffer): void {
    if (this.#stopped) return;
    if (this.#legacyPeer) return this.#pushLegacy(chunk);
    let start = 0;
    let nl = chunk.indexOf(LF);
    if (nl !== -1) this.#sawNewline = true;
    if (nl !== -1 && this.#partBytes > 0) {
      const bytes = this.#partBytes + nl;
      if (bytes - endsWithCr(chunk, nl, this.#parts) > this.#max) return this.#overflow(bytes);
      this.#parts.push(chunk.subarray(0, nl));
      const whole = Buffer.concat(this.#parts, bytes);
      this.#resetTail();
      this.#emit(whole, 0, whole.length);
      start = nl + 1;
      nl = start < chunk.length ? chunk.indexOf(LF, start) : -1;
    }
    while (nl !== -1 && !this.#stopped) {
      if (nl - start - (nl > start && chunk[nl - 1] === CR ? 1 : 0) > this.#max) return this.#overflow(nl - start);
      this.#emit(chunk, start, nl);
      start = nl + 1;
      nl = start < chunk.length ? chunk.indexOf(LF, start) : -1;
    }
    if (this.#stopped || start >= chunk.length) return;
    const rest = start === 0 ? chunk : chunk.subarray(start);
    this.#parts.push(rest);
    this.#partBytes += rest.length;
    // Legacy packets are cut out of the tail before it is measured: several small ones may share a read.
    if (this.#legacy) this.#scanTail(rest);
    // One byte of slack: the tail may end with the `\r` of a `\r\n` that does not count.
    if (this.#partBytes > this.#max + 1) this.#overflow(this.#partBytes);
  }

  // An original dae peer: every byte goes through the structural scanner (`settle` cuts what it cannot read).
  #pushLegacy(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#parts.push(chunk);
    this.#partBytes += chunk.length;
    this.#scanTail(chunk);
    // What the scanner gave up on, ended by a newline outside brackets, is a packet at once.
    if (this.#scan === Scan.Dead && chunk.includes(LF)) this.#cutByBrackets();
    // Blanks between packets are not held.
    if (this.#scan === Scan.Start && isBlankBytes(Buffer.concat(this.#parts, this.#partBytes), 0, this.#partBytes)) this.#resetTail();
    if (!this.#stopped && this.#partBytes > this.#max + 1) this.#overflow(this.#partBytes);
  }

  /** An unterminated tail that the legacy scanner cannot finish is held: `settle()` once no more bytes come. */
  get unsettled(): boolean {
    return this.#legacy && !this.#stopped && this.#partBytes > 0 && this.#scan !== Scan.Start;
  }

  /**
   * No bytes came for a while (the door's timer) and the tail is not whole packets: an original peer's packet the scanner
   * could not follow (a name outside the alphabet, a quote or newline its encoder made of another character). Each
   * bracketed whole becomes one packet, so one bad packet costs one reply, never the connection.
   */
  settle(): void {
    if (this.unsettled) this.#cutByBrackets();
  }

  // Cuts the tail after each bracketed whole (`[…]` or `{…}`, quotes not considered), when the read ends on one: a
  // packet whose name or strings the scanner cannot follow is still one packet. For an original peer, a newline
  // outside brackets ends a packet too.
  #cutByBrackets(): void {
    const whole = Buffer.concat(this.#parts, this.#partBytes);
    const cuts: number[] = [];
    let depth = 0;
    for (let i = 0; i < whole.length; i++) {
      const b = whole[i]!;
      if (b === OPEN || b === BRACE_OPEN) depth++;
      else if ((b === CLOSE || b === BRACE_CLOSE) && depth > 0 && --depth === 0) cuts.push(i + 1);
      else if (b === LF && depth === 0 && this.#legacyPeer && !isBlankBytes(whole, cuts.at(-1) ?? 0, i)) cuts.push(i);
    }
    const last = cuts.at(-1);
    if (depth !== 0 || last === undefined || !isBlankBytes(whole, last, whole.length)) return;
    this.#resetTail();
    this.#dispatch(whole, cuts);
  }

  // Emits the packets of `whole` ending at each of `cuts`; the first ones of a stream without newlines mark the peer.
  #dispatch(whole: Buffer, cuts: readonly number[]): void {
    if (!this.#sawNewline && !this.#legacyPeer) {
      this.#legacyPeer = true;
      this.#sink.legacy?.();
    }
    let from = 0;
    for (const cut of cuts) {
      if (this.#stopped) return;
      if (cut - from > this.#max) return this.#overflow(cut - from);
      this.#emit(whole, from, cut);
      from = cut;
    }
  }

  /** The peer ended its side: what is left is a last packet. */
  end(): void {
    if (this.#stopped || this.#partBytes === 0) return;
    const whole = Buffer.concat(this.#parts, this.#partBytes);
    this.#resetTail();
    this.#emit(whole, 0, whole.length);
  }

  #emit(buffer: Buffer, start: number, end: number): void {
    // Between an original peer's packets, newlines are only blanks.
    if (this.#legacyPeer) while (start < end && (buffer[start] === LF || buffer[start] === CR)) start++;
    if (end > start && buffer[end - 1] === CR) end--;
    this.#sink.line(buffer.toString('utf8', start, end));
  }

  #overflow(bytes: number): void {
    this.stop();
    this.#sink.tooLarge(bytes);
  }

  #resetTail(): void {
    this.#parts = [];
    this.#partBytes = 0;
    this.#scan = Scan.Start;
    this.#scanned = 0;
    this.#cuts = [];
  }

  // Advances the legacy scanner over newly buffered bytes; dispatches the tail when it is whole packets only.
  #scanTail(bytes: Buffer): void {
    let state = this.#scan;
    if (state === Scan.Dead) return;
    const base = this.#scanned;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      switch (state) {
        case Scan.Start:
          if (b === SPACE || b === TAB || b === CR || (b === LF && this.#legacyPeer)) break;
          if (isNameByte(b)) { state = Scan.Name; this.#nameLength = 1; break; }
          state = Scan.Dead; break;
        case Scan.Name:
          if (isNameByte(b)) { if (++this.#nameLength > MAX_NAME) state = Scan.Dead; break; }
          if (b === SPACE || b === TAB || (b === CR && this.#legacyPeer)) { state = Scan.Gap; break; }
          // An original peer's packet without arguments, ended by a newline.
          if (b === LF && this.#legacyPeer) { state = Scan.Start; this.#cuts.push(base + i); break; }
          if (b === OPEN) { state = Scan.Array; this.#depth = 1; break; }
          state = Scan.Dead; break;
        case Scan.Gap:
          if (b === SPACE || b === TAB || (b === CR && this.#legacyPeer)) break;
          if (b === LF && this.#legacyPeer) { state = Scan.Start; this.#cuts.push(base + i); break; }
          if (b === OPEN) { state = Scan.Array; this.#depth = 1; break; }
          state = Scan.Dead; break;
        case Scan.Array:
          if (b === QUOTE) state = Scan.Str;
          else if (b === OPEN || b === BRACE_OPEN) this.#depth++;
          else if ((b === CLOSE || b === BRACE_CLOSE) && --this.#depth === 0) {
            state = Scan.Start;
            this.#cuts.push(base + i + 1);
          }
          break;
        case Scan.Str:
          if (b === BACKSLASH) state = Scan.Esc;
          else if (b === QUOTE) state = Scan.Array;
          break;
        case Scan.Esc:
          state = Scan.Str; break;
      }
      if (state === Scan.Dead) break;
    }
    this.#scan = state;
    this.#scanned = base + bytes.length;
    if (state !== Scan.Start || this.#cuts.length === 0) return;
    const whole = Buffer.concat(this.#parts, this.#partBytes);
    const cuts = this.#cuts;
    this.#resetTail();
    this.#dispatch(whole, cuts);
  }
}
