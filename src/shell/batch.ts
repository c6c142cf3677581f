import { StoreError } from '../errors.js';
import { plainStyle, type Style } from '../xapi/render.js';
import { FrameReader, type FramedItem } from './framing.js';
import { renderOutcome, type Outcome, type Session } from './session.js';

/**
 * Batch, `run`, `-c` and tsh all come through here: frames run in order, and everything
 * that arrived in one chunk runs as one burst (one transaction, §12) whose replies are
 * written together once it has committed, so a pipe of 20,000 lines is not 20,000
 * commits, while an interactive client still gets each reply as soon as its request is
 * complete. A reply is never printed for a change that is not on disk.
 */

export interface Output {
  write(s: string): Promise<void>;
}

export function streamOutput(stream: NodeJS.WritableStream): Output {
  return {
    write: (s: string) =>
      new Promise<void>((resolve, reject) => {
        if (s === '') return resolve();
        const ok = stream.write(s, (err) => (err ? reject(err) : undefined));
        if (ok) resolve();
        else stream.once('drain', resolve);
      }),
  };
}

export interface RunOptions {
  failFast?: boolean;
  style?: Style;
  /**
   * Ctrl-C on a terminal: the terminal has dropped the line being typed and echoed ^C;
   * the session drops a body being pasted and goes on (it never ends on Ctrl-C).
   */
  interrupts?: (handler: () => void) => () => void;
}

/** Store failures that mean "this change could not be made" (the store itself is fine to read). */
const WRITE_FAILURES: ReadonlySet<string> = new Set(['store.locked', 'store.full', 'store.unwritable']);

/** Runs framed items, collecting outcomes; returns true to stop (bye, or a failure with --fail-fast). */
async function runItems(session: Session, items: FramedItem[], opts: RunOptions, outcomes: Outcome[]): Promise<boolean> {
  for (const item of items) {
    const outcome = 'error' in item ? session.frameError(item.code, item.error) : await session.execute(item);
    if (outcome) outcomes.push(outcome);
    if (session.ended || (opts.failFast && session.failures > 0)) return true;
  }
  return false;
}

/**
 * One burst: its changes commit before any of its replies is written. When the store
 * fails (locked past the timeout, disk full), the replies of the requests that ran
 * before the burst's first change are written (they read committed state), then an
 * ERROR for the first change that did not land; the StoreError ends the run (exit 3).
 */
async function runBurst(session: Session, items: FramedItem[], output: Output, opts: RunOptions): Promise<boolean> {
  const outcomes: Outcome[] = [];
  try {
    const stop = await session.device.burst(() => runItems(session, items, opts, outcomes));
    await output.write(outcomes.map((o) => renderOutcome(o, opts.style ?? plainStyle)).join(''));
    return stop;
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    const firstWrite = outcomes.findIndex((o) => o.wrote);
    const shown = firstWrite < 0 ? outcomes : outcomes.slice(0, firstWrite);
    // A store that cannot be read at all (corrupt, unreadable) stops before any reply:
    // only a change that could not be made gets an ERROR of its own.
    if (firstWrite < 0 && !WRITE_FAILURES.has(e.code)) {
      await output.write(shown.map((o) => renderOutcome(o, opts.style ?? plainStyle)).join(''));
      throw e;
    }
    const failed = { ...session.frameError(e.code, e.message), resultId: firstWrite < 0 ? requestIdOf(e) : outcomes[firstWrite]?.resultId };
    await output.write([...shown, failed].map((o) => renderOutcome(o, opts.style ?? plainStyle)).join(''));
    throw e;
  }
}

/** The resultId of the request a StoreError stopped (Session.execute tags it). */
function requestIdOf(e: StoreError): string | undefined {
  return (e as StoreError & { resultId?: string }).resultId;
}

export async function runStream(
  session: Session,
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  output: Output,
  opts: RunOptions = {},
): Promise<void> {
  const reader = new FrameReader((line) => session.wantsBody(line));
  const unsubscribe = opts.interrupts?.(() => {
    reader.cancelBody();
    output.write('\n').catch(() => undefined);
  });
  try {
    for await (const chunk of input) {
      if (await runBurst(session, reader.push(chunk), output, opts)) return;
    }
    await runBurst(session, reader.end(), output, opts);
  } finally {
    unsubscribe?.();
  }
}

/**
 * `-c` lines: each is exactly one request. A command that wants a body gets none (it
 * prints its usage), so one -c can never swallow the next as its body.
 */
export async function runLines(session: Session, lines: string[], output: Output, opts: RunOptions = {}): Promise<void> {
  await runBurst(
    session,
    lines.map((line) => ({ line })),
    output,
    opts,
  );
}

export function exitStatus(session: Session): number {
  return session.failures > 0 ? 1 : 0;
}
