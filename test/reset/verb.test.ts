import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/shell/session.js';
import { cleanHomes, testDevice } from '../device/helpers.js';

/** The factory-reset verb in a session whose front end can ask (the REPL's hook). */

afterEach(cleanHomes);

function withAsk(session: Session, answers: Array<string | undefined>): string[] {
  const prompts: string[] = [];
  Object.assign(session, {
    ask: async (prompt: string) => {
      prompts.push(prompt);
      return answers.shift();
    },
  });
  return prompts;
}

describe('factory-reset in an interactive session', () => {
  it('asks through the session, banner first, re-asking a bad answer', async () => {
    const d = testDevice();
    const prompts = withAsk(d.session, ['maybe', 'yes', 'YES']);
    const out = await d.run('factory-reset -v');
    expect(prompts).toEqual([
      '*****\nWarning! This operation resets the unit to factory default settings!\n*****\n\nTo cancel operation before final confirmation press Ctrl+C\nKeep brand and type of the device [YES/NO]? ',
      'Please answer YES or NO.\nKeep brand and type of the device [YES/NO]? ',
      '\nAre you sure you want to continue [YES/NO]? ',
    ]);
    expect(out).toBe('Factory reset done: kept brand and type; everything else was returned to factory default settings.\nThe system restarted as Cisco Expressway-C.\n\nOK\n');
    expect(d.state().lastReset).toMatchObject({ count: 1 });
  });

  it('Ctrl+C (no answer) cancels with nothing changed', async () => {
    const d = testDevice();
    withAsk(d.session, ['no', undefined]);
    const before = d.stored();
    expect(await d.run('factory-reset -v')).toContain('Code: "reset.cancelled"');
    expect(d.stored()).toBe(before);
    expect(d.session.failures).toBe(1);
  });

  it('without a way to ask, the answers must be flags', async () => {
    const d = testDevice();
    expect(await d.run('factory-reset -t --yes')).toContain('Code: "reset.missingAnswer"');
    expect(await d.run('factory-reset --help')).toContain('--discard <list>');
  });
});
