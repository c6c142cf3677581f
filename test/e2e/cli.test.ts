import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/** Black-box tests of the built `exsh`: modes, exit statuses, framing (§1, §2.3). */

const BIN = fileURLToPath(new URL('../../bin/exsh.cjs', import.meta.url));
const homes: string[] = [];
function home(): string {
  const h = mkdtempSync(join(tmpdir(), 'exsh-cli-'));
  homes.push(h);
  return h;
}
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const NOW = '2026-03-01T10:00:00Z';

async function exsh(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [BIN, ...args], {
    input: opts.input ?? '',
    env: { NO_COLOR: '1', ...opts.env },
    reject: false,
  });
}

describe('one-shot -c', () => {
  it('prints the SystemUnit status and exits 0', async () => {
    const h = home();
    const r = await exsh(['--home', h, '--now', NOW, '--seed', '7', '-c', 'xStatus SystemUnit']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(
      /^\*s SystemUnit: \/\n {4}Name: ""\n {4}Product: "Cisco Expressway-C"\n {4}ExpresswaySeries: "True"\n {4}Software:\n {6}Version: "X14\.2\.\d+"\n {4}Hardware:\n {6}SerialNumber: "[0-9A-F]{8}"\n {4}UDI:\n {6}ProductId: "Expressway"\n {6}SerialNumber: "[0-9A-F]{8}"\n {6}VersionId: "1\.0"\n {6}HostIdentifier: "[0-9a-f]{8}"\n {4}Uptime: 0\n {4}Time: "2026-03-01T10:00:00Z"\n\*s\/end\n\nOK$/,
    );
  });

  it('the same seed gives the same identity in a fresh home', async () => {
    const a = await exsh(['--home', home(), '--seed', '42', '-c', 'xStatus SystemUnit UDI']);
    const b = await exsh(['--home', home(), '--seed', '42', '-c', 'xStatus SystemUnit UDI']);
    const c = await exsh(['--home', home(), '--seed', '43', '-c', 'xStatus SystemUnit UDI']);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).not.toBe(c.stdout);
  });

  it('runs several lines in order and exits 1 when one fails', async () => {
    const h = home();
    const r = await exsh(['--home', h, '-c', 'xConfiguration SystemUnit Name: "lab-1"', '-c', 'xfoo', '-c', 'xConfiguration SystemUnit Name']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('\nOK\nCommand not recognized.\n*c xConfiguration SystemUnit Name: "lab-1"\n\nOK');
  });

  it('a -c line never takes the next one as its body', async () => {
    const r = await exsh(['--home', home(), '-c', 'xCommand Simulator Clock Set', '-c', 'xStatus SystemUnit Name']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe(
      '*? xCommand Simulator Clock Set  (simulator control, not part of Expressway)\n    Time(r): <S: 1, 64>\n\nERROR\n*s SystemUnit: /\n    Name: ""\n*s/end\n\nOK',
    );
  });

  it('keeps a setting for the next process', async () => {
    const h = home();
    expect((await exsh(['--home', h, '-c', 'xConfiguration SystemUnit Name: "lab-1"'])).exitCode).toBe(0);
    const tsh = await exsh(['--home', h, 'tsh'], { input: 'bye\n' });
    expect(tsh.stdout).toBe('Welcome to lab-1\nCisco Expressway X14.2.7\n*r Login successful\n\nOK\n');
  });

  it('JSON output mode from the start', async () => {
    const r = await exsh(['--home', home(), '--output', 'json', '-c', 'xConfiguration SystemUnit Name | resultId="1"']);
    expect(r.stdout).toBe('{\n"Configuration":{"SystemUnit":{"Name":{"Value":""}}},\n"ResultId":"1"\n}');
  });
});

describe('batch from stdin', () => {
  const script = [
    '# a comment',
    'xConfiguration SystemUnit Name: "a"',
    'xConfiguration License Smart Transport Mode: Maybe',
    '',
    'xConfiguration SystemUnit Name: "b"',
    'xConfiguration SystemUnit Name',
  ].join('\n');

  it('continues after an error and exits 1', async () => {
    const h = home();
    const r = await exsh(['--home', h], { input: `${script}\n` });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe(
      [
        '',
        'OK',
        '*r Result (status=Error):',
        `    Reason: "Invalid value 'Maybe' for License Smart Transport Mode: expected one of Direct, OnPrem or Proxy."`,
        '    Code: "xapi.badValue"',
        '*r/end',
        '',
        'ERROR',
        '',
        'OK',
        '*c xConfiguration SystemUnit Name: "b"',
        '',
        'OK',
      ].join('\n'),
    );
  });

  it('--fail-fast stops at the first error', async () => {
    const h = home();
    const r = await exsh(['--home', h, '--fail-fast'], { input: `${script}\n` });
    expect(r.exitCode).toBe(1);
    expect(r.stdout.endsWith('ERROR')).toBe(true);
    const after = await exsh(['--home', h, '-c', 'xConfiguration SystemUnit Name']);
    expect(after.stdout).toContain('Name: "a"');
  });

  it('exits 0 when every line succeeds, and stops at bye', async () => {
    const r = await exsh(['--home', home()], { input: 'xStatus SystemUnit Name\nbye\nxfoo\n' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('*s SystemUnit: /\n    Name: ""\n*s/end\n\nOK');
  });

  it('takes a dot-terminated body and a {N} byte-counted frame', async () => {
    const h = home();
    // What matters is that each body is consumed as one request (the pasted-code tests
    // in test/reservation check that a wrapped code installs).
    const counted = 'xCommand License Smart Reservation ReturnAuthorization | resultId="b"\n<specificPLR>\n</specificPLR>\n';
    const input = `xConfiguration License Smart ReservationEnable: On\nxCommand License Smart Reservation Install\nCAVfS8-tqmsHn-\nntioqo\n.\n{${Buffer.byteLength(counted)}} \n${counted}xStatus SystemUnit Name\n`;
    const r = await exsh(['--home', h, '--now', NOW], { input });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /^\nOK\n\*r LicenseSmartReservationInstallResult \(status=Error\):\n {4}Reason: "[^"]*"\n {4}Code: "reservation\.noRequest"\n\*r\/end\n\nERROR\n\*r LicenseSmartReservationReturnAuthorizationResult \(status=Error\):\n {4}Reason: "[^"]*"\n {4}Code: "reservation\.parse"\n\*r\/end\n\n\*\* resultId: "b"\nERROR\n\*s SystemUnit: \/\n {4}Name: ""\n\*s\/end\n\nOK$/,
    );
  });

  it('a command whose parameter is no code prints its usage instead of waiting for a body', async () => {
    const r = await exsh(['--home', home()], { input: 'xCommand Simulator Clock Set\nxStatus SystemUnit Name\n' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('    Time(r): <S: 1, 64>\n\nERROR\n*s SystemUnit: /');
  });

  it('an unterminated body is an error, not a hang', async () => {
    const r = await exsh(['--home', home()], { input: 'xCommand License Smart Reservation Install\n<specificPLR>\n' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("The multi-line body was not ended by a line with only '.'");
  });
});

describe('run <file>', () => {
  it('runs a script and reports failure in the exit status', async () => {
    const h = home();
    const file = join(h, 'script.txt');
    writeFileSync(file, 'xConfiguration SystemUnit Name: "s"\nxCommand Simulator Clock Advance Minutes: 99\n');
    const r = await exsh(['--home', h, 'run', file]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('*r SimulatorClockAdvanceResult (status=ParameterError):');
  });

  it('reads stdin with -', async () => {
    const r = await exsh(['--home', home(), 'run', '-'], { input: 'xStatus SystemUnit Product\n' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Product: "Cisco Expressway-C"');
  });

  it('a missing script is a usage error', async () => {
    const r = await exsh(['--home', home(), 'run', 'no-such-file.txt']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe('exsh: Cannot read script no-such-file.txt: no such file. [cli.badScript]');
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['--bogus'], "exsh: unknown option '--bogus'. [commander.unknownOption]"],
    [
      ['--output', 'yaml', '-c', 'xStatus'],
      "exsh: option '--output <mode>' argument 'yaml' is invalid. Allowed choices are terminal, json, xml. [commander.invalidArgument]",
    ],
    [
      ['cssmm'],
      "exsh: Unknown command 'cssmm'; the commands are run, tsh, devices, cluster, cssm, serve, trust, factory-reset, backup. Did you mean 'cssm'? [cli.unknownCommand]",
    ],
    [['backup'], 'Usage: exsh backup [options] [command]'],
    [['--now', 'yesterday', '-c', 'xStatus'], "exsh: Invalid --now 'yesterday': expected an ISO 8601 time such as 2026-03-01T10:15:00Z. [cli.badNow]"],
    [['--device', '../x', '-c', 'xStatus'], "exsh: Invalid device name '../x'"],
  ])('%j', async (args, message) => {
    const r = await exsh(['--home', home(), ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('tsh', () => {
  it('is a login session: banner, echo off reply, JSON mode, end of input', async () => {
    const r = await exsh(['--home', home(), '--now', NOW, 'tsh', '--port', '4000'], {
      input: 'echo off\nxpreferences outputmode json\nxStatus SystemUnit Product | resultId="1"\nxfoo\n',
    });
    expect(r.stdout).toBe(
      'Welcome to expressway\nCisco Expressway X14.2.7\n*r Login successful\n\nOK\n\n\nOK\n{\n"Status":{"SystemUnit":{"Product":{"Value":"Cisco Expressway-C"}}},\n"ResultId":"1"\n}\nCommand not recognized.',
    );
    expect(r.stdout).not.toContain('\r');
  });

  it('echo on repeats each request line', async () => {
    const r = await exsh(['--home', home(), 'tsh'], { input: 'echo on\nxStatus SystemUnit Product\n' });
    expect(r.stdout).toContain('\nOK\nxStatus SystemUnit Product\n*s SystemUnit: /');
  });
});

describe('devices', () => {
  it('create, list, remove', async () => {
    const h = home();
    const c = await exsh(['--home', h, '--seed', '1', 'devices', 'create', 'vcs1', '--brand', 'VCS']);
    expect(c.exitCode).toBe(0);
    expect(c.stdout).toMatch(/^Created device 'vcs1': Cisco TelePresence VCS, UDI P:Expressway,S:[0-9A-F]{8},V:1\.0,H:[0-9a-f]{8}\.$/);
    expect((await exsh(['--home', h, 'devices', 'create', 'vcs1'])).exitCode).toBe(1);
    const typed = await exsh(['--home', h, 'devices', 'create', 'vcs2', '--brand', 'VCS', '--type', 'ExpresswayE']);
    expect([typed.exitCode, typed.stderr]).toEqual([
      2,
      'exsh: A Cisco VCS has no Expressway type: leave out --type, or use --brand Expressway. [device.typeNotForVcs]',
    ]);
    expect((await exsh(['--home', h, 'devices', 'create', 'e1', '--type', 'ExpresswayE'])).exitCode).toBe(0);
    expect((await exsh(['--home', h, '--device', 'e1', '-c', 'xStatus SystemUnit Product'])).stdout).toContain('Product: "Cisco Expressway-E"');
    const l = await exsh(['--home', h, 'devices', 'list', '--json']);
    expect(JSON.parse(l.stdout)).toEqual([
      expect.objectContaining({ name: 'e1', product: 'Cisco Expressway-E' }),
      expect.objectContaining({ name: 'vcs1', product: 'Cisco TelePresence VCS' }),
    ]);
    const p = await exsh(['--home', h, '--device', 'vcs1', '-c', 'xStatus SystemUnit ExpresswaySeries']);
    expect(p.stdout).toContain('ExpresswaySeries: "False"');
    expect((await exsh(['--home', h, 'devices', 'remove', 'vcs1'])).stdout).toBe("Removed device 'vcs1'.");
    const r2 = await exsh(['--home', h, 'devices', 'remove', 'vcs1']);
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr).toContain('[device.notFound]');
  });
});
