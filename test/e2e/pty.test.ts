import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SOFTWARE_VERSION } from '../../src/device/state.js';
import { cleanHomes, tempHome } from '../helpers/exsh.js';
import { Terminal } from '../helpers/pty.js';

/**
 * §2.7 under a real pseudo-terminal: banner, prompt, Tab completion from the command
 * tree, per-device persistent history, Ctrl-C and Ctrl-D.
 */

const PROMPT = 'expressway> ';
const WAIT_MS = 10_000;

/** The exsh shell on a pty, with the helpers this test reads it through. */
class Shell extends Terminal {
  constructor(home: string) {
    super(['--home', home], WAIT_MS);
  }
  get all(): string {
    return this.text;
  }
  get line(): string {
    return this.lineAfter(PROMPT);
  }
  async waitForText(text: string): Promise<void> {
    await this.waitForRecent(text);
  }
  async waitForLine(line: string): Promise<void> {
    await this.until(`the line ${JSON.stringify(line)}`, () => this.line === line);
  }
}

const terminals: Shell[] = [];
function start(home: string): Shell {
  const t = new Shell(home);
  terminals.push(t);
  return t;
}

afterEach(() => {
  for (const t of terminals.splice(0)) t.kill();
  cleanHomes();
});

/** Clears the line being edited (Ctrl-U) and waits for the empty prompt. */
async function clearLine(t: Shell): Promise<void> {
  t.type('\x15');
  await t.waitForLine('');
}

describe('interactive shell under a pty', () => {
  it('completes verbs, paths and enum values; keeps history across sessions; Ctrl-C and Ctrl-D', async () => {
    const home = tempHome();
    const t = start(home);
    await t.until('the banner and prompt', () => t.all.endsWith(PROMPT));
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
    await t.until('OK and a new prompt', () => /\r\nOK\r\nexpressway> $/.test(t.recent));
    expect(t.recent).not.toContain('ERROR');
    // The terminal shows the typed line once: the shell does not echo it a second time.
    expect(t.recent.split('xConfiguration SystemUnit Name: "pty-1"').length - 1).toBe(1);

    // Ctrl-C drops a half-typed line without running it.
    t.type('xStatus SystemUnit Nam');
    await t.waitForLine('xStatus SystemUnit Nam');
    t.type('\x03');
    await t.until('^C and a fresh prompt', () => /\^C\r\nexpressway> $/.test(t.recent));
    expect(t.recent).not.toContain('*s');
    expect(t.line).toBe('');

    t.type('bye\r');
    expect(await t.exit).toEqual({ exitCode: 0, signal: 0 });

    const history = join(home, 'history', 'expressway.history');
    expect(readFileSync(history, 'utf8')).toBe('xConfiguration SystemUnit Name: "pty-1"\nbye\n');
    expect(statSync(history).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'history')).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, 'exsh.sqlite')).mode & 0o777).toBe(0o600);

    // A second session: the new name is in the banner; Up recalls lines from the file.
    const t2 = start(home);
    await t2.until('the banner and prompt', () => t2.all.endsWith(PROMPT));
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

  it('factory-reset typed in the shell asks its questions on the terminal; Ctrl-C cancels', async () => {
    const home = tempHome();
    const t = start(home);
    await t.until('the banner and prompt', () => t.all.endsWith(PROMPT));
    t.type('factory-reset -v -t\r');
    await t.waitForText('Keep brand and type of the device [YES/NO]? ');
    t.type('yes\r');
    await t.waitForText('Keep smart licensing settings [YES/NO]? ');
    t.type('no\r');
    await t.waitForText('Are you sure you want to continue [YES/NO]? ');
    t.type('yes\r');
    await t.until('OK and a new prompt', () => /Factory reset done: kept brand and type, FIPS 140 configuration,[\s\S]*\r\nOK\r\nexpressway> $/.test(t.recent));

    t.type('factory-reset -v\r');
    await t.waitForText('Keep brand and type of the device [YES/NO]? ');
    t.type('\x03');
    await t.until('the cancellation and a prompt', () => /Code: "reset\.cancelled"\r\n\*r\/end\r\n\r\nERROR\r\nexpressway> $/.test(t.recent));
    t.type('xStatus FactoryReset Count\r');
    await t.until('the count', () => /Count: 1\r\n\*s\/end/.test(t.recent));
    t.type('bye\r');
    expect((await t.exit).exitCode).toBe(0);
  });

  it('colours OK and ERROR on a terminal, never with NO_COLOR or --no-color', async () => {
    const home = tempHome();
    const colour = new Terminal(['--home', home], WAIT_MS, { TERM: 'xterm' });
    const plain = new Terminal(['--home', home, '--no-color'], WAIT_MS, { TERM: 'xterm' });
    const noColorEnv = new Terminal(['--home', home], WAIT_MS, { TERM: 'xterm', NO_COLOR: '1' });
    try {
      for (const t of [colour, plain, noColorEnv]) {
        await t.waitFor('> ');
        t.type('xStatus SystemUnit Name\r');
        await t.waitFor('OK', 2);
        t.type('xfoo bar\r');
        t.type('xconfiguration SystemUnit Name: 1 2\r');
        await t.waitFor('ERROR');
        t.type('bye\r');
        await t.exit;
      }
      expect(colour.rawText).toContain('\x1b[32mOK\x1b[39m');
      expect(colour.rawText).toContain('\x1b[31mERROR\x1b[39m');
      for (const t of [plain, noColorEnv]) {
        expect(t.rawText).not.toMatch(/\x1b\[3[12]m/);
        expect(t.text).toContain('\r\nERROR\r\n');
      }
    } finally {
      for (const t of [colour, plain, noColorEnv]) t.kill();
    }
  });
});
