import type { Command } from 'commander';
import { ExshError } from '../errors.js';
import type { Device } from './device.js';
import {
  applyFactoryReset,
  BANNER,
  FINAL_QUESTION,
  missingAnswers,
  missingAnswersError,
  parseYesNo,
  planReset,
  promptText,
  type ResetOutcome,
  type ResetRequest,
} from './reset.js';

/**
 * The factory-reset flow (§8.1), one for `exsh factory-reset` and for the verb typed in
 * the device shell: plan from the flags, print the banner and the questions, ask what
 * is unanswered through the front end's prompter (never on a pipe), then one state
 * change. The options are declared here once, for both.
 */

const NAMES = 'brand-type, smart-licensing, fips, ip, management, ssh-keys, certificates, passwords, logs, or all';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Declares factory-reset's options on a commander command (the CLI's, or the shell verb's). */
export function defineResetOptions(cmd: Command): Command {
  return cmd
    .description("reset the device to factory default settings, asking what to keep (Expressway's root-shell factory-reset)")
    .option('-v', 'ask only whether to keep the brand and type of the device (Expressway only)')
    .option('-t', 'ask only whether to keep the smart licensing settings (Expressway only)')
    .option('-o', 'keep option keys (Cisco VCS only: removed from Expressway in X14.2, refused there)')
    .option('-y, --yes', 'answer YES to "Are you sure you want to continue"')
    .option('--keep <list>', `answer YES for these (comma-separated: ${NAMES})`, collect)
    .option('--discard <list>', 'answer NO for these (same names)', collect)
    .addHelpText(
      'after',
      `
Without -v or -t every question is asked, in the device's order. With them only the
flagged questions (and any named in --keep/--discard) are asked, and every category
not asked about is kept. A Cisco VCS is asked neither -v's nor -t's question.
With stdin not a terminal, every question must be answered by --keep/--discard and
--yes; a missing answer is a usage error (exit 2). Ctrl+C before the final
confirmation changes nothing. An Expressway never keeps its option keys.`,
    );
}

export interface ResetFlags {
  v?: boolean;
  t?: boolean;
  o?: boolean;
  yes?: boolean;
  keep?: string[];
  discard?: string[];
}

export function toResetRequest(f: ResetFlags): ResetRequest {
  return { brandType: f.v, smartLicensing: f.t, optionKeys: f.o, yes: f.yes, keep: f.keep, discard: f.discard };
}

/**
 * How a front end asks the operator: it shows `preamble` (what the flow printed since
 * the last question), then `question` as the device words it ("Keep ssh keys
 * [YES/NO]? "), and resolves to the typed answer, or undefined on Ctrl+C.
 */
export interface Prompter {
  ask(preamble: string, question: string): Promise<string | undefined>;
}

export function cancelled(): ExshError {
  return new ExshError('reset.cancelled', 'Factory reset cancelled; nothing was changed.');
}

export interface ResetRun {
  /** What was printed after the last question (answered questions, blank lines), not shown yet. */
  text: string;
  outcome: ResetOutcome;
}

/**
 * Runs the whole flow. Without a prompter every answer must come from the flags
 * (`why` says why nobody can be asked). Nothing is held locked while a question waits.
 */
export async function runFactoryReset(device: Device, req: ResetRequest, prompter: Prompter | undefined, why: string): Promise<ResetRun> {
  const plan = planReset((await device.read()).brand, req);
  if (!prompter && missingAnswers(plan).length > 0) throw missingAnswersError(plan, why);
  let text = `${BANNER.join('\n')}\n`;
  const ask = async (question: string): Promise<boolean> => {
    // A question can wait for minutes: nothing of a burst stays locked meanwhile.
    device.flush();
    for (;;) {
      const answer = await (prompter as Prompter).ask(text, `${promptText(question)} `);
      text = '';
      if (answer === undefined) throw cancelled();
      const yes = parseYesNo(answer);
      if (yes !== undefined) return yes;
      text = 'Please answer YES or NO.\n';
    }
  };
  const answers: Record<string, boolean> = {};
  for (const step of plan.steps) {
    // The device prints the questions it asks; one not asked about is kept, silently
    // (the closing line lists everything kept).
    if (step.implied) {
      answers[step.item.name] = true;
    } else if (step.answer !== undefined) {
      answers[step.item.name] = step.answer;
      text += `${promptText(step.item.question)} ${step.answer ? 'yes' : 'no'}\n`;
    } else {
      answers[step.item.name] = await ask(step.item.question);
    }
  }
  text += '\n';
  if (plan.confirmed) text += `${promptText(FINAL_QUESTION)} yes\n`;
  else if (!(await ask(FINAL_QUESTION))) throw cancelled();
  const { result } = await device.change((ctx) => {
    // The questions were planned for the brand read before asking; another process may have switched it since.
    if (ctx.state.brand !== plan.brand) {
      throw new ExshError('reset.brandChanged', 'The system changed brand while the questions were asked; nothing was changed: run factory-reset again.');
    }
    return applyFactoryReset(ctx, device.model, answers, { keepOptionKeys: plan.keepOptionKeys });
  });
  return { text, outcome: result };
}
