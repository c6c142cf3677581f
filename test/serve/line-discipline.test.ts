import { describe, expect, it } from 'vitest';
import { type DisciplineEvent, LineDiscipline, toTerminal } from '../../src/serve/line-discipline.js';

/** §11: the pty line discipline of the built-in SSH server, byte for byte. */

type Seen = Array<[kind: string, text?: string]>;

function seen(events: DisciplineEvent[]): Seen {
  return events.map((e) => (e.kind === 'echo' || e.kind === 'input' ? [e.kind, e.bytes.toString('latin1')] : [e.kind]));
}

function feed(d: LineDiscipline, ...chunks: string[]): Seen {
  return chunks.flatMap((c) => seen(d.feed(Buffer.from(c, 'latin1'))));
}

/** What the reader gets from all chunks, joined. */
function inputOf(d: LineDiscipline, ...chunks: string[]): string {
  return feed(d, ...chunks)
    .filter(([k]) => k === 'input')
    .map(([, t]) => t)
    .join('');
}

describe('line ends', () => {
  it.each([
    ['CR (a terminal)', 'xStatus SystemUnit\r'],
    ['LF (a script)', 'xStatus SystemUnit\n'],
    ['CRLF (netmiko)', 'xStatus SystemUnit\r\n'],
  ])('%s ends exactly one line, echoed as CRLF', (_name, typed) => {
    expect(feed(new LineDiscipline(), typed)).toEqual([
      ['echo', 'xStatus SystemUnit\r\n'],
      ['input', 'xStatus SystemUnit\n'],
    ]);
  });

  it('a CR and its LF in different chunks are still one line end', () => {
    const d = new LineDiscipline();
    expect(feed(d, 'bye\r', '\n')).toEqual([
      ['echo', 'bye\r\n'],
      ['input', 'bye\n'],
    ]);
  });

  it('two CRs are two (empty) lines; LF LF likewise', () => {
    expect(inputOf(new LineDiscipline(), '\r\r')).toBe('\n\n');
    expect(inputOf(new LineDiscipline(), '\n\n')).toBe('\n\n');
    expect(inputOf(new LineDiscipline(), '\r\n\r\n')).toBe('\n\n');
  });

  it("netmiko 4's early CRLF is one empty line: echoed as a line end, nothing more", () => {
    expect(feed(new LineDiscipline(), '\r\n')).toEqual([
      ['echo', '\r\n'],
      ['input', '\n'],
    ]);
  });

  it('a pasted chunk of many lines reaches the reader as one piece (one burst)', () => {
    const events = feed(new LineDiscipline(), 'a\rb\rc\r');
    expect(events).toEqual([
      ['echo', 'a\r\nb\r\nc\r\n'],
      ['input', 'a\nb\nc\n'],
    ]);
  });
});

describe('echo', () => {
  it('echo off shows nothing and changes nothing else', () => {
    const d = new LineDiscipline();
    d.echo = false;
    expect(feed(d, 'xStatt\x7fus\r', 'ab\x03')).toEqual([['input', 'xStatus\n'], ['interrupt']]);
  });

  it('UTF-8 passes through whole', () => {
    const text = Buffer.from('xConfiguration SystemUnit Name: "é東"\r', 'utf8').toString('latin1');
    const d = new LineDiscipline();
    expect(Buffer.from(inputOf(d, text), 'latin1').toString('utf8')).toBe('xConfiguration SystemUnit Name: "é東"\n');
  });

  it('a tab is kept and echoed', () => {
    expect(feed(new LineDiscipline(), 'a\tb\r')).toEqual([
      ['echo', 'a\tb\r\n'],
      ['input', 'a\tb\n'],
    ]);
  });
});

describe('editing', () => {
  it('DEL and backspace erase one character, on screen too', () => {
    expect(feed(new LineDiscipline(), 'xSx\x7ft\x08ta\r')).toEqual([
      ['echo', 'xSx\b \bt\b \bta\r\n'],
      ['input', 'xSta\n'],
    ]);
  });

  it('erasing an empty line does nothing', () => {
    expect(feed(new LineDiscipline(), '\x7f\x7fa\r')).toEqual([
      ['echo', 'a\r\n'],
      ['input', 'a\n'],
    ]);
  });

  it('an erase takes a whole UTF-8 character', () => {
    const d = new LineDiscipline();
    const typed = Buffer.concat([Buffer.from('aé', 'utf8'), Buffer.from([0x7f, 0x0d])]);
    const input = d
      .feed(typed)
      .filter((e) => e.kind === 'input')
      .map((e) => (e.kind === 'input' ? e.bytes.toString('utf8') : ''));
    expect(input).toEqual(['a\n']);
  });

  it('Ctrl-U kills the line, erasing each character on screen', () => {
    expect(feed(new LineDiscipline(), 'abc\x15d\r')).toEqual([
      ['echo', 'abc\b \b\b \b\b \bd\r\n'],
      ['input', 'd\n'],
    ]);
  });

  it('Ctrl-W erases the last word', () => {
    expect(inputOf(new LineDiscipline(), 'xStatus SystemUnit  \x17License\r')).toBe('xStatus License\n');
  });

  it('arrow keys and function keys are dropped, even split across chunks', () => {
    expect(inputOf(new LineDiscipline(), 'a\x1b[Ab\x1bOPc\x1b', '[1;5', 'Dd\x1b[200~e\x1b[201~\r')).toBe('abcde\n');
  });

  it('other control characters are ignored', () => {
    expect(inputOf(new LineDiscipline(), 'a\x0cb\x1ac\x00\r')).toBe('abc\n');
  });
});

describe('Ctrl-C and Ctrl-D', () => {
  it('Ctrl-C shows ^C, drops the line and says so; the next line is read as usual', () => {
    const d = new LineDiscipline();
    expect(feed(d, 'xStat\x03', 'bye\r')).toEqual([['echo', 'xStat^C'], ['interrupt'], ['echo', 'bye\r\n'], ['input', 'bye\n']]);
  });

  it('Ctrl-D on an empty line is end of input', () => {
    expect(feed(new LineDiscipline(), '\x04')).toEqual([['eof']]);
    expect(feed(new LineDiscipline(), 'a\r\x04')).toEqual([['echo', 'a\r\n'], ['input', 'a\n'], ['eof']]);
  });

  it('Ctrl-D on a line with text does nothing (the line goes on)', () => {
    const d = new LineDiscipline();
    expect(feed(d, 'xsta\x04')).toEqual([['echo', 'xsta']]);
    expect(d.pending).toBe('xsta');
    expect(inputOf(d, 'tus\r')).toBe('xstatus\n');
  });
});

describe('{N} frames and long lines', () => {
  it('passes the N bytes after a {N} header untouched (jsxapi counted them)', () => {
    const payload = 'xCommand License Smart Reservation Install | resultId="1"\r\n<a>\x03\x7f</a>\n';
    const n = Buffer.byteLength(payload);
    const d = new LineDiscipline();
    expect(inputOf(d, `{${n}} \r`, payload, 'bye\r')).toBe(`{${n}} \n${payload}bye\n`);
  });

  it("the LF of a header's CRLF is not part of the payload", () => {
    const d = new LineDiscipline();
    expect(inputOf(d, '{4} \r\n', 'a\nb\n', 'x\r')).toBe('{4} \na\nb\nx\n');
  });

  it('a 10 000-character line is one line (no canonical-mode limit)', () => {
    const code = 'C'.repeat(10_000);
    expect(inputOf(new LineDiscipline(), `xCommand License Smart Reservation Install "${code}"\r`)).toBe(
      `xCommand License Smart Reservation Install "${code}"\n`,
    );
  });

  it('a line past the limit is handed on in pieces, so memory stays bounded', () => {
    const d = new LineDiscipline({ maxLineBytes: 8 });
    const events = feed(d, 'abcdefghijkl', 'mn\r');
    expect(events.filter(([k]) => k === 'input')).toEqual([
      ['input', 'abcdefghijkl'],
      ['input', 'mn\n'],
    ]);
    expect(d.lineEmpty).toBe(true);
  });
});

describe('output', () => {
  it('turns every line end into CRLF for the terminal', () => {
    expect(toTerminal('*s/end\n\nOK\n')).toBe('*s/end\r\n\r\nOK\r\n');
    expect(toTerminal('a\r\nb')).toBe('a\r\nb');
    expect(toTerminal('no newline')).toBe('no newline');
  });
});
