import { Command, CommanderError, Option } from 'commander';
import { registerSubcommands } from '../cli.js';
import type { Io } from '../context.js';
import type { Device } from '../device/device.js';
import type { ResetOutcome, ResetRequest } from '../device/reset.js';
import { ExshError, isExshError } from '../errors.js';
import type { Session } from '../shell/session.js';

/**
 * `factory-reset` (§8.1) as `exsh factory-reset` and as the verb typed in the device
 * shell. Both declare the same options and run the same flow: plan from flags, print
 * the seed's banner and questions, ask what is unanswered (enquirer on a terminal;
 * never on a pipe), then one atomic state change. The device logic is in
 * src/device/reset.ts and is loaded only when a reset runs.
 */

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const NAMES = 'brand-type, smart-licensing, fips, ip, management, ssh-keys, certificates, passwords, logs, or all';

function defineOptions(cmd: Command): Command {
  return cmd
    .description("reset the device to factory default settings, asking what to keep (Expressway's root-shell factory-reset)")
    .addOption(new Option('-v', 'ask only whether to keep the brand and type of the device'))
    .addOption(new Option('-t', 'ask only whether to keep the smart licensing settings (Expressway only)'))
    .addOption(new Option('-o', 'keep option keys: removed in X14.2, refused'))
    .option('-y, --yes', 'answer YES to "Are you sure you want to continue"')
    .option('--keep <list>', `answer YES for these (comma-separated: ${NAMES})`, collect)
    .option('--discard <list>', 'answer NO for these (same names)', collect)
    .addHelpText(
      'after',
      `
Without -v or -t every question is asked, in the seed's order; with them only the
flagged questions (and any named in --keep/--discard), the rest answered NO.
With stdin not a terminal, every question must be answered by --keep/--discard and
--yes; a missing answer is a usage error (exit 2). Ctrl+C before the final
confirmation changes nothing. Option keys are never kept.`,
    );
}

interface ResetFlags {
  v?: boolean;
  t?: boolean;
  o?: boolean;
  yes?: boolean;
  keep?: string[];
  discard?: string[];
}

function toRequest(f: ResetFlags): ResetRequest {
  return { brandType: f.v, smartLicensing: f.t, optionKeys: f.o, yes: f.yes, keep: f.keep, discard: f.discard };
}

/** Asks one YES/NO question; rejects with reset.cancelled on Ctrl+C. */
export type Ask = (question: string) => Promise<boolean>;

export function cancelled(): ExshError {
  return new ExshError('reset.cancelled', 'Factory reset cancelled; nothing was changed.');
}

/**
 * The whole flow. `ask` is undefined where nobody can answer (a pipe, a script);
 * then every answer must come from the flags. Returns the outcome after the write.
 */
export async function runFactoryReset(
  device: Device,
  req: ResetRequest,
  write: (s: string) => void,
  ask: Ask | undefined,
  why: string,
): Promise<ResetOutcome> {
  const { commandTree } = await import('../device/index.js');
  const reset = await import('../device/reset.js');
  commandTree(); // every subsystem's initialisers, retention and catch-ups
  const plan = reset.planReset(
    device.view((ctx) => ctx.state.brand),
    req,
  );
  if (!ask && reset.missingAnswers(plan).length > 0) throw reset.missingAnswersError(plan, why);
  write(`${reset.BANNER.join('\n')}\n`);
  const answers: Record<string, boolean> = {};
  for (const step of plan.steps) {
    if (step.answer !== undefined) {
      answers[step.item.name] = step.answer;
      write(`${reset.promptText(step.item.question)} ${step.answer ? 'yes' : 'no'}\n`);
    } else {
      answers[step.item.name] = await (ask as Ask)(step.item.question);
    }
  }
  write('\n');
  if (plan.confirmed) write(`${reset.promptText(reset.FINAL_QUESTION)} yes\n`);
  else if (!(await (ask as Ask)(reset.FINAL_QUESTION))) throw cancelled();
  return device.mutate((ctx) => reset.applyFactoryReset(ctx, answers));
}

interface InputPrompt {
  run(): Promise<string>;
  prefix(): Promise<string>;
  separator(): Promise<string>;
  message(): Promise<string>;
}
type InputPromptClass = new (options: Record<string, unknown>) => InputPrompt;

/** enquirer Input prompts in the device's wording: "Keep ssh keys [YES/NO]? yes". */
async function terminalAsk(io: Io): Promise<Ask> {
  const enquirer = (await import('enquirer')).default as unknown as { Input: InputPromptClass };
  const { parseYesNo, promptText } = await import('../device/reset.js');
  return async (question) => {
    // A fresh prompt for every try: enquirer's own validate would keep the wrong text
    // in the line, and the device asks the question again instead.
    for (;;) {
      const prompt = new enquirer.Input({ name: 'answer', message: promptText(question), stdin: io.stdin, stdout: io.stdout });
      // The device's line, not enquirer's "? … ›": no prefix symbol, separator or bold.
      prompt.prefix = async () => '';
      prompt.separator = async () => '';
      prompt.message = async () => promptText(question);
      let text: string;
      try {
        text = await prompt.run();
      } catch {
        throw cancelled();
      }
      const answer = parseYesNo(text);
      if (answer !== undefined) return answer;
      io.stdout.write('Please answer YES or NO.\n');
    }
  };
}

registerSubcommands((program, getCtx) => {
  defineOptions(program.command('factory-reset')).action(async (flags: ResetFlags) => {
    const ctx = getCtx();
    const { io } = ctx;
    const req = toRequest(flags);
    const ask = io.stdin.isTTY === true ? await terminalAsk(io) : undefined;
    try {
      const outcome = await runFactoryReset(ctx.device(), req, (s) => io.stdout.write(s), ask, 'questions when stdin is not a terminal');
      const { outcomeLines } = await import('../device/reset.js');
      io.stdout.write(`${outcomeLines(outcome).join('\n')}\n`);
    } catch (e) {
      if (isExshError(e) && e.code === 'reset.cancelled') io.stdout.write('\n');
      throw e;
    }
  });
});

/**
 * A session whose front end can ask a question (the REPL, with readline's question();
 * undefined means Ctrl+C). Batch, -c, run and tsh sessions cannot.
 */
type PromptingSession = Session & { ask?: (prompt: string) => Promise<string | undefined> };

/**
 * The verb in the device shell (installed by src/device/reset.ts, so `exsh cssm` and
 * friends never load the session code). A session has no prompt of its own (the
 * REPL's readline owns the terminal), so the answers come from the flags unless the session offers `ask`.
 */
export async function shellVerb(session: Session, args: string[]): Promise<string> {
  const { render } = await import('../xapi/render.js');
  let captured = '';
  let flags: ResetFlags | undefined;
  const cmd = defineOptions(new Command('factory-reset'))
    .exitOverride()
    .configureOutput({ writeOut: (s) => (captured += s), writeErr: (s) => (captured += s) })
    .action((f: ResetFlags) => {
      flags = f;
    });
  const fail = (code: string, message: string) => {
    session.failures++;
    return session.errorOutput(code, message);
  };
  try {
    await cmd.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') {
        return render(session.mode, { kind: 'help', lines: captured.trimEnd().split('\n') }, undefined, session.style);
      }
      // commander puts "(Did you mean --keep?)" on a line of its own; a Reason is one line.
      return fail('reset.usage', e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
    }
    throw e;
  }
  if (!flags) return fail('reset.usage', 'factory-reset: nothing to do.');
  let text = '';
  const prompt = (session as PromptingSession).ask;
  const { parseYesNo, promptText } = await import('../device/reset.js');
  // What was printed so far goes out with the question, so the banner comes first.
  const ask: Ask | undefined = prompt
    ? async (question) => {
        for (;;) {
          const answer = await prompt(`${text}${promptText(question)} `);
          text = '';
          if (answer === undefined) throw cancelled();
          const yes = parseYesNo(answer);
          if (yes !== undefined) return yes;
          text = 'Please answer YES or NO.\n';
        }
      }
    : undefined;
  try {
    const outcome = await runFactoryReset(session.device, toRequest(flags), (s) => (text += s), ask, 'questions inside the exsh shell');
    const { outcomeLines } = await import('../device/reset.js');
    const lines = [...(text === '' ? [] : text.replace(/\n$/, '').split('\n')), ...outcomeLines(outcome)];
    return render(
      session.mode,
      {
        kind: 'result',
        name: 'FactoryResetResult',
        status: 'OK',
        text: lines,
        fields: { Kept: outcome.kept.join(','), Product: outcome.product, SmartLicensingOffline: outcome.offline ? 'True' : 'False' },
      },
      undefined,
      session.style,
    );
  } catch (e) {
    if (isExshError(e) && e.exitCode !== 3) return fail(e.code, e.message);
    throw e;
  }
}

