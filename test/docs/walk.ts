import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanEnv, EXSH_BIN, REPO_ROOT } from '../helpers/exsh.js';

/**
 * Walks a document literally: every fenced block whose lines start with `$ ` is run, in
 * order, by bash in one working directory, with `exsh` on the PATH, and what it prints
 * (stdout and stderr, as a terminal would show them) is compared with the lines below
 * the command. A block holding `export VAR=…` lines sets the environment for the blocks
 * after it. Directives in HTML comments (invisible to a reader) steer the walk:
 *
 * - `<!-- walk: export VAR=value … -->` sets variables, as a reader told so in prose would;
 * - `<!-- walk: output varies -->` runs the next block without comparing its output;
 * - `<!-- walk: skip -->` leaves the next block out.
 *
 * In expected output a line `…` stands for any number of lines, and `…` inside a line for
 * any text. Codes that carry a randomised ECDSA signature (PLR authorization codes, return
 * and confirmation codes) differ in every run: where the document shows one, the actual
 * one is accepted and then substituted for it in every later command and expected line,
 * so the walk pastes the codes it got, as a reader would. Absolute paths under `/tmp/`
 * named by an `export` are mapped to temporary directories.
 */

export interface WalkStep {
  line: number;
  command: string;
  expected: string[];
  compare: boolean;
}

export interface WalkEnv {
  kind: 'env';
  line: number;
  vars: Record<string, string>;
}

export function parseWalk(markdown: string): (WalkStep | WalkEnv)[] {
  const lines = markdown.split('\n');
  const out: (WalkStep | WalkEnv)[] = [];
  let directive: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const d = /^<!-- walk: (.*?) -->$/.exec(line.trim());
    if (d?.[1] !== undefined) {
      if (d[1].startsWith('export ')) out.push({ kind: 'env', line: i + 1, vars: parseExports(d[1]) });
      else directive = d[1];
      continue;
    }
    if (!line.startsWith('```')) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++) body.push(lines[i] ?? '');
    const mode = directive;
    directive = undefined;
    if (mode === 'skip') continue;
    if (body.length > 0 && body.every((l) => l.startsWith('export '))) {
      out.push({ kind: 'env', line: start + 1, vars: Object.assign({}, ...body.map(parseExports)) });
      continue;
    }
    if (!body[0]?.startsWith('$ ')) continue;
    let step: WalkStep | undefined;
    body.forEach((l, k) => {
      if (l.startsWith('$ ')) {
        step = { line: start + 2 + k, command: l.slice(2), expected: [], compare: mode !== 'output varies' };
        out.push(step);
      } else step?.expected.push(l);
    });
  }
  return out;
}

function parseExports(line: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const m of line.replace(/^export /, '').matchAll(/(\w+)=(\S+)/g)) if (m[1] && m[2]) vars[m[1]] = m[2];
  return vars;
}

const BASE58 = '[1-9A-HJ-NP-Za-km-z]';
/** What varies from run to run even under a seed: codes derived from an ECDSA signature. */
const VOLATILE = [
  `CA${BASE58}{4}(?:-${BASE58}{6})+-${BASE58}{1,6}`, // PLR authorization code
  `C2U${BASE58}{3}(?:-${BASE58}{6})+-${BASE58}{1,6}`, // return code
  '\\b[0-9a-f]{8}\\b', // confirmation code
];
const VOLATILE_RE = new RegExp(VOLATILE.join('|'), 'g');

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Matches one actual line against one expected line; returns the codes it learnt, or undefined. */
function matchLine(expected: string, actual: string, codes: Map<string, string>): Map<string, string> | undefined {
  const learnt = new Map<string, string>();
  const names: string[] = [];
  let pattern = '';
  let at = 0;
  for (const m of expected.matchAll(VOLATILE_RE)) {
    pattern += literal(expected.slice(at, m.index));
    const known = codes.get(m[0]) ?? ([...codes.values()].includes(m[0]) ? m[0] : undefined);
    if (known !== undefined) pattern += escapeRe(known);
    else {
      names.push(m[0]);
      pattern += `(${VOLATILE.find((v) => new RegExp(`^(?:${v})$`).test(m[0]))})`;
    }
    at = m.index + m[0].length;
  }
  pattern += literal(expected.slice(at));
  const hit = new RegExp(`^${pattern}$`).exec(actual);
  if (!hit) return undefined;
  for (const [k, name] of names.entries()) learnt.set(name, hit[k + 1] ?? '');
  return learnt;
}

const literal = (s: string) => s.split('…').map(escapeRe).join('.*');

/** Compares output with the expected lines (`…` alone = any lines); returns the codes learnt or a reason. */
export function compareOutput(expected: readonly string[], actual: readonly string[], codes: Map<string, string>): Map<string, string> | string {
  const go = (e: number, a: number, learnt: Map<string, string>): Map<string, string> | undefined => {
    if (e === expected.length) return a === actual.length ? learnt : undefined;
    const want = expected[e] ?? '';
    if (want === '…') {
      for (let k = a; k <= actual.length; k++) {
        const r = go(e + 1, k, learnt);
        if (r) return r;
      }
      return undefined;
    }
    if (a === actual.length) return undefined;
    const m = matchLine(want, actual[a] ?? '', new Map([...codes, ...learnt]));
    return m ? go(e + 1, a + 1, new Map([...learnt, ...m])) : undefined;
  };
  return go(0, 0, new Map()) ?? `expected:\n${expected.join('\n')}\n\nactual:\n${actual.join('\n')}`;
}

export interface WalkResult {
  step: WalkStep;
  command: string;
  failure?: string;
}

/** Runs a document's steps in a fresh directory; stops at the first failure. */
export async function walk(doc: string): Promise<WalkResult[]> {
  const steps = parseWalk(readFileSync(join(REPO_ROOT, doc), 'utf8'));
  const root = mkdtempSync(join(tmpdir(), 'exsh-walk-'));
  const bin = join(root, 'bin');
  const cwd = join(root, 'work');
  mkdirSync(bin);
  mkdirSync(cwd);
  writeFileSync(join(bin, 'exsh'), `#!/bin/sh\nexec "${process.execPath}" "${EXSH_BIN}" "$@"\n`);
  chmodSync(join(bin, 'exsh'), 0o755);
  const env: Record<string, string> = {};
  const paths = new Map<string, string>();
  const codes = new Map<string, string>();
  const substitute = (text: string) => {
    let t = text;
    for (const [from, to] of [...paths, ...codes].sort((a, b) => b[0].length - a[0].length)) t = t.split(from).join(to);
    return t;
  };
  const results: WalkResult[] = [];
  try {
    for (const step of steps) {
      if ('kind' in step) {
        for (const [k, v] of Object.entries(step.vars)) {
          if (v.startsWith('/tmp/')) {
            if (!paths.has(v)) paths.set(v, mkdtempSync(join(root, 'home-')));
            env[k] = paths.get(v) ?? v;
          } else env[k] = v;
        }
        continue;
      }
      const command = substitute(step.command);
      const r = await execa('bash', ['-c', `${command} 2>&1`], {
        cwd,
        reject: false,
        extendEnv: false,
        env: { ...cleanEnv(), ...env, PATH: `${bin}:${process.env.PATH ?? ''}` },
        // A command that never ends (a server) fails the walk instead of hanging it.
        timeout: 30_000,
      });
      const actual = String(r.stdout).split('\n');
      const result: WalkResult = { step, command };
      results.push(result);
      if (!step.compare) continue;
      const verdict = compareOutput(step.expected.map(substitute), actual, codes);
      if (typeof verdict === 'string') {
        result.failure = `line ${step.line}: $ ${command}\n${verdict}`;
        break;
      }
      for (const [k, v] of verdict) codes.set(k, v);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return results;
}
