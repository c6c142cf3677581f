import { createReadStream, statSync } from 'node:fs';
import { usageError } from '../errors.js';
import { exitStatus, runLines, runStream, streamOutput } from '../shell/batch.js';
import { banner } from '../shell/banner.js';
import { Session } from '../shell/session.js';
import type { Style } from '../xapi/render.js';
import type { CliContext } from './context.js';

/** The device-shell modes of §1: interactive, batch, -c, run and tsh. */

async function colours(ctx: CliContext): Promise<Style | undefined> {
  if (!ctx.color) return undefined;
  const { Chalk } = await import('chalk');
  const chalk = new Chalk({ level: 1 });
  return { ok: (s) => chalk.green(s), error: (s) => chalk.red(s) };
}

async function session(ctx: CliContext, echo: boolean, localEcho = false): Promise<Session> {
  return new Session({ device: await ctx.device(), mode: ctx.output, echo, localEcho });
}

/** `exsh` alone: the interactive shell on a terminal, batch from a pipe; `-c` lines when given. */
export async function shellDefault(ctx: CliContext): Promise<number> {
  const out = streamOutput(ctx.io.stdout);
  if (ctx.commands.length > 0) {
    const s = await session(ctx, false);
    await runLines(s, [...ctx.commands], out, { failFast: ctx.failFast });
    return exitStatus(s);
  }
  if (ctx.io.stdin.isTTY) {
    // readline and the completer load only for a terminal.
    const { historyPath, runRepl } = await import('../shell/repl.js');
    const s = await session(ctx, true, true);
    const style = await colours(ctx);
    await runRepl({
      session: s,
      input: ctx.io.stdin,
      output: ctx.io.stdout,
      historyFile: historyPath(ctx.home, ctx.deviceName, ctx.io.env.EXSH_HISTFILE),
      style,
      promptStyle: style ? (p) => style.ok(p) : undefined,
    });
    return 0;
  }
  const s = await session(ctx, false);
  await runStream(s, ctx.io.stdin as AsyncIterable<Buffer>, out, { failFast: ctx.failFast });
  return exitStatus(s);
}

/** `exsh run <file>` (`-` reads stdin). */
export async function shellRun(ctx: CliContext, file: string): Promise<number> {
  let input: AsyncIterable<Buffer>;
  if (file === '-') input = ctx.io.stdin as AsyncIterable<Buffer>;
  else {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) throw usageError('cli.badScript', `Cannot read script ${file}: no such file.`);
    if (!st.isFile() && !st.isFIFO() && !st.isCharacterDevice()) throw usageError('cli.badScript', `Cannot read script ${file}: it is not a file.`);
    const stream = createReadStream(file);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e) => reject(usageError('cli.badScript', `Cannot read script ${file}: ${e.message}.`)));
    });
    input = stream;
  }
  const s = await session(ctx, false);
  await runStream(s, input, streamOutput(ctx.io.stdout), { failFast: ctx.failFast });
  return exitStatus(s);
}

/** §1: a login session over stdio, as SSH without a pty: banner ending in OK, echo off. */
export async function shellTsh(ctx: CliContext): Promise<number> {
  const s = await session(ctx, false);
  const out = streamOutput(ctx.io.stdout);
  await out.write(banner(await s.device.read(), s.device.name));
  // On a terminal Ctrl-C cancels the line, as it does in the interactive shell; from a
  // program (jsxapi's tsh: transport) SIGINT still ends the session.
  const interrupts = ctx.io.stdin.isTTY ? ctx.io.interrupts : undefined;
  await runStream(s, ctx.io.stdin as AsyncIterable<Buffer>, out, { interrupts });
  return exitStatus(s);
}
