import { createRequire } from 'node:module';
import { cancelled, runFactoryReset, toResetRequest, type Prompter, type ResetFlags } from '../device/reset-flow.js';
import { outcomeLines } from '../device/reset.js';
import { isExshError } from '../errors.js';
import type { CliContext, Io } from './context.js';

/** `exsh factory-reset` (§8.1): the root shell's reset, asked on a terminal with enquirer. */

interface InputPrompt {
  run(): Promise<string>;
  prefix(): Promise<string>;
  separator(): Promise<string>;
  message(): Promise<string>;
}
type InputPromptClass = new (options: Record<string, unknown>) => InputPrompt;

/** enquirer Input prompts in the device's wording: "Keep ssh keys [YES/NO]? yes". */
function terminalPrompter(io: Io): Prompter {
  // enquirer is CommonJS and needed only here: required on first use, never at start-up.
  const enquirer = createRequire(import.meta.url)('enquirer') as { Input: InputPromptClass };
  return {
    ask: async (preamble, question) => {
      io.stdout.write(preamble);
      const message = question.trimEnd();
      // A fresh prompt every time: enquirer's own validate would keep the wrong text in
      // the line, and the device asks the question again instead.
      const prompt = new enquirer.Input({ name: 'answer', message, stdin: io.stdin, stdout: io.stdout });
      // The device's line, not enquirer's "? … ›": no prefix symbol, separator or bold.
      prompt.prefix = async () => '';
      prompt.separator = async () => '';
      prompt.message = async () => message;
      try {
        return await prompt.run();
      } catch {
        return undefined;
      }
    },
  };
}

export async function factoryReset(ctx: CliContext, flags: ResetFlags): Promise<void> {
  const { io } = ctx;
  const prompter = io.stdin.isTTY === true ? terminalPrompter(io) : undefined;
  try {
    const { text, outcome } = await runFactoryReset(await ctx.device(), toResetRequest(flags), prompter, 'questions when stdin is not a terminal');
    io.stdout.write(`${text}${outcomeLines(outcome).join('\n')}\n`);
  } catch (e) {
    if (isExshError(e) && e.code === cancelled().code) io.stdout.write('\n');
    throw e;
  }
}
