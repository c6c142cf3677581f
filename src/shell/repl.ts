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
export const BODY_HINT = "Paste the code, then end it with a line holding only '.' (Ctrl-C cancels).\n";
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

/**
 * readline takes several keys arriving in one read for a paste, and completes only on the
 * last of them: two Tabs pressed quickly (or sent by a client with the text before them)
 * would insert a Tab character. Tabs at the end of a read are handed on one at a time, so
 * each completes; a paste with Tabs inside it stays a paste.
 */
function splitTabs(input: NodeJS.ReadableStream): void {
  const emit = input.emit.bind(input);
  input.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    const [data] = args;
    if (event === 'data' && (typeof data === 'string' || Buffer.isBuffer(data))) {
      const text = data.toString();
      const tabs = /\t+$/.exec(text);
      if (tabs && text.length > 1) {
        const pieces = [text.slice(0, tabs.index), ...tabs[0]].filter((p) => p !== '');
        for (const piece of pieces) emit('data', typeof data === 'string' ? piece : Buffer.from(piece));
        return true;
      }
    }
    return emit(event, ...args);
  };
}

export async function runRepl(opts: ReplOptions): Promise<void> {
  const { session, output } = opts;
  const style = opts.style ?? plainStyle;
  const write = (s: string) => output.write(s);
  write(banner(await session.device.read(), session.device.name));
  const prompt = `${session.device.name}> `;
  const inHome = opts.historyFile.startsWith(session.device.home);
  splitTabs(opts.input);
  const rl = createInterface({
    input: opts.input,
    output,
    terminal: true,
    history: loadHistory(opts.historyFile),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    // Synchronous: readline handles a second Tab that arrives with the first (a paste, a
    // fast typist) only when the completion of the first is already done.
    completer: (line: string): [string[], string] => {
      const status = (name: string) => session.device.viewNow((ctx) => session.tree.status.get(name.toLowerCase())?.build(ctx));
      try {
        return complete(session.tree, status, line);
      } catch {
        return [[], line];
      }
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
  // Whether typed lines belong to a pasted body, known as each line arrives (the replies
  // may still be on their way): body lines and the final '.' stay out of the history.
  let bodyOpen = false;
  const history = (rl as unknown as { history: string[] }).history;
  await new Promise<void>((resolve, reject) => {
    rl.on('line', (line) => {
      let keep = line.trim() !== '';
      if (bodyOpen) {
        keep = false;
        if (line.trim() === '.') bodyOpen = false;
      } else if (keep && session.wantsBody(line)) {
        bodyOpen = true;
      }
      // readline has already put the line in its history (Up recalls it): fix that entry too.
      const shown = keep ? session.redact(line) : undefined;
      if (history[0] === line) {
        if (shown === undefined) history.shift();
        else history[0] = shown;
      }
      if (shown !== undefined) appendHistory(opts.historyFile, shown, inHome);
      busy = busy.then(async () => {
        if (closed) return;
        const wasInBody = reader.inBody;
        try {
          for (const item of reader.push(`${line}\n`)) {
            const outcome = 'error' in item ? session.frameError(item.code, item.error) : await session.execute(item);
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
        // On a terminal only: how to end a body is not obvious to an operator pasting a code.
        if (!wasInBody && reader.inBody) write(BODY_HINT);
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
      bodyOpen = false;
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
