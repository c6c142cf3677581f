import { Command, CommanderError } from 'commander';
import type { Device } from '../device/device.js';
import { cancelled, defineResetOptions, type Prompter, type ResetFlags, runFactoryReset, toResetRequest } from '../device/reset-flow.js';
import { outcomeLines } from '../device/reset.js';
import { exitStatusOf, formatDiagnostic, isExshError, usageError } from '../errors.js';
import type { ChannelIo, Input } from './channel.js';
import { readLine } from './channel.js';
import { runTshSession } from './xapi-shell.js';

/**
 * The appliance's root shell, as much of it as licensing needs (§11, tsh-protocol §6):
 * `tsh` / `tshell` start the admin xAPI shell inside it, `factory-reset [flags]` asks
 * its questions on the channel and reads the answers from it, `exit` (or `logout`, or
 * end of input) leaves. Scripts also pipe a line into tsh (`echo 'xstat cafe' | tsh`),
 * so that form works too. With a pty the shell shows the appliance's prompt `~ # `;
 * without one, like a shell reading a pipe, it shows none.
 */

export const ROOT_PROMPT = '~ # ';

const TSH_NAMES: ReadonlySet<string> = new Set(['tsh', 'tshell', '/bin/tsh', '/usr/bin/tsh', '/sbin/tsh', '/usr/sbin/tsh']);

/** `tsh`, `tshell`, `/bin/tsh`, `/usr/bin/tsh` with any arguments (jsxapi's `tsh --port N`, `-C`). */
export function isTshCommand(line: string): boolean {
  const first = line.trim().split(/\s+/, 1)[0] ?? '';
  return TSH_NAMES.has(first);
}

export type OpenDevice = () => Promise<Device>;

/** The interactive root shell until `exit`, `logout` or end of input; returns its exit status. */
export async function runRootShell(io: ChannelIo, openDevice: OpenDevice): Promise<number> {
  let status = 0;
  for (;;) {
    if (io.pty) await io.write(ROOT_PROMPT);
    const line = await readLine(io);
    if (line === undefined) {
      // Ctrl-D at the prompt: a login shell says so before it goes.
      if (io.pty && !io.finished) await io.write('logout\n');
      return status;
    }
    if (line === 'interrupt') {
      await io.write('\n');
      continue;
    }
    const ran = await runRootCommand(io, line, openDevice, status, true);
    if (ran.exit) return ran.status;
    status = ran.status;
  }
}

/** One command line of the root shell (also what `ssh root@host '<command>'` runs). */
export async function runRootCommand(
  io: ChannelIo,
  line: string,
  openDevice: OpenDevice,
  lastStatus = 0,
  nested = false,
): Promise<{ status: number; exit?: boolean }> {
  let words: string[];
  let pipeline: string[][];
  try {
    pipeline = shellWords(line);
    words = pipeline[0] ?? [];
  } catch (e) {
    await io.writeError(`-sh: ${(e as Error).message}\n`);
    return { status: 2 };
  }
  if (words.length === 0 && pipeline.length <= 1) return { status: lastStatus };
  const [name = '', ...args] = words;

  if (pipeline.length === 2 && name === 'echo' && isTshCommand((pipeline[1] as string[]).join(' '))) {
    // `echo '<line>' | tsh`: the line is tsh's whole input, as from a pipe.
    return { status: await runTshSession(withInput(io, `${args.join(' ')}\n`), await openDevice()) };
  }
  if (pipeline.length > 1) {
    await io.writeError('-sh: pipelines other than `echo <line> | tsh` are not available in this shell\n');
    return { status: 2 };
  }
  if (TSH_NAMES.has(name)) return { status: await runTshSession(io, await openDevice(), { nested }) };
  switch (name) {
    case 'exit':
    case 'logout': {
      const code = args[0] === undefined ? lastStatus : Number(args[0]);
      return { status: Number.isInteger(code) ? code & 0xff : 2, exit: true };
    }
    case 'factory-reset':
      return { status: await factoryResetCommand(io, args, openDevice) };
    case 'echo':
      await io.write(`${args.join(' ')}\n`);
      return { status: 0 };
    case 'true':
      return { status: 0 };
    default:
      await io.writeError(`-sh: ${name}: command not found (this root shell has tsh, tshell, factory-reset and exit)\n`);
      return { status: 127 };
  }
}

/** `factory-reset [flags]` exactly as `exsh factory-reset` runs it, the questions asked on the channel. */
async function factoryResetCommand(io: ChannelIo, args: string[], openDevice: OpenDevice): Promise<number> {
  let captured = '';
  let flags: ResetFlags | undefined;
  const cmd = defineResetOptions(new Command('factory-reset'))
    .exitOverride()
    .configureOutput({ writeOut: (s) => (captured += s), writeErr: (s) => (captured += s), outputError: () => undefined })
    .action((f: ResetFlags) => {
      flags = f;
    });
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') {
      await io.write(captured);
      return 0;
    }
    const sentence = e.message
      .replace(/^error: /, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim();
    await io.writeError(`${formatDiagnostic(usageError(e.code, /[.)]$/.test(sentence) ? sentence : `${sentence}.`))}\n`);
    return 2;
  }
  if (!flags) return 2;
  try {
    const { text, outcome } = await runFactoryReset(await openDevice(), toResetRequest(flags), channelPrompter(io), 'on this channel');
    await io.write(`${text}${outcomeLines(outcome).join('\n')}\n`);
    return 0;
  } catch (e) {
    if (!isExshError(e)) throw e;
    if (e.code === cancelled().code) await io.write('\n');
    await io.writeError(`${formatDiagnostic(e)}\n`);
    return exitStatusOf(e);
  }
}

/**
 * The factory-reset questions over the channel: the question as the device words it,
 * the answer read from the next line. With a pty the discipline echoes what is typed
 * and Ctrl-C cancels; without one the answer is shown after the question, so that the
 * transcript reads as the device's (`Keep ssh keys [YES/NO]? yes`), and end of input
 * cancels.
 */
function channelPrompter(io: ChannelIo): Prompter {
  return {
    ask: async (preamble, question) => {
      await io.write(`${preamble}${question}`);
      const answer = await readLine(io);
      if (answer === undefined || answer === 'interrupt') return undefined;
      if (!io.pty) await io.write(`${answer}\n`);
      return answer;
    },
  };
}

/** The channel with its input replaced by fixed text (what `echo … |` gives tsh). */
function withInput(io: ChannelIo, text: string): ChannelIo {
  const pending: Input[] = [Buffer.from(text, 'utf8')];
  return {
    pty: false,
    echo: () => false,
    next: async () => pending.shift(),
    unshift: (bytes) => {
      if (bytes.length > 0) pending.unshift(bytes);
    },
    get finished() {
      return pending.length === 0;
    },
    write: (s) => io.write(s),
    writeError: (s) => io.writeError(s),
    interrupts: () => () => undefined,
    output: io.output,
  };
}

/**
 * Splits a command line as a POSIX shell would for simple commands: words separated by
 * blanks, '…' and "…" quoting, backslash escapes, and `|` between commands. Returns
 * the commands of the pipeline, each a list of words.
 */
export function shellWords(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  const current = () => commands[commands.length - 1] as string[];
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word = (word ?? '') + c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1] as string)) word = (word ?? '') + line[++i];
      else word = (word ?? '') + c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) current().push(word);
      word = undefined;
    } else if (c === '|') {
      if (word !== undefined) current().push(word);
      word = undefined;
      if (current().length === 0) throw new Error("syntax error near unexpected token '|'");
      commands.push([]);
    } else if (c === '#' && word === undefined) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new Error(`unexpected end of line while looking for the matching ${quote}`);
  if (word !== undefined) current().push(word);
  if (commands.length > 1 && current().length === 0) throw new Error("syntax error near unexpected token '|'");
  return commands;
}
