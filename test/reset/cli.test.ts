import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, EXSH_BIN, NOW, REPO_ROOT, runExsh, tempHome } from '../helpers/exsh.js';

/** `exsh factory-reset` end to end (§8.1), stdin a pipe: flags answer everything or exit 2. */

afterEach(cleanHomes);

const BANNER = [
  '*****',
  'Warning! This operation resets the unit to factory default settings!',
  '*****',
  '',
  'To cancel operation before final confirmation press Ctrl+C',
];

function exsh(home: string, ...args: string[]) {
  return runExsh(['--home', home, '--now', NOW, ...args], { input: '' });
}

async function stateOf(home: string): Promise<Record<string, unknown>> {
  const r = await runExsh(['--home', home, '--now', NOW, '--output', 'json', '-c', 'xstatus SystemUnit', '-c', 'xstatus FactoryReset', '-c', 'xstatus Alarm'], {
    input: '',
  });
  expect(r.exitCode).toBe(0);
  return Object.assign(
    {},
    ...r.stdout
      .trim()
      .split(/\n(?=\{)/)
      .map((t) => (JSON.parse(t) as { Status: object }).Status),
  );
}

async function configured(home: string): Promise<void> {
  const r = await exsh(home, '-c', 'xconfiguration License Smart Transport Mode: Proxy', '-c', 'xconfiguration IP DNS Domain Name: example.com');
  expect(r.exitCode).toBe(0);
}

describe('exsh factory-reset with flags', () => {
  it('-t --keep smart-licensing --yes asks nothing, prints the question it would ask, and keeps everything not asked about', async () => {
    const home = tempHome();
    await configured(home);
    const r = await exsh(home, 'factory-reset', '-t', '--keep', 'smart-licensing', '--yes');
    expect(r).toEqual({
      exitCode: 0,
      stderr: '',
      stdout: [
        ...BANNER,
        'Keep smart licensing settings [YES/NO]? yes',
        '',
        'Are you sure you want to continue [YES/NO]? yes',
        'Factory reset done: kept brand and type, smart licensing settings, FIPS 140 configuration, IP configuration, dedicated management interface configuration, ssh keys, server certificate, associated key and CA trust store, root and admin passwords, log files; everything else was returned to factory default settings.',
        'The system restarted as Cisco Expressway-C.',
        '',
      ].join('\n'),
    });
    const s = await stateOf(home);
    // Brand and type were not asked about, so they were kept: still an Expressway, smart licensing kept, the domain too.
    expect(s).toMatchObject({
      SystemUnit: { Product: { Value: 'Cisco Expressway-C' } },
      FactoryReset: { Count: { Value: '1' }, BrandAndType: { Value: 'Kept' }, SmartLicensing: { Value: 'Kept' }, IP: { Value: 'Kept' } },
    });
    expect((await exsh(home, '-c', 'xconfiguration License Smart Transport Mode')).stdout).toBe(
      '*c xConfiguration License Smart Transport Mode: Proxy\n\nOK\n',
    );
  });

  it('-t --discard smart-licensing --yes: still an Expressway, transport back to Direct', async () => {
    const home = tempHome();
    await configured(home);
    const r = await exsh(home, 'factory-reset', '-t', '--discard', 'smart-licensing', '--yes');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Keep smart licensing settings [YES/NO]? no\n');
    expect(r.stdout).not.toContain('Keep brand and type');
    const c = await exsh(home, '-c', 'xconfiguration License Smart Transport Mode', '-c', 'xstatus SystemUnit Product');
    expect(c.stdout).toBe('*c xConfiguration License Smart Transport Mode: Direct\n\nOK\n*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n');
  });

  it('-v -t keeping both: an Expressway offline with alarms 30042 and 30044 until the DNS domain is set', async () => {
    const home = tempHome();
    await configured(home);
    // The IP configuration (with its domain) would be kept unasked: discarding it leaves the domain unset.
    const r = await exsh(home, 'factory-reset', '-v', '-t', '--keep', 'brand-type,smart-licensing', '--discard', 'ip', '-y');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      [
        ...BANNER,
        'Keep brand and type of the device [YES/NO]? yes',
        'Keep smart licensing settings [YES/NO]? yes',
        'Keep IP configuration [YES/NO]? no',
        '',
        'Are you sure you want to continue [YES/NO]? yes',
        'Factory reset done: kept brand and type, smart licensing settings, FIPS 140 configuration, dedicated management interface configuration, ssh keys, server certificate, associated key and CA trust store, root and admin passwords, log files; everything else was returned to factory default settings.',
        'The system restarted as Cisco Expressway-C.',
        'Smart Licensing is offline until the DNS domain is configured (alarms 30042 and 30044: Smart Licensing registration is not working; Smart Licensing authorization is not working).',
        '',
      ].join('\n'),
    );
    const after = await exsh(
      home,
      '-c',
      'xconfiguration License Smart Transport Mode',
      '-c',
      'xstatus Alarm 1 Id',
      '-c',
      'xstatus Alarm 2 Id',
      '-c',
      'xconfiguration IP DNS Domain Name: example.com',
      '-c',
      'xstatus Alarm',
    );
    expect(after.stdout).toBe(
      [
        '*c xConfiguration License Smart Transport Mode: Proxy',
        '',
        'OK',
        '*s Alarm 1: /',
        '    Id: 30042',
        '*s/end',
        '',
        'OK',
        '*s Alarm 2: /',
        '    Id: 30044',
        '*s/end',
        '',
        'OK',
        '',
        'OK',
        '',
        'OK',
        '',
      ].join('\n'),
    );
  });

  it('--keep all --discard ip --yes: the nine questions answered in the seed order; IP back to defaults', async () => {
    const home = tempHome();
    await configured(home);
    const r = await exsh(home, 'factory-reset', '--keep', 'all', '--discard', 'ip', '--yes');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n').slice(5, 16)).toEqual([
      'Keep brand and type of the device [YES/NO]? yes',
      'Keep smart licensing settings [YES/NO]? yes',
      'Keep FIPS 140 configuration [YES/NO]? yes',
      'Keep IP configuration [YES/NO]? no',
      'Keep dedicated management interface configuration [YES/NO]? yes',
      'Keep ssh keys [YES/NO]? yes',
      'Keep server certificate, associated key and CA trust store [YES/NO]? yes',
      'Keep root and admin passwords [YES/NO]? yes',
      'Save log files [YES/NO]? yes',
      '',
      'Are you sure you want to continue [YES/NO]? yes',
    ]);
    const s = await stateOf(home);
    expect(s).toMatchObject({
      SystemUnit: { Product: { Value: 'Cisco Expressway-C' } },
      FactoryReset: { IP: { Value: 'Reset' }, Fips: { Value: 'Kept' }, LogFiles: { Value: 'Saved' }, SmartLicensingOffline: { Value: 'True' } },
    });
  });

  it('--discard all --yes: a Cisco VCS with everything at defaults', async () => {
    const home = tempHome();
    await configured(home);
    const r = await exsh(home, 'factory-reset', '--discard', 'all', '--yes');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Keep IP configuration [YES/NO]? no\n');
    const c = await exsh(home, '-c', 'xconfiguration IP DNS Domain Name', '-c', 'xstatus SystemUnit Product');
    expect(c.stdout).toBe('*c xConfiguration IP DNS Domain Name: ""\n\nOK\n*s SystemUnit: /\n    Product: "Cisco TelePresence VCS"\n*s/end\n\nOK\n');
  });

  it('a Cisco VCS: the reset of earlier releases (no brand/type nor smart licensing question); -v and -t are refused', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, 'devices', 'create', 'vcs', '--brand', 'VCS'])).exitCode).toBe(0);
    const r = await exsh(home, '--device', 'vcs', 'factory-reset', '--keep', 'all', '--yes');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).not.toContain('smart licensing');
    expect(r.stdout).not.toContain('brand and type');
    expect(r.stdout.match(/\[YES\/NO\]\?/g)).toHaveLength(8);
    expect(r.stdout).toContain('The system restarted as Cisco TelePresence VCS.\n');
    const t = await exsh(home, '--device', 'vcs', 'factory-reset', '-t', '--yes');
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain('[reset.noSmartLicensingOnVcs]');
    const v = await exsh(home, '--device', 'vcs', 'factory-reset', '-v', '--yes');
    expect(v.exitCode).toBe(2);
    expect(v.stderr).toContain('[reset.noBrandTypeOnVcs]');
  });

  it('a Cisco VCS: -o keeps its option keys; without -o they are lost', async () => {
    const home = tempHome();
    expect((await runExsh(['--home', home, 'devices', 'create', 'vcs', '--brand', 'VCS'])).exitCode).toBe(0);
    expect((await exsh(home, '--device', 'vcs', '-c', 'xcommand OptionKey Add Key: 116341T00-1-AB12CD34')).exitCode).toBe(0);
    const o = await exsh(home, '--device', 'vcs', 'factory-reset', '-o', '--discard', 'all', '--yes');
    expect(o.exitCode).toBe(0);
    expect(o.stdout).toContain('Factory reset done: kept option keys; everything else was returned to factory default settings.\n');
    expect((await exsh(home, '--device', 'vcs', '-c', 'xstatus OptionKey 1 Key')).stdout).toContain('Key: "116341T00-1-AB12CD34"');
    expect((await exsh(home, '--device', 'vcs', 'factory-reset', '--discard', 'all', '--yes')).exitCode).toBe(0);
    expect((await exsh(home, '--device', 'vcs', '-c', 'xstatus OptionKey')).stdout).toBe('\nOK\n');
  });
});

describe('exsh factory-reset refusals (exit 2, nothing changed)', () => {
  it.each<[string, string[], string]>([
    [
      '-o, removed in X14.2',
      ['-o'],
      'exsh: The -o flag (keep option keys) was removed from the Expressway factory-reset in X14.2: option keys, Microsoft Interoperability included, are never kept. [reset.optionKeysFlagRemoved]\n',
    ],
    ['-o with every answer given', ['-o', '--keep', 'all', '--yes'], '[reset.optionKeysFlagRemoved]'],
    ['no flags, stdin not a terminal', [], 'missing answers: brand-type ("Keep brand and type of the device"), smart-licensing'],
    [
      '-t without its answer',
      ['-t', '--yes'],
      'missing answer: smart-licensing ("Keep smart licensing settings"). Give them with --keep/--discard <names> and --yes. [reset.missingAnswer]',
    ],
    ['the final confirmation missing', ['--keep', 'all'], 'missing answer: the final confirmation ("Are you sure you want to continue")'],
    [
      'an unknown name',
      ['--keep', 'ssh', '--yes'],
      "Unknown name 'ssh' in --keep: use brand-type, smart-licensing, fips, ip, management, ssh-keys, certificates, passwords, logs or all. Did you mean 'ssh-keys'? [reset.unknownName]",
    ],
    ['a conflict', ['--keep', 'ip', '--discard', 'ip', '--yes'], 'ip is in both --keep and --discard. [reset.conflictingAnswers]'],
    ['an unknown flag', ['-x'], "exsh: unknown option '-x'. [commander.unknownOption]"],
  ])('%s', async (_what, args, stderr) => {
    const home = tempHome();
    await configured(home);
    const before = await stateOf(home);
    const r = await exsh(home, 'factory-reset', ...args);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(stderr);
    expect(await stateOf(home)).toEqual(before);
  });

  it('never waits for a terminal that is not there (stdin ignored)', async () => {
    const home = tempHome();
    const r = await execa(process.execPath, [EXSH_BIN, '--home', home, 'factory-reset', '-v'], {
      stdin: 'ignore',
      reject: false,
      extendEnv: false,
      env: cleanEnv(),
      cwd: REPO_ROOT,
      timeout: 20_000,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('[reset.missingAnswer]');
  });

  it('--help lists every option', async () => {
    const r = await exsh(tempHome(), 'factory-reset', '--help');
    expect(r.exitCode).toBe(0);
    for (const flag of ['-v ', '-t ', '-o ', '-y, --yes', '--keep <list>', '--discard <list>', '-h, --help']) expect(r.stdout).toContain(flag);
  });
});

describe('factory-reset typed in the device shell', () => {
  it('runs from batch input with its answers as flags, then OK', async () => {
    const home = tempHome();
    const r = await runExsh(['--home', home, '--now', NOW], { input: 'factory-reset -v --keep brand-type --yes\nxstatus SystemUnit Product\n' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      [
        ...BANNER,
        'Keep brand and type of the device [YES/NO]? yes',
        '',
        'Are you sure you want to continue [YES/NO]? yes',
        'Factory reset done: kept brand and type, smart licensing settings, FIPS 140 configuration, IP configuration, dedicated management interface configuration, ssh keys, server certificate, associated key and CA trust store, root and admin passwords, log files; everything else was returned to factory default settings.',
        'The system restarted as Cisco Expressway-C.',
        'Smart Licensing is offline until the DNS domain is configured (alarms 30042 and 30044: Smart Licensing registration is not working; Smart Licensing authorization is not working).',
        '',
        'OK',
        '*s SystemUnit: /',
        '    Product: "Cisco Expressway-C"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
  });

  it('a missing answer is an ERROR (exit 1), -o too; nothing changes', async () => {
    const home = tempHome();
    const r = await runExsh(['--home', home, '--now', NOW], { input: 'factory-reset\nfactory-reset -o --keep all --yes\nxstatus FactoryReset Count\n' });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('Code: "reset.missingAnswer"');
    expect(r.stdout).toContain('Code: "reset.optionKeysFlagRemoved"');
    expect(r.stdout).toContain('    Count: 0\n');
  });

  it('in JSON mode the result carries what was kept', async () => {
    const home = tempHome();
    const r = await runExsh(['--home', home, '--now', NOW, '--output', 'json'], { input: 'factory-reset --keep all --discard ip --yes\n' });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      CommandResponse: {
        FactoryResetResult: {
          status: 'OK',
          Kept: { Value: 'brand-type,smart-licensing,fips,management,ssh-keys,certificates,passwords,logs' },
          Product: { Value: 'Cisco Expressway-C' },
          SmartLicensingOffline: { Value: 'True' },
        },
      },
    });
  });
});
