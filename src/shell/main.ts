import { createReadStream } from 'node:fs';
import type { CliContext } from '../context.js';
import { commandTree } from '../device/index.js';
import { ExshError } from '../errors.js';
import { banner } from './banner.js';
import { exitStatus, runLines, runStream, streamOutput } from './batch.js';
import { historyPath, runRepl } from './repl.js';
import { Session } from './session.js';
import type { Style } from '../xapi/render.js';

/** The device-shell modes of §1: interactive, batch, -c, run and tsh. */

async function style(ctx: CliContext): Promise<Style | undefined> {
  if (!ctx.color) return undefined;
  const { Chalk } = await import('chalk');
  const chalk = new Chalk({ level: 1 });
  return { ok: (s) => chalk.green(s), error: (s) => chalk.red(s) };
}

export async function newSession(ctx: CliContext, echo: boolean, localEcho = false): Promise<Session> {
  return new Session({ device: ctx.device(), tree: commandTree(), mode: ctx.output, echo, localEcho, style: await style(ctx) });
}

export async function runDefault(ctx: CliContext): Promise<number> {
  const out = streamOutput(ctx.io.stdout);
  if (ctx.commands.length > 0) {
    const session = await newSession(ctx, false);
    await runLines(session, ctx.commands, out, { failFast: ctx.failFast });
    return exitStatus(session);
  }
  if (ctx.io.stdin.isTTY) {
    const session = await newSession(ctx, true, true);
    const chalkStyle = session.style;
    await runRepl({
      session,
      input: ctx.io.stdin,
      output: ctx.io.stdout,
      historyFile: historyPath(ctx.home, ctx.deviceName, ctx.io.env.EXSH_HISTFILE),
      promptStyle: ctx.color ? (s) => chalkStyle.ok(s) : undefined,
    });
    return 0;
  }
  const session = await newSession(ctx, false);
  await runStream(session, ctx.io.stdin as AsyncIterable<Buffer>, out, { failFast: ctx.failFast });
  return exitStatus(session);
}

export async function runFile(ctx: CliContext, file: string): Promise<number> {
  const session = await newSession(ctx, false);
  let input: AsyncIterable<Buffer>;
  if (file === '-') input = ctx.io.stdin as AsyncIterable<Buffer>;
  else {
    const stream = createReadStream(file);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e) => reject(new ExshError('cli.badScript', `Cannot read script ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : e.message}.`, 2)));
    });
    input = stream;
  }
  await runStream(session, input, streamOutput(ctx.io.stdout), { failFast: ctx.failFast });
  return exitStatus(session);
}

/** §1: a login session over stdio, as SSH without a pty: banner ending in OK, echo off. */
export async function runTsh(ctx: CliContext): Promise<number> {
  const session = await newSession(ctx, false);
  const out = streamOutput(ctx.io.stdout);
  await out.write(banner(session.device));
  await runStream(session, ctx.io.stdin as AsyncIterable<Buffer>, out, {});
  return exitStatus(session);
}
