import pty from '@lydell/node-pty';
import { cleanEnv, EXSH_BIN, REPO_ROOT } from './exsh.js';

/** A real pseudo-terminal running the built exsh, for §2.7 and the interactive reset. */

// CSI sequences (cursor moves, line clears), charset selections and bells readline and enquirer draw with.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\x07/g;

export class Terminal {
  private raw = '';
  private mark = 0;
  readonly exit: Promise<{ exitCode: number; signal?: number }>;
  private readonly proc: pty.IPty;

  /**
   * Runs `exsh <args>`. Under umask 000, so that file modes (0600 history, stores) are
   * exsh's doing, not the default umask's.
   */
  constructor(
    args: string[],
    private readonly waitMs = 15_000,
    env: Record<string, string> = { TERM: 'xterm', NO_COLOR: '1' },
  ) {
    this.proc = pty.spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, EXSH_BIN, ...args], {
      name: 'xterm',
      cols: 200,
      rows: 50,
      cwd: REPO_ROOT,
      env: cleanEnv(env) as Record<string, string>,
    });
    this.proc.onData((d) => {
      this.raw += d;
    });
    this.exit = new Promise((resolve) => this.proc.onExit(resolve));
  }

  /** Everything printed so far, exactly as sent. */
  get rawText(): string {
    return this.raw;
  }

  /** Everything printed so far, escapes removed. */
  get text(): string {
    return this.raw.replace(ANSI, '');
  }

  /** What was printed since the last type() call, escapes removed. */
  get recent(): string {
    return this.raw.slice(this.mark).replace(ANSI, '');
  }

  /** The line being edited: what follows the last prompt drawn. */
  lineAfter(prompt: string): string {
    const text = this.text;
    const at = text.lastIndexOf(prompt);
    return at < 0 ? '' : text.slice(at + prompt.length);
  }

  type(keys: string): void {
    this.mark = this.raw.length;
    this.proc.write(keys);
  }

  /** Polls until the predicate holds, or fails with what the terminal showed. */
  async until(what: string, predicate: () => boolean): Promise<void> {
    const deadline = Date.now() + this.waitMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the terminal showed:\n${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits until `s` has been printed since the last type() call. */
  async waitForRecent(s: string): Promise<void> {
    await this.until(JSON.stringify(s), () => this.recent.includes(s));
  }

  /** Waits until the n-th occurrence of `s` has been printed in all. */
  async waitFor(s: string, n = 1): Promise<void> {
    await this.until(JSON.stringify(s), () => this.text.split(s).length - 1 >= n);
  }

  kill(): void {
    try {
      this.proc.kill();
    } catch {
      /* already gone */
    }
  }
}
