import { XMLValidator } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { Device } from '../../src/device/device.js';
import { deviceModel } from '../../src/device/subsystems.js';
import { DocumentStore } from '../../src/store/documents.js';
import { runStream, type Output } from '../../src/shell/batch.js';
import { FrameReader } from '../../src/shell/framing.js';
import { Session } from '../../src/shell/session.js';
import type { OutputMode } from '../../src/xapi/parser.js';
import type { ValueSpace } from '../../src/xapi/schema.js';
import { cleanHomes, tempHome } from '../helpers/exsh.js';

/**
 * §11: fuzzed input never crashes the shell — no throw, no stack trace, no internal
 * error; every reply is well-formed for its output mode and every error says why
 * (Reason) and which (Code).
 */

afterAll(() => {
  DocumentStore.closeAll();
  cleanHomes();
});

// Fixed so a failure reproduces; FUZZ_SEED / FUZZ_LINES explore further by hand.
const SEED = Number(process.env.FUZZ_SEED ?? 1000);
const LINES_PER_MODE = Number(process.env.FUZZ_LINES ?? 5_000);

/** mulberry32: small, seeded, good enough to pick mutations reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HAND_WRITTEN = [
  'xConfiguration',
  'xConfiguration ?',
  'xConfiguration SystemUnit Name',
  'xConfiguration SystemUnit Name: "fuzz"',
  'xConfiguration SystemUnit Name: "with \\"quotes\\" and \\\\"',
  'xconf sys na: bare',
  'xConfiguration License Smart Transport Mode: OnPrem',
  'xConfiguration License Smart Transport Mode: "Direct" | resultId="7"',
  'xConfiguration License Smart Transport Mode ?',
  'xConfiguration License Smart ReservationEnable: On',
  'xConfiguration License Smart Transport OnPrem Url: "https://cssm.example.com/SmartTransport"',
  'xConfiguration License Smart Transport Proxy Port: 8080',
  'xConfiguration License Smart Transport Proxy Password: "s3cret"',
  'xConfiguration License Smart Privacy HostnameAndIp: DoNotShare',
  'xConfiguration IP DNS Hostname: "exp-1"',
  'xConfiguration IP DNS Domain Name: "example.com"',
  'xCommand',
  'xCommand ?',
  'xCommand Simulator ?',
  'xCommand Simulator Clock Advance Minutes: 1',
  'xCommand Simulator Clock Advance Days: 1 Hours: 2 Minutes: 3 | resultId="adv"',
  'xcom sim clo adv min:5',
  'xCommand Simulator Clock Set Time: "2026-06-01T00:00:00Z"',
  'xCommand Simulator Clock Set "2030-01-01T00:00:00Z"',
  'xCommand Simulator Clock Set',
  'xCommand License Smart Reservation Request',
  'xCommand License Smart Reservation Install "<specificPLR><authorizationCode>x</authorizationCode></specificPLR>"',
  'xStatus',
  'xStatus ?',
  'xStatus SystemUnit',
  'xStatus SystemUnit Time | resultId="t"',
  'xStatus SystemUnit UDI SerialNumber',
  'xStatus License Smart',
  'xStatus License Smart Entitlement 1 Tag',
  'xStatus License Smart Entitlement[2] Tag',
  'xStatus Alarm',
  'xFeedback register /Configuration/SystemUnit',
  'xFeedback register /Status/SystemUnit/Time',
  'xFeedback deregister /Configuration/SystemUnit',
  'xFeedback deregisterall',
  'xFeedback list',
  'xPreferences OutputMode json',
  'xPreferences OutputMode xml',
  'xPreferences OutputMode terminal',
  'xPreferences ?',
  'echo on',
  'echo off',
  'help',
  '?',
  '# a comment',
  '',
  'bye',
  'exit',
  'factory-reset',
  'factory-reset --keep all --yes',
  '{31} ',
];

function sample(space: ValueSpace): string {
  switch (space.kind) {
    case 'enum':
      return space.values[space.values.length - 1] as string;
    case 'int':
      return String(space.max);
    case 'string':
      return `"${'x'.repeat(Math.max(1, Math.min(space.min, 8)))}"`;
  }
}

/** One valid-looking line per configuration leaf, command and status node in the tree, so new ones are fuzzed too. */
function treeLines(): string[] {
  const tree = deviceModel().tree;
  const lines: string[] = [];
  for (const leaf of tree.configLeaves()) {
    lines.push(`xConfiguration ${leaf.path.join(' ')}`, `xConfiguration ${leaf.path.join(' ')}: ${sample(leaf.space)}`);
  }
  for (const spec of tree.commandList()) {
    lines.push(`xCommand ${spec.path.join(' ')} ${spec.params.map((p) => `${p.name}: ${sample(p.space)}`).join(' ')}`.trimEnd());
  }
  for (const provider of tree.status.values()) lines.push(`xStatus ${provider.name}`);
  return lines;
}

const CORPUS = [...HAND_WRITTEN, ...treeLines()];

const SPECIALS = ['"', '|', '?', ':', '[', ']', '{', '}', '\\', ' ', '\t', '=', '/', '.', '#', ',', '-', '*'];
const UNICODE = ['é', 'ß', '日本', '😀', '\u200b', '\ufeff', '\u202e', '\ud800', '\udfff', 'Ω', '\u00a0'];

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)] as T;
}

function randomChar(rnd: () => number): string {
  const r = rnd();
  if (r < 0.35) return pick(rnd, SPECIALS);
  if (r < 0.5) return pick(rnd, UNICODE);
  if (r < 0.6) {
    // Control characters, NUL and \r included; not \n, which ends a line before a session sees it.
    const c = Math.floor(rnd() * 32);
    return String.fromCharCode(c === 10 ? 0 : c);
  }
  if (r < 0.62) return '\x7f';
  if (r < 0.75) return String.fromCharCode(48 + Math.floor(rnd() * 10));
  return String.fromCharCode((rnd() < 0.5 ? 65 : 97) + Math.floor(rnd() * 26));
}

function randomLine(rnd: () => number): string {
  let s = '';
  const n = Math.floor(rnd() * 60);
  for (let i = 0; i < n; i++) s += randomChar(rnd);
  return s;
}

function mutate(rnd: () => number, line: string): string {
  let s = line;
  const steps = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < steps; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 12)) {
      case 0:
        s = s.slice(0, at) + randomChar(rnd) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 3));
        break;
      case 2:
        s = s.slice(0, at) + randomChar(rnd) + s.slice(at + 1);
        break;
      case 3:
        s = `${s.slice(0, at)}"${s.slice(at)}`;
        break;
      case 4:
        s = s.slice(0, at) + pick(rnd, [' | ', ' |', '|resultId=', ' | resultId="', ' | resultId="x"', ' | resultId=x y']) + s.slice(at);
        break;
      case 5:
        s = s.slice(0, at) + pick(rnd, [' ?', '?', ': ', ':', ' : ', '::']) + s.slice(at);
        break;
      case 6:
        s = s.slice(0, at) + pick(rnd, ['[', ']', '[1]', '[0]', '[-1]', '[99999999999999999999]', ' 1 ', ' -1 ']) + s.slice(at);
        break;
      case 7:
        s = `{${Math.floor(rnd() * 200)}} ${rnd() < 0.5 ? '' : s}`;
        break;
      case 8: {
        const long = pick(rnd, ['A', '"', ':', 'é', '9', ' ', '\\']).repeat(1 + Math.floor(rnd() * 20_000));
        s = s.slice(0, at) + long + s.slice(at);
        break;
      }
      case 9:
        s = s.slice(0, at);
        break;
      case 10:
        s = `${s.slice(0, at)} ${pick(rnd, CORPUS)}${s.slice(at)}`;
        break;
      case 11: {
        const words = s.split(' ');
        const i = Math.floor(rnd() * words.length);
        const j = Math.floor(rnd() * words.length);
        [words[i], words[j]] = [words[j] as string, words[i] as string];
        s = rnd() < 0.5 ? words.join(' ') : words.map((w) => (rnd() < 0.3 ? w.toUpperCase() : w)).join(' ');
        break;
      }
    }
  }
  return s;
}

function* fuzzLines(seed: number, count: number): Generator<string> {
  const rnd = prng(seed);
  for (const line of CORPUS) yield line;
  for (let i = CORPUS.length; i < count; i++) yield rnd() < 0.2 ? randomLine(rnd) : mutate(rnd, pick(rnd, CORPUS));
}

/** Every output: no stack trace, no internal error, nothing but text. */
function checkCommon(out: string): void {
  expect(out).not.toMatch(/\n\s+at /);
  expect(out).not.toContain('    at ');
  expect(out).not.toContain('Internal error');
  expect(out).not.toContain('exsh.internal');
  expect(out).not.toContain('undefined');
  expect(out).not.toContain('[object Object]');
}

const NOT_RECOGNIZED = 'Command not recognized.\n';

/**
 * Strips feedback pushed after a reply (§2.6, terminal: `*c`/`*s` lines, then `** end`).
 * Line by line: a regex anchored at the end backtracks quadratically on 20 kB lines.
 */
function withoutFeedback(out: string): string {
  const lines = out.split('\n');
  if (lines[lines.length - 2] !== '** end') return out;
  let i = lines.length - 2;
  while (i >= 0 && /^(\*c |\*s |\*s\/end$|\*\* end$| {4})/.test(lines[i] as string)) i--;
  return i >= 0 && (lines[i] === 'OK' || lines[i] === 'ERROR') ? `${lines.slice(0, i + 1).join('\n')}\n` : out;
}

function checkTerminal(out: string): void {
  if (out === '' || out === NOT_RECOGNIZED) return;
  const reply = withoutFeedback(out);
  expect(reply).toMatch(/(?:^|\n)(OK|ERROR)\n$/);
  if (reply.endsWith('ERROR\n') && !/^\*\? xCommand /.test(reply)) {
    // Every failure (but a command's usage, §2.5) is a result block with a Reason and a Code.
    expect(reply).toMatch(
      /^\*r \w+ \(status=(Error|ParameterError)\):\n {4}Reason: "[^\n]+"\n(?: {4}XPath: "[^\n]*"\n)? {4}Code: "[a-zA-Z]+\.[a-zA-Z]+"\n\*r\/end\n\n(\*\* resultId: "[^\n]*"\n)?ERROR\n$/,
    );
  }
}

type JsonDoc = Record<string, unknown>;

function checkJson(out: string): void {
  if (out === '' || out === NOT_RECOGNIZED) return;
  // One document per reply and one per feedback event, outer braces on their own lines (§3.2).
  const docs = out.split(/(?<=\n\}\n)/);
  for (const text of docs) {
    expect(text).toMatch(/^\{\n[\s\S]*\}\n$/);
    const doc = JSON.parse(text) as JsonDoc;
    expect(typeof doc).toBe('object');
    const response = doc.CommandResponse as Record<string, { status?: string; Reason?: { Value: string }; ErrorCode?: { Value: string } }> | undefined;
    if (response) {
      const [name, result] = Object.entries(response)[0] ?? [];
      expect(Object.keys(response)).toHaveLength(1);
      if (result?.status !== 'OK' && name !== 'HelpResult') {
        expect(result?.Reason?.Value).toMatch(/\S/);
        expect(result?.ErrorCode?.Value).toMatch(/^[a-zA-Z]+\.[a-zA-Z]+$/);
      }
    }
  }
}

function checkXml(out: string): void {
  if (out === '' || out === NOT_RECOGNIZED) return;
  expect(out.startsWith('<XmlDoc')).toBe(true);
  expect(out.endsWith('</XmlDoc>\n')).toBe(true);
  for (const doc of out.split(/(?<=<\/XmlDoc>\n)/)) {
    expect(XMLValidator.validate(doc)).toBe(true);
    if (/<\w+ status="(Error|ParameterError)">/.test(doc) && !doc.includes('<HelpResult')) {
      expect(doc).toMatch(/<Reason>[^<]+<\/Reason>/);
      expect(doc).toMatch(/<ErrorCode>[a-zA-Z]+\.[a-zA-Z]+<\/ErrorCode>/);
    }
  }
}

const CHECKS: Record<OutputMode, (out: string) => void> = { terminal: checkTerminal, json: checkJson, xml: checkXml };

async function newSession(mode: OutputMode): Promise<Session> {
  const device = await Device.open({ home: tempHome('exsh-fuzz-'), name: 'fuzz', model: deviceModel(), now: new Date('2026-01-01T00:00:00Z'), seed: '1' });
  return new Session({ device, mode });
}

describe('fuzzed lines through a session', () => {
  for (const [i, mode] of (['terminal', 'json', 'xml'] as const).entries()) {
    it(`${mode} mode: ${LINES_PER_MODE} random and mutated lines`, async () => {
      const session = await newSession(mode);
      const check = CHECKS[mode];
      const kinds = { empty: 0, notRecognized: 0, ok: 0, error: 0 };
      for (const line of fuzzLines(SEED + i, LINES_PER_MODE)) {
        let out: string;
        try {
          out = await session.text({ line });
        } catch (e) {
          throw new Error(`execute threw on ${JSON.stringify(line.slice(0, 200))}: ${(e as Error).stack}`);
        }
        try {
          checkCommon(out);
          // A line that switched the output mode is answered in the new mode.
          (session.mode === mode ? check : CHECKS[session.mode])(out);
        } catch (e) {
          throw new Error(`bad ${mode} output for ${JSON.stringify(line.slice(0, 200))}:\n${out.slice(0, 2000)}\n${(e as Error).message}`);
        }
        if (out === '') kinds.empty++;
        else if (out === NOT_RECOGNIZED) kinds.notRecognized++;
        else if (/(ERROR\n|"status":"(Error|ParameterError)"|status="(Error|ParameterError)"|"error":"True")/.test(out)) kinds.error++;
        else kinds.ok++;
        // A fuzzed line may switch the mode or turn echo on; the next line starts clean.
        session.mode = mode;
        session.echo = false;
      }
      // The fuzzer reaches every kind of outcome, so the checks above were exercised.
      expect(kinds.ok).toBeGreaterThan(100);
      expect(kinds.error).toBeGreaterThan(1000);
      expect(kinds.notRecognized).toBeGreaterThan(100);
      expect(kinds.empty).toBeGreaterThan(0);
      // And the device is still usable afterwards.
      session.mode = 'terminal';
      expect(await session.text({ line: 'xStatus SystemUnit Product' })).toBe('*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n');
    });
  }
});

describe('fuzzed bytes through the framing', () => {
  function randomBytes(rnd: () => number, n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
    return b;
  }

  /** Byte chunks mixing garbage, valid lines, `{N}` headers, dot bodies and split UTF-8. */
  function* chunks(rnd: () => number, count: number): Generator<Buffer> {
    for (let i = 0; i < count; i++) {
      const r = rnd();
      if (r < 0.3) yield randomBytes(rnd, Math.floor(rnd() * 64));
      else if (r < 0.55) yield Buffer.from(`${mutate(rnd, pick(rnd, CORPUS))}\n`);
      else if (r < 0.65) yield Buffer.from(`{${Math.floor(rnd() * 80)}} \n`);
      else if (r < 0.72) yield Buffer.from(`{${Math.floor(rnd() * 10)}}\r\n${pick(rnd, CORPUS)}\n`);
      else if (r < 0.8) yield Buffer.from(`xCommand Simulator Clock Set\n${randomLine(rnd)}\n${rnd() < 0.5 ? '.\n' : ''}`);
      else if (r < 0.88) {
        const b = Buffer.from(`${pick(rnd, CORPUS)} é😀\n`);
        const cut = Math.floor(rnd() * b.length);
        yield b.subarray(0, cut);
        yield b.subarray(cut);
      } else yield Buffer.from(pick(rnd, ['\n', '\r\n', '\r', '.\n', ' .\n', '\x00', '\x04', '\x03', '\x1b[A']));
    }
  }

  it('never throws, and reports broken frames as errors', async () => {
    const rnd = prng(77);
    let framed = 0;
    for (let round = 0; round < 40; round++) {
      const mode = pick(rnd, ['terminal', 'json', 'xml'] as const);
      const session = await newSession(mode);
      let text = '';
      const output: Output = {
        write: async (s) => {
          text += s;
        },
      };
      await runStream(session, chunks(rnd, 60), output);
      checkCommon(text);
      framed += text.length;
    }
    expect(framed).toBeGreaterThan(0);
  });

  it('cuts a stream the same way whatever the chunk boundaries', () => {
    const rnd = prng(5);
    const wantsBody = (line: string) => /^xCommand Simulator Clock Set\s*$/.test(line);
    for (let round = 0; round < 200; round++) {
      const parts: Buffer[] = [];
      for (const c of chunks(rnd, 20)) parts.push(c);
      const whole = Buffer.concat(parts);
      const once = new FrameReader(wantsBody);
      const expected = [...once.push(whole), ...once.end()];
      const split = new FrameReader(wantsBody);
      const got = [];
      for (let at = 0; at < whole.length; ) {
        const n = 1 + Math.floor(rnd() * 7);
        got.push(...split.push(whole.subarray(at, at + n)));
        at += n;
      }
      got.push(...split.end());
      expect(got).toEqual(expected);
    }
  });
});
