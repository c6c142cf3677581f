import { appendFileSync, chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureDir } from '../device/store.js';
import { banner } from './banner.js';
import { complete } from './complete.js';
import { FrameReader } from './framing.js';
import type { Session } from './session.js';

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
  promptStyle?: (s: string) => string;
}

export const HISTORY_SIZE = 1000;

export function historyPath(home: string, device: string, override?: string): string {
  return override && override !== '' ? override : join(home, 'history', `${device}.history`);
}

function loadHistory(file: string): string[] {
  try {
    // readline wants the newest entry first.
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

function appendHistory(file: string, line: string): void {
  try {
    ensureDir(dirname(file));
    appendFileSync(file, `${line}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  } catch {
    /* history is a convenience; a read-only home must not stop the shell */
  }
}

export async function runRepl(opts: ReplOptions): Promise<void> {
  const { session, output } = opts;
  const write = (s: string) => output.write(s);
  write(banner(session.device));
  const prompt = `${session.device.name}> `;
  const rl = createInterface({
    input: opts.input,
    output,
    terminal: true,
    history: loadHistory(opts.historyFile),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    completer: (line: string) => complete(session.tree, session.device, line),
  });
  const reader = new FrameReader((line) => session.wantsBody(line));
  // factory-reset typed here asks its questions on this terminal; Ctrl-C answers undefined.
  let pendingQuestion: { abort: AbortController; resolve: (answer: string | undefined) => void } | undefined;
  session.ask = (question: string) =>
    new Promise<string | undefined>((resolve) => {
      const abort = new AbortController();
      pendingQuestion = { abort, resolve };
      rl.question(question, { signal: abort.signal }, (answer) => {
        pendingQuestion = undefined;
        resolve(answer);
      });
    });
  const setPrompt = () => rl.setPrompt(reader.inBody ? '' : (opts.promptStyle ?? ((s) => s))(prompt));
  setPrompt();
  rl.prompt();

  let busy = Promise.resolve();
  let closed = false;
  await new Promise<void>((resolve, reject) => {
    rl.on('line', (line) => {
      busy = busy.then(async () => {
        if (closed) return;
        if (line.trim() !== '' && !reader.inBody) appendHistory(opts.historyFile, line);
        try {
          for (const item of reader.push(`${line}\n`)) {
            write('error' in item ? session.errorOutput('xapi.frame', item.error) : await session.execute(item));
            if (session.ended) {
              closed = true;
              rl.close();
              return;
            }
          }
        } catch (e) {
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

