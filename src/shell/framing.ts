/**
 * Cuts a byte stream into requests (§2.3): plain lines; a command line followed by
 * body lines and a line with only "."; or a `{N} ` header followed by exactly N bytes
 * (the command line, a newline, the body, a newline), as jsxapi sends them.
 * A code never contains a line break, so body lines are joined with nothing between.
 */

export interface Frame {
  line: string;
  /** A multi-line body (§2.3), lines already joined with nothing between them. */
  body?: string;
}

export type FramedItem = Frame | { error: string; line: string };

const BYTE_HEADER = /^\{(\d+)\} ?$/;
const MAX_FRAME = 16 * 1024 * 1024;

export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private pendingBytes: number | undefined;
  private body: { line: string; lines: string[] } | undefined;

  constructor(private readonly wantsBody: (line: string) => boolean) {}

  /** True while a dot-terminated body is being collected (the REPL shows no prompt then). */
  get inBody(): boolean {
    return this.body !== undefined;
  }

  push(chunk: Buffer | string): FramedItem[] {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const out: FramedItem[] = [];
    let pos = 0;
    for (;;) {
      if (this.pendingBytes !== undefined) {
        if (this.buf.length - pos < this.pendingBytes) break;
        const payload = this.buf.toString('utf8', pos, pos + this.pendingBytes);
        pos += this.pendingBytes;
        this.pendingBytes = undefined;
        out.push(counted(payload));
        continue;
      }
      const nl = this.buf.indexOf(10, pos);
      if (nl < 0) break;
      let end = nl;
      if (end > pos && this.buf[end - 1] === 13) end--;
      const line = this.buf.toString('utf8', pos, end);
      pos = nl + 1;
      const item = this.line(line);
      if (item) out.push(item);
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return out;
  }

  /** End of input: a last line without a newline still counts; an open body is an error. */
  end(): FramedItem[] {
    const out: FramedItem[] = [];
    if (this.pendingBytes !== undefined) {
      out.push({ error: `Incomplete request: expected ${this.pendingBytes} bytes after the {N} header, got ${this.buf.length}.`, line: '' });
      this.pendingBytes = undefined;
    } else if (this.buf.length > 0) {
      const rest = this.buf.toString('utf8').replace(/\r$/, '');
      const item = this.line(rest);
      if (item) out.push(item);
    }
    this.buf = Buffer.alloc(0);
    if (this.body) {
      out.push({ error: "The multi-line body was not ended by a line with only '.'; the command was not run.", line: this.body.line });
      this.body = undefined;
    }
    return out;
  }

  /** Drops a body being collected (Ctrl-C in the REPL). */
  cancelBody(): void {
    this.body = undefined;
  }

  private line(line: string): FramedItem | undefined {
    if (this.body) {
      if (line.trim() === '.') {
        const frame: Frame = { line: this.body.line, body: this.body.lines.join('') };
        this.body = undefined;
        return frame;
      }
      // Nothing is trimmed: a terminal may wrap inside a display name; the code's own
      // canonical form (codes/) removes whitespace between tags.
      this.body.lines.push(line);
      return undefined;
    }
    const header = BYTE_HEADER.exec(line);
    if (header) {
      const n = Number(header[1]);
      if (n > MAX_FRAME) return { error: `Request too large: ${n} bytes (at most ${MAX_FRAME}).`, line };
      this.pendingBytes = n;
      return undefined;
    }
    if (this.wantsBody(line)) {
      this.body = { line, lines: [] };
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
