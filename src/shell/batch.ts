import { FrameReader, type FramedItem } from './framing.js';
import type { Session } from './session.js';

/**
 * Batch, `run`, `-c` and tsh all come through here: frames are run in order, and the
 * output of everything that arrived in one chunk is written at once (so a pipe of
 * 20,000 lines is not 20,000 writes, while an interactive client still gets each
 * reply as soon as its request is complete).
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
}

export type RunResult = 'continue' | 'stop';

/** Runs framed items into acc.out; returns true to stop (bye, or a failure with --fail-fast). */
async function runItems(session: Session, items: FramedItem[], opts: RunOptions, acc: { out: string }): Promise<boolean> {
  for (const item of items) {
    if ('error' in item) {
      session.failures++;
      acc.out += session.errorOutput('xapi.frame', item.error);
    } else {
      acc.out += await session.execute(item);
    }
    if (session.ended || (opts.failFast && session.failures > 0)) return true;
  }
  return false;
}

export async function runStream(
  session: Session,
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  output: Output,
  opts: RunOptions = {},
): Promise<void> {
  const reader = new FrameReader((line) => session.wantsBody(line));
  const acc = { out: '' };
  const flush = async () => {
    const out = acc.out;
    acc.out = '';
    await output.write(out);
  };
  try {
    for await (const chunk of input) {
      // The burst's state changes are committed (on disk) before its replies are written.
      const stop = await session.device.batch(() => runItems(session, reader.push(chunk), opts, acc));
      await flush();
      if (stop) return;
    }
    await session.device.batch(() => runItems(session, reader.end(), opts, acc));
  } finally {
    // What ran before a store error (exit 3) is still shown.
    await flush();
  }
}

/**
 * `-c` lines: each is exactly one request. A command that wants a body gets none (it
 * prints its usage), so one -c can never swallow the next as its body.
 */
export async function runLines(session: Session, lines: string[], output: Output, opts: RunOptions = {}): Promise<void> {
  const acc = { out: '' };
  try {
    await session.device.batch(() => runItems(session, lines.map((line) => ({ line })), opts, acc));
  } finally {
    await output.write(acc.out);
  }
}

export function exitStatus(session: Session): number {
  return session.failures > 0 ? 1 : 0;
}

