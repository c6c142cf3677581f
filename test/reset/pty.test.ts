import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, tempHome } from '../helpers/exsh.js';
import { Terminal } from '../helpers/pty.js';

/** factory-reset on a real terminal: enquirer asks the seed's questions; Ctrl+C changes nothing. */

afterEach(cleanHomes);

async function status(home: string, line: string): Promise<string> {
  return (await runExsh(['--home', home, '--now', NOW, '-c', line], { input: '' })).stdout;
}

describe('factory-reset under a PTY', () => {
  it('asks the nine questions in the seed order, re-asks a bad answer, and resets on YES', async () => {
    const home = tempHome();
    await runExsh(
      ['--home', home, '--now', NOW, '-c', 'xconfiguration IP DNS Domain Name: example.com', '-c', 'xconfiguration License Smart Transport Mode: Proxy'],
      { input: '' },
    );
    const t = new Terminal(['--home', home, '--now', NOW, 'factory-reset']);
    const answers: Array<[string, string]> = [
      ['Keep brand and type of the device [YES/NO]?', 'yes'],
      ['Keep smart licensing settings [YES/NO]?', 'no'],
      ['Keep FIPS 140 configuration [YES/NO]?', 'no'],
      ['Keep IP configuration [YES/NO]?', 'YES'],
      ['Keep dedicated management interface configuration [YES/NO]?', 'yes'],
      ['Keep ssh keys [YES/NO]?', 'yes'],
      ['Keep server certificate, associated key and CA trust store [YES/NO]?', 'yes'],
      ['Keep root and admin passwords [YES/NO]?', 'yes'],
      ['Save log files [YES/NO]?', 'yes'],
    ];
    await t.waitFor('To cancel operation before final confirmation press Ctrl+C');
    expect(t.text.startsWith('*****\r\nWarning! This operation resets the unit to factory default settings!\r\n*****\r\n')).toBe(true);
    // A bad answer is refused and the same question is asked again, on a clean line.
    await t.waitFor(answers[0]![0]);
    t.type('maybe\r');
    await t.waitFor('Please answer YES or NO.');
    await t.waitFor(answers[0]![0], 2);
    for (const [question, answer] of answers) {
      await t.waitFor(question);
      t.type(`${answer}\r`);
      await t.waitFor(`${question} ${answer}\r\n`);
    }
    await t.waitFor('Are you sure you want to continue [YES/NO]?');
    // Nothing is written before the final YES.
    expect(await status(home, 'xstatus FactoryReset Count')).toContain('Count: 0');
    t.type('yes\r');
    expect((await t.exit).exitCode).toBe(0);
    expect(t.text).toContain(
      'Factory reset done: kept brand and type, IP configuration, dedicated management interface configuration, ssh keys, server certificate, associated key and CA trust store, root and admin passwords, log files; everything else was returned to factory default settings.\r\nThe system restarted as Cisco Expressway-C.\r\n',
    );
    // The question lines follow the seed's order.
    const order = answers.map(([q]) => t.text.lastIndexOf(q));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(await status(home, 'xconfiguration License Smart Transport Mode')).toBe('*c xConfiguration License Smart Transport Mode: Direct\n\nOK\n');
    expect(await status(home, 'xconfiguration IP DNS Domain Name')).toBe('*c xConfiguration IP DNS Domain Name: "example.com"\n\nOK\n');
    expect(await status(home, 'xstatus FactoryReset Fips')).toContain('Fips: "Reset"');
  });

  it('Ctrl+C before the final confirmation cancels with nothing changed', async () => {
    const home = tempHome();
    await runExsh(['--home', home, '--now', NOW, '-c', 'xconfiguration License Smart Transport Mode: Proxy'], { input: '' });
    const t = new Terminal(['--home', home, '--now', NOW, 'factory-reset', '-v', '-t']);
    await t.waitFor('Keep brand and type of the device [YES/NO]?');
    t.type('no\r');
    await t.waitFor('Keep smart licensing settings [YES/NO]?');
    t.type('no\r');
    await t.waitFor('Are you sure you want to continue [YES/NO]?');
    t.type('\x03');
    expect((await t.exit).exitCode).toBe(1);
    expect(t.text).toContain('Factory reset cancelled; nothing was changed. [reset.cancelled]');
    expect(await status(home, 'xconfiguration License Smart Transport Mode')).toBe('*c xConfiguration License Smart Transport Mode: Proxy\n\nOK\n');
    expect(await status(home, 'xstatus SystemUnit Product')).toContain('"Cisco Expressway-C"');
  });
});
