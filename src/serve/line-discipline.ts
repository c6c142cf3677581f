import { MAX_REQUEST_BYTES } from '../shell/framing.js';

/**
 * The line discipline of an SSH channel with a pty (§11). There is no kernel pty behind
 * the built-in server, so this does what a terminal driver in canonical mode does for a
 * program reading lines, and nothing more: echo, line ends, erase, kill, interrupt, end
 * of file. No prompt, no redraw, no colour, and no line-length limit (a kernel cuts a
 * canonical line at 4095 bytes; a 7.8 kB SLR code pasted on one line must install).
 *
 * The byte stream it hands on is what the shell's FrameReader reads without a pty: each
 * line ending in "\n", and a `{N}` frame's N bytes passed through untouched, so the count
 * jsxapi made still holds.
 */

export type DisciplineEvent =
  /** Bytes to show on the terminal (what was typed, erasures, `^C`). */
  | { kind: 'echo'; bytes: Buffer }
  /** Bytes for the reader: complete lines ending in "\n", or a `{N}` frame's payload. */
  | { kind: 'input'; bytes: Buffer }
  /** Ctrl-C: the line being typed was dropped. */
  | { kind: 'interrupt' }
  /** Ctrl-D on an empty line: end of input, as a terminal gives it. */
  | { kind: 'eof' };

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const ESC = 0x1b;
const BS = 0x08;
const DEL = 0x7f;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const CTRL_W = 0x17;

const ERASE = Buffer.from('\b \b');
const CRLF = Buffer.from('\r\n');
const CARET_C = Buffer.from('^C');

/** `{N} `: jsxapi's byte-counted frame header (§2.3), as the FrameReader knows it. */
const BYTE_HEADER = /^\{(\d+)\} ?$/;

/** Escape sequences from arrow and function keys are dropped, as a program without line editing sees nothing of them. */
type EscapeState = 'none' | 'esc' | 'csi' | 'ss3';

/** A growable byte buffer for the line being typed: appends and erasures in place, linear in what is typed. */
class LineBuffer {
  private buf = Buffer.allocUnsafe(256);
  length = 0;

  append(bytes: Buffer, start: number, end: number): void {
    const n = end - start;
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    bytes.copy(this.buf, this.length, start, end);
    this.length += n;
  }

  /** Removes the last UTF-8 character; false when the line is empty. */
  erase(): boolean {
    if (this.length === 0) return false;
    let i = this.length - 1;
    while (i > 0 && ((this.buf[i] as number) & 0xc0) === 0x80) i--;
    this.length = i;
    return true;
  }

  /** The last byte, or undefined on an empty line. */
  last(): number | undefined {
    return this.length === 0 ? undefined : this.buf[this.length - 1];
  }

  /** How many characters the line holds (what a kill has to erase on the screen). */
  characters(): number {
    let n = 0;
    for (let i = 0; i < this.length; i++) if (((this.buf[i] as number) & 0xc0) !== 0x80) n++;
    return n;
  }

  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.length));
    this.length = 0;
    return out;
  }

  text(): string {
    return this.buf.toString('utf8', 0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

export interface LineDisciplineOptions {
  /** A line longer than this is handed on in pieces (the reader then refuses it as too long); default: the largest request. */
  maxLineBytes?: number;
}

export class LineDiscipline {
  /** Whether typed characters are shown (the session's `echo on|off`, read before each chunk). */
  echo = true;
  private readonly line = new LineBuffer();
  private readonly maxLineBytes: number;
  /** The last byte ended a line with CR: an LF right after it belongs to the same line end. */
  private afterCr = false;
  private escape: EscapeState = 'none';
  /** Bytes of a `{N}` frame still to pass through untouched. */
  private counted = 0;
  /** Part of the current line already handed on (it was longer than the limit). */
  private spilled = false;

  constructor(opts: LineDisciplineOptions = {}) {
    this.maxLineBytes = opts.maxLineBytes ?? MAX_REQUEST_BYTES + 2;
  }

  /** True while nothing of a line has been typed (what Ctrl-D needs to end the input). */
  get lineEmpty(): boolean {
    return this.line.length === 0 && !this.spilled;
  }

  /** The line typed so far (for tests and diagnostics). */
  get pending(): string {
    return this.line.text();
  }

  /** Takes bytes typed at the client's terminal; returns what follows from them, in order. */
  feed(chunk: Buffer): DisciplineEvent[] {
    const out = new Events();
    let i = 0;
    while (i < chunk.length) {
      if (this.counted > 0) {
        // An LF right after the header's CR is the header's own line end, not the payload.
        if (this.afterCr && chunk[i] === LF) {
          this.afterCr = false;
          i++;
          continue;
        }
        this.afterCr = false;
        const take = Math.min(this.counted, chunk.length - i);
        const bytes = chunk.subarray(i, i + take);
        out.input(bytes);
        if (this.echo) out.echo(terminalBytes(bytes));
        this.counted -= take;
        i += take;
        continue;
      }
      const b = chunk[i] as number;
      if (this.escape !== 'none') {
        this.escape = nextEscape(this.escape, b);
        i++;
        continue;
      }
      if (b >= 0x20 && b !== DEL) {
        // A run of ordinary bytes (UTF-8 included) is taken in one copy.
        let j = i + 1;
        while (j < chunk.length) {
          const c = chunk[j] as number;
          if (c < 0x20 || c === DEL) break;
          j++;
        }
        this.afterCr = false;
        this.type(chunk, i, j, out);
        i = j;
        continue;
      }
      i++;
      if (b === LF && this.afterCr) {
        this.afterCr = false;
        continue;
      }
      this.afterCr = b === CR;
      switch (b) {
        case CR:
        case LF:
          this.endLine(out);
          break;
        case TAB:
          this.type(chunk, i - 1, i, out);
          break;
        case BS:
        case DEL:
          if (this.line.erase() && this.echo) out.echo(ERASE);
          break;
        case CTRL_U:
          this.kill(this.line.characters(), out);
          break;
        case CTRL_W:
          this.eraseWord(out);
          break;
        case CTRL_C:
          this.line.clear();
          this.spilled = false;
          if (this.echo) out.echo(CARET_C);
          out.push({ kind: 'interrupt' });
          break;
        case CTRL_D:
          // On a line with text a terminal hands the text on without a line end; nothing
          // here reads partial lines, so the line simply stays as it is.
          if (this.lineEmpty) out.push({ kind: 'eof' });
          break;
        case ESC:
          this.escape = 'esc';
          break;
        default:
          // Other control characters (Ctrl-L, Ctrl-Z, …) mean nothing to a reader of lines.
          break;
      }
    }
    return out.done();
  }

  private type(chunk: Buffer, start: number, end: number, out: Events): void {
    this.line.append(chunk, start, end);
    if (this.echo) out.echo(chunk.subarray(start, end));
    if (this.line.length > this.maxLineBytes) {
      // Past any request's size: hand it on now so that memory stays bounded; the reader
      // refuses the line when its end comes.
      out.input(this.line.take());
      this.spilled = true;
    }
  }

  private endLine(out: Events): void {
    if (this.echo) out.echo(CRLF);
    const spilled = this.spilled;
    this.spilled = false;
    const text = this.line.text();
    out.input(Buffer.concat([this.line.take(), Buffer.from('\n')]));
    const header = spilled ? null : BYTE_HEADER.exec(text);
    if (header) this.counted = Number(header[1]);
  }

  private kill(characters: number, out: Events): void {
    this.line.clear();
    if (this.echo && characters > 0) out.echo(Buffer.concat(Array.from({ length: characters }, () => ERASE)));
  }

  private eraseWord(out: Events): void {
    let erased = 0;
    while (this.line.last() === 0x20 && this.line.erase()) erased++;
    for (let last = this.line.last(); last !== undefined && last !== 0x20; last = this.line.last()) {
      this.line.erase();
      erased++;
    }
    if (this.echo && erased > 0) out.echo(Buffer.concat(Array.from({ length: erased }, () => ERASE)));
  }
}

/**
 * Collects events. Echo and input are separate streams: each piece joins the stream's
 * last piece unless a Ctrl-C or Ctrl-D came between, so a pasted block is one echo write
 * and one input chunk (one burst). Pieces are joined once, at the end: linear in the
 * chunk, however many lines it holds.
 */
class Events {
  private readonly list: Array<{ kind: 'echo' | 'input'; parts: Buffer[] } | { kind: 'interrupt' | 'eof' }> = [];
  private open: { echo?: Buffer[]; input?: Buffer[] } = {};

  push(e: { kind: 'interrupt' | 'eof' }): void {
    this.list.push(e);
    this.open = {};
  }

  echo(bytes: Buffer): void {
    this.add('echo', bytes);
  }

  input(bytes: Buffer): void {
    this.add('input', bytes);
  }

  private add(kind: 'echo' | 'input', bytes: Buffer): void {
    if (bytes.length === 0) return;
    const parts = this.open[kind];
    if (parts) {
      parts.push(bytes);
      return;
    }
    const fresh = [bytes];
    this.open[kind] = fresh;
    this.list.push({ kind, parts: fresh });
  }

  done(): DisciplineEvent[] {
    return this.list.map((e) => ('parts' in e ? { kind: e.kind, bytes: Buffer.concat(e.parts) } : e));
  }
}

function nextEscape(state: EscapeState, b: number): EscapeState {
  switch (state) {
    case 'esc':
      if (b === 0x5b) return 'csi'; // ESC [
      if (b === 0x4f) return 'ss3'; // ESC O
      return 'none'; // ESC and one character (Alt-x)
    case 'csi':
      // Parameters and intermediates go on; a final byte (@ to ~) ends the sequence.
      return b >= 0x40 && b <= 0x7e ? 'none' : 'csi';
    case 'ss3':
      return 'none';
    case 'none':
      return 'none';
  }
}

/** Bytes as a terminal shows them: every line end as CRLF. */
function terminalBytes(bytes: Buffer): Buffer {
  if (!bytes.includes(LF)) return bytes;
  return Buffer.from(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/**
 * Output for a terminal (§3.1: "\r\n only on an SSH pty"): the shell writes "\n", a pty
 * shows "\r\n". Without a pty nothing is changed (jsxapi compares `OK` with ===).
 */
export function toTerminal(text: string): string {
  return text.includes('\n') ? text.replace(/\r?\n/g, '\r\n') : text;
}
