/**
 * Cuts a byte stream into requests (§2.3): plain lines; a command line followed by body
 * lines and a line with only "."; or a `{N} ` header followed by exactly N bytes (the
 * command line, a newline, the body, a newline), as jsxapi sends them. A code never
 * contains a line break, so body lines are joined with nothing between them.
 *
 * Every byte is looked at once (a long line arriving in many chunks is not rescanned or
 * recopied), and nothing grows without bound: a line, a `{N}` frame or a body longer than
 * MAX_REQUEST_BYTES is refused with an error and skipped, and the session goes on.
 */

export interface Frame {
  line: string;
  /** A multi-line body (§2.3), lines already joined with nothing between them. */
  body?: string;
}

export type FramedItem = Frame | { error: string; code: string; line: string };

/** The largest request: a real SLR code is under 10 kB; a pasted one with wrapping, a little more. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

const BYTE_HEADER = /^\{(\d+)\} ?$/;

function tooLong(what: string): { error: string; code: string; line: string } {
  return {
    error: `The ${what} is longer than ${MAX_REQUEST_BYTES} bytes, the most a request may be; it was ignored.`,
    code: 'xapi.tooLong',
    line: '',
  };
}

export class FrameReader {
  /** Bytes of the line (or {N} payload) not complete yet, in the chunks they came in. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** A line longer than the limit is being skipped up to its newline. */
  private skipping = false;
  private pendingBytes: number | undefined;
  /** Bytes of a refused {N} frame still to be skipped (they are its payload, not requests). */
  private discardBytes = 0;
  private body: { line: string; lines: string[]; bytes: number; overflow: boolean } | undefined;

  constructor(private readonly wantsBody: (line: string) => boolean) {}

  /** True while a dot-terminated body is being collected (the REPL shows no prompt then). */
  get inBody(): boolean {
    return this.body !== undefined;
  }

  push(chunk: Buffer | string): FramedItem[] {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const out: FramedItem[] = [];
    let pos = 0;
    while (pos < data.length) {
      if (this.discardBytes > 0) {
        const skip = Math.min(this.discardBytes, data.length - pos);
        this.discardBytes -= skip;
        pos += skip;
        continue;
      }
      if (this.pendingBytes !== undefined) {
        const take = Math.min(this.pendingBytes - this.partBytes, data.length - pos);
        this.keep(data.subarray(pos, pos + take));
        pos += take;
        if (this.partBytes === this.pendingBytes) {
          this.pendingBytes = undefined;
          out.push(counted(this.take().toString('utf8')));
        }
        continue;
      }
      const nl = data.indexOf(10, pos);
      if (nl < 0) {
        this.keepLinePart(data.subarray(pos), out);
        break;
      }
      this.keepLinePart(data.subarray(pos, nl), out);
      pos = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        this.take();
        continue;
      }
      let bytes = this.take();
      if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1);
      const item = this.line(bytes.toString('utf8'));
      if (item) out.push(item);
    }
    return out;
  }

  /** End of input: a last line without a newline still counts; an open body is an error. */
  end(): FramedItem[] {
    const out: FramedItem[] = [];
    if (this.pendingBytes !== undefined) {
      out.push({
        error: `Incomplete request: expected ${this.pendingBytes} bytes after the {N} header, got ${this.partBytes}.`,
        code: 'xapi.frame',
        line: '',
      });
      this.pendingBytes = undefined;
      this.take();
    } else if (this.skipping) {
      this.skipping = false;
      this.take();
    } else if (this.partBytes > 0) {
      const item = this.line(this.take().toString('utf8').replace(/\r$/, ''));
      if (item) out.push(item);
    }
    if (this.body) {
      out.push({ error: "The multi-line body was not ended by a line with only '.'; the command was not run.", code: 'xapi.frame', line: this.body.line });
      this.body = undefined;
    }
    return out;
  }

  /** Drops a body being collected (Ctrl-C in the REPL). */
  cancelBody(): void {
    this.body = undefined;
  }

  private keep(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.partBytes += part.length;
  }

  /** Keeps part of a line; once the line is over the limit, it is dropped and skipped. */
  private keepLinePart(part: Buffer, out: FramedItem[]): void {
    if (this.skipping) return;
    this.keep(part);
    if (this.partBytes > MAX_REQUEST_BYTES) {
      this.take();
      this.skipping = true;
      out.push(tooLong('request line'));
    }
  }

  private take(): Buffer {
    const all = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    return all;
  }

  private line(line: string): FramedItem | undefined {
    if (this.body) {
      if (line.trim() === '.') {
        const { line: command, lines, overflow } = this.body;
        this.body = undefined;
        return overflow ? { ...tooLong('multi-line body'), line: command } : { line: command, body: lines.join('') };
      }
      // Nothing is trimmed: a terminal may wrap inside a display name; the code's own
      // canonical form (codes/) removes whitespace between tags.
      this.body.bytes += Buffer.byteLength(line);
      if (this.body.bytes > MAX_REQUEST_BYTES) {
        this.body.overflow = true;
        this.body.lines = [];
      } else if (!this.body.overflow) {
        this.body.lines.push(line);
      }
      return undefined;
    }
    const header = BYTE_HEADER.exec(line);
    if (header) {
      const n = Number(header[1]);
      if (n > MAX_REQUEST_BYTES) {
        this.discardBytes = n;
        return {
          ...tooLong('{N} frame'),
          error: `The {N} frame of ${n} bytes is longer than ${MAX_REQUEST_BYTES} bytes, the most a request may be; it was skipped.`,
        };
      }
      if (n > 0) this.pendingBytes = n;
      return undefined;
    }
    if (this.wantsBody(line)) {
      this.body = { line, lines: [], bytes: 0, overflow: false };
      return undefined;
    }
    return { line };
  }
}

function counted(payload: string): FramedItem {
  const nl = payload.indexOf('\n');
  if (nl < 0) return { line: payload };
  const line = payload.slice(0, nl).replace(/\r$/, '');
  const body = payload
    .slice(nl + 1)
    .split(/\r?\n/)
    .join('');
  return body === '' ? { line } : { line, body };
}
