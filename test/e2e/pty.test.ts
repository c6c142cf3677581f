import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pty from 'node-pty';
import { afterEach, describe, expect, it } from 'vitest';
import { SOFTWARE_VERSION } from '../../src/device/state.js';
import { cleanEnv, cleanHomes, EXSH_BIN, REPO_ROOT, tempHome } from '../helpers/exsh.js';

/**
 * §2.7 under a real pseudo-terminal: banner, prompt, Tab completion from the command
 * tree, per-device persistent history, Ctrl-C and Ctrl-D.
 */

const PROMPT = 'expressway> ';
const WAIT_MS = 10_000;

// CSI sequences (cursor moves, line clears) and other escapes readline draws with.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]/g;

class Terminal {
  private raw = '';
  private mark = 0;
  readonly exit: Promise<{ exitCode: number; signal?: number }>;
  private readonly proc: pty.IPty;

  constructor(home: string) {
    // Under umask 000, so the history file's 0600 is exsh's doing, not the default umask's.
    this.proc = pty.spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, EXSH_BIN, '--home', home], {
      name: 'xterm',
      cols: 200,
      rows: 50,
      cwd: REPO_ROOT,
      env: cleanEnv({ TERM: 'xterm', NO_COLOR: '1' }) as Record<string, string>,
    });
    this.proc.onData((d) => {
      this.raw += d;
    });
    this.exit = new Promise((resolve) => this.proc.onExit(resolve));
  }

  /** Everything printed so far, escapes removed. */
  get all(): string {
    return this.raw.replace(ANSI, '');
  }

  /** What was printed since the last type() call, escapes removed. */
  get recent(): string {
    return this.raw.slice(this.mark).replace(ANSI, '');
  }

  /** The line being edited: what follows the last prompt readline drew. */
  get line(): string {
    const text = this.all;
    const at = text.lastIndexOf(PROMPT);
    return at < 0 ? '' : text.slice(at + PROMPT.length);
  }

  type(keys: string): void {
    this.mark = this.raw.length;
    this.proc.write(keys);
  }

  /** Polls until the predicate holds, or fails with what the terminal showed. */
  async waitFor(what: string, predicate: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the terminal showed:\n${JSON.stringify(this.recent)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async waitForText(text: string): Promise<void> {
    await this.waitFor(JSON.stringify(text), () => this.recent.includes(text));
  }

  async waitForLine(line: string): Promise<void> {
    await this.waitFor(`the line ${JSON.stringify(line)}`, () => this.line === line);
  }

  kill(): void {
    try {
      this.proc.kill();
    } catch {
      /* already gone */
    }
  }
}

const terminals: Terminal[] = [];
function start(home: string): Terminal {
  const t = new Terminal(home);
  terminals.push(t);
  return t;
}

afterEach(() => {
  for (const t of terminals.splice(0)) t.kill();
  cleanHomes();
});

/** Clears the line being edited (Ctrl-U) and waits for the empty prompt. */
async function clearLine(t: Terminal): Promise<void> {
  t.type('\x15');
  await t.waitForLine('');
}

describe('interactive shell under a pty', () => {
  it('completes verbs, paths and enum values; keeps history across sessions; Ctrl-C and Ctrl-D', async () => {
    const home = tempHome();
    const t = start(home);
    await t.waitFor('the banner and prompt', () => t.all.endsWith(PROMPT));
    // A pty turns "\n" into "\r\n" (§3.1).
    expect(t.all).toBe(`Welcome to expressway\r\nCisco Expressway ${SOFTWARE_VERSION}\r\n*r Login successful\r\n\r\nOK\r\n\r\n${PROMPT}`);

    t.type('xconf\t');
    await t.waitForLine('xConfiguration ');
    await clearLine(t);

    t.type('xConfiguration SystemUnit Na\t');
    await t.waitForLine('xConfiguration SystemUnit Name: ');
    await clearLine(t);

    t.type('xConfiguration License Smart Transport Mode: O\t');
    await t.waitForLine('xConfiguration License Smart Transport Mode: OnPrem ');
    await clearLine(t);

    t.type('xConfiguration SystemUnit Name: "pty-1"\r');
    await t.waitFor('OK and a new prompt', () => /\r\nOK\r\nexpressway> $/.test(t.recent));
    expect(t.recent).not.toContain('ERROR');

    // Ctrl-C drops a half-typed line without running it.
    t.type('xStatus SystemUnit Nam');
    await t.waitForLine('xStatus SystemUnit Nam');
    t.type('\x03');
    await t.waitFor('^C and a fresh prompt', () => /\^C\r\nexpressway> $/.test(t.recent));
    expect(t.recent).not.toContain('*s');
    expect(t.line).toBe('');

    t.type('bye\r');
    expect(await t.exit).toEqual({ exitCode: 0, signal: 0 });

    const history = join(home, 'history', 'expressway.history');
    expect(readFileSync(history, 'utf8')).toBe('xConfiguration SystemUnit Name: "pty-1"\nbye\n');
    expect(statSync(history).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'history')).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'devices', 'expressway.json')).mode & 0o777).toBe(0o600);

    // A second session: the new name is in the banner; Up recalls lines from the file.
    const t2 = start(home);
    await t2.waitFor('the banner and prompt', () => t2.all.endsWith(PROMPT));
    expect(t2.all.startsWith('Welcome to pty-1\r\n')).toBe(true);
    t2.type('\x1b[A');
    await t2.waitForLine('bye');
    t2.type('\x1b[A');
    await t2.waitForLine('xConfiguration SystemUnit Name: "pty-1"');
    t2.type('\x1b[B');
    await t2.waitForLine('bye');
    await clearLine(t2);

    t2.type('\x04');
    expect(await t2.exit).toEqual({ exitCode: 0, signal: 0 });
    // Neither the cancelled line nor the recalled-and-cleared ones were added.
    expect(readFileSync(history, 'utf8')).toBe('xConfiguration SystemUnit Name: "pty-1"\nbye\n');
  });
});
