import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { StoreError } from '../errors.js';
import { appendPrivateFile, ensurePrivateDir, readFileCapped } from '../files.js';
import { plainStyle, type Style } from '../xapi/render.js';
import { banner } from './banner.js';
import { complete } from './complete.js';
import { FrameReader } from './framing.js';
import { renderOutcome, type Session } from './session.js';

/**
 * The interactive shell (§2.7): banner, prompt, per-device persistent history, Tab
 * completion from the command tree, Ctrl-C cancels the line, Ctrl-D exits.
 */

export interface ReplOptions {
  session: Session;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** History file: EXSH_HISTFILE, else <home>/history/<device>.history. */
  historyFile: string;
  /** Colour for OK/ERROR and the prompt (a terminal without NO_COLOR). */
  style?: Style;
  promptStyle?: (s: string) => string;
}

export const HISTORY_SIZE = 1000;
const MAX_HISTORY_BYTES = 4 * 1024 * 1024;

export function historyPath(home: string, device: string, override?: string): string {
  return override && override !== '' ? override : join(home, 'history', `${device}.history`);
}

function loadHistory(file: string): string[] {
  try {
    const bytes = readFileCapped(file, MAX_HISTORY_BYTES, true);
    // readline wants the newest entry first.
    return (bytes?.toString('utf8') ?? '')
      .split('\n')
      .filter((l) => l !== '')
      .slice(-HISTORY_SIZE)
      .reverse();
  } catch {
    return [];
  }
}

/** History is a convenience: a read-only home, a planted symlink or another user's file is skipped. */
function appendHistory(file: string, line: string, inHome: boolean): void {
  try {
    if (inHome) ensurePrivateDir(join(file, '..'));
  } catch {
    return;
  }
  appendPrivateFile(file, `${line}\n`);
}

export async function runRepl(opts: ReplOptions): Promise<void> {
  const { session, output } = opts;
  const style = opts.style ?? plainStyle;
  const write = (s: string) => output.write(s);
  write(banner(await session.device.read(), session.device.name));
  const prompt = `${session.device.name}> `;
  const inHome = opts.historyFile.startsWith(session.device.home);
  const rl = createInterface({
    input: opts.input,
    output,
    terminal: true,
    history: loadHistory(opts.historyFile),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (line: string, callback: (err: Error | null, result: [string[], string]) => void) => {
      const status = (name: string) =>
        session.device.view((ctx) => {
          const provider = session.tree.status.get(name.toLowerCase());
          if (!provider) throw new Error(`no status node ${name}`);
          return provider.build(ctx);
        });
      complete(session.tree, status, line).then(
        (r) => callback(null, r),
        () => callback(null, [[], line]),
      );
    },
  });
  const reader = new FrameReader((line) => session.wantsBody(line));
  // factory-reset typed here asks its questions on this terminal; Ctrl-C answers undefined.
  let pendingQuestion: { abort: AbortController; resolve: (answer: string | undefined) => void } | undefined;
  session.prompter = {
    ask: (preamble, question) =>
      new Promise<string | undefined>((resolve) => {
        const abort = new AbortController();
        pendingQuestion = { abort, resolve };
        rl.question(`${preamble}${question}`, { signal: abort.signal }, (answer) => {
          pendingQuestion = undefined;
          resolve(answer);
        });
      }),
  };
  const setPrompt = () => rl.setPrompt(reader.inBody ? '' : (opts.promptStyle ?? ((s) => s))(prompt));
  setPrompt();
  rl.prompt();

  let busy = Promise.resolve();
  let closed = false;
  await new Promise<void>((resolve, reject) => {
    rl.on('line', (line) => {
      busy = busy.then(async () => {
        if (closed) return;
        if (line.trim() !== '' && !reader.inBody) appendHistory(opts.historyFile, line, inHome);
        try {
          for (const item of reader.push(`${line}\n`)) {
            const outcome = 'error' in item ? session.frameError('xapi.frame', item.error) : await session.execute(item);
            if (outcome) write(renderOutcome(outcome, style));
            if (session.ended) {
              closed = true;
              rl.close();
              return;
            }
          }
        } catch (e) {
          if (e instanceof StoreError) write(renderOutcome(session.frameError(e.code, e.message), style));
          closed = true;
          rl.close();
          reject(e);
          return;
        }
        setPrompt();
        rl.prompt();
      });
    });
    rl.on('SIGINT', () => {
      if (pendingQuestion) {
        const { abort, resolve } = pendingQuestion;
        pendingQuestion = undefined;
        abort.abort();
        write('^C\n');
        resolve(undefined);
        return;
      }
      // Ctrl-C cancels the line being typed (or a body being pasted), never the shell.
      reader.cancelBody();
      rl.write(null, { ctrl: true, name: 'u' });
      write('^C\n');
      setPrompt();
      rl.prompt();
    });
    rl.on('close', () => {
      closed = true;
      busy.then(() => resolve(), reject);
    });
  });
}
