import { afterEach, describe, expect, it } from 'vitest';
import type { Session } from '../../src/shell/session.js';
import { cleanHomes, testDevice } from '../device/helpers.js';

/** The factory-reset verb in a session whose front end can ask (the REPL's prompter). */

afterEach(cleanHomes);

/** Answers the session's questions in turn, recording each as [preamble, question]. */
function withAsk(session: Session, answers: Array<string | undefined>): Array<[string, string]> {
  const prompts: Array<[string, string]> = [];
  session.prompter = {
    ask: async (preamble, question) => {
      prompts.push([preamble, question]);
      return answers.shift();
    },
  };
  return prompts;
}

describe('factory-reset in an interactive session', () => {
  it('asks through the session, banner first, re-asking a bad answer', async () => {
    const d = await testDevice();
    const prompts = withAsk(d.session, ['maybe', 'yes', 'YES']);
    const out = await d.run('factory-reset -v');
    expect(prompts).toEqual([
      [
        '*****\nWarning! This operation resets the unit to factory default settings!\n*****\n\nTo cancel operation before final confirmation press Ctrl+C\n',
        'Keep brand and type of the device [YES/NO]? ',
      ],
      ['Please answer YES or NO.\n', 'Keep brand and type of the device [YES/NO]? '],
      ['\n', 'Are you sure you want to continue [YES/NO]? '],
    ]);
    // Only -v's question is asked; every other category was not asked about, so it is kept.
    expect(out).toBe(
      [
        'Factory reset done: kept brand and type, smart licensing settings, FIPS 140 configuration, IP configuration, dedicated management interface configuration, ssh keys, server certificate, associated key and CA trust store, root and admin passwords, log files; everything else was returned to factory default settings.',
        'The system restarted as Cisco Expressway-C.',
        'Smart Licensing is offline until the DNS domain is configured (alarms 30042 and 30044: Smart Licensing registration is not working; Smart Licensing authorization is not working).',
        '',
        'OK',
        '',
      ].join('\n'),
    );
    expect((await d.state()).lastReset).toMatchObject({ count: 1 });
  });

  it('Ctrl+C (no answer) cancels with nothing changed', async () => {
    const d = await testDevice();
    withAsk(d.session, ['no', undefined]);
    const before = await d.stored();
    expect(await d.run('factory-reset -v')).toContain('Code: "reset.cancelled"');
    expect(await d.stored()).toBe(before);
    expect(d.session.failures).toBe(1);
  });

  it('without a way to ask, the answers must be flags', async () => {
    const d = await testDevice();
    expect(await d.run('factory-reset -t --yes')).toContain('Code: "reset.missingAnswer"');
    expect(await d.run('factory-reset --help')).toContain('--discard <list>');
  });
});
