import { describe, expect, it } from 'vitest';
import { type CommandArgs, type CommandName, type Dispatch, main } from '../../src/cli.js';
import { sink } from '../device/helpers.js';

/**
 * argv → command and options, through main() with a dispatcher that records what each
 * command function would have been given (changesets' table-driven CLI tests).
 */

interface Seen {
  name: CommandName;
  args: unknown[];
  ctx: {
    home: string;
    deviceName: string;
    output: string;
    now?: string;
    seed?: string;
    commands: readonly string[];
    failFast: boolean;
    lockTimeoutMs?: number;
  };
}

async function parse(argv: string[], env: Record<string, string> = {}): Promise<{ seen?: Seen; status: number; stderr: string }> {
  let seen: Seen | undefined;
  const dispatch: Dispatch = async (name, ctx, args) => {
    seen = {
      name,
      args: args as unknown[],
      ctx: {
        home: ctx.home,
        deviceName: ctx.deviceName,
        output: ctx.output,
        now: ctx.now?.toISOString(),
        seed: ctx.seed,
        commands: ctx.commands,
        failFast: ctx.failFast,
        lockTimeoutMs: ctx.lockTimeoutMs,
      },
    };
    return 0;
  };
  const stderr = sink();
  const status = await main(argv, { stdin: process.stdin, stdout: sink(), stderr, env }, { dispatch });
  return { seen, status, stderr: stderr.text() };
}

const HOME = '/tmp/exsh-argv-home';
const base = { home: HOME, deviceName: 'expressway', output: 'terminal', commands: [], failFast: false };

const CASES: [argv: string[], name: CommandName, args: CommandArgs[CommandName], ctx?: Partial<Seen['ctx']>][] = [
  [[], 'shell', []],
  [['-c', 'xStatus SystemUnit', '-c', 'bye'], 'shell', [], { commands: ['xStatus SystemUnit', 'bye'] }],
  [['--device', 'lab', '--output', 'json', '--fail-fast'], 'shell', [], { deviceName: 'lab', output: 'json', failFast: true }],
  [['--now', '2026-03-01T10:15:00Z', '--seed', '7'], 'shell', [], { now: '2026-03-01T10:15:00.000Z', seed: '7' }],
  [['run', 'script.txt'], 'run', ['script.txt']],
  [['run', '-'], 'run', ['-']],
  [['tsh', '--port', '4022'], 'tsh', [{ port: '4022' }]],
  [['devices', 'list', '--json'], 'devices.list', [{ json: true }]],
  [['devices', 'create', 'vcs1', '--brand', 'VCS'], 'devices.create', ['vcs1', { brand: 'VCS' }]],
  [['devices', 'create', 'e1', '--type', 'ExpresswayE'], 'devices.create', ['e1', { brand: 'Expressway', type: 'ExpresswayE' }]],
  [['devices', 'show', 'e1'], 'devices.show', ['e1', {}]],
  [['devices', 'remove', 'e1'], 'devices.remove', ['e1', {}]],
  [['devices', 'remove', 'e1', '--force'], 'devices.remove', ['e1', { force: true }]],
  [['cssm', 'init', '--new-key', '--account', 'Acme'], 'cssm.init', [{ newKey: true, account: 'Acme' }]],
  [['cssm', 'licenses', '--virtual-account', 'Lab', '--json'], 'cssm.licenses', [{ virtualAccount: 'Lab', json: true }]],
  [
    ['cssm', 'reserve', '--request', 'CB-x', '--license', 'A=1', '--license', 'B=2', '--out', 'a.xml'],
    'cssm.reserve',
    [{ request: 'CB-x', license: ['A=1', 'B=2'], out: 'a.xml' }],
  ],
  [['cssm', 'reserve', '--request', 'CB-x', '--plr', '--export-control'], 'cssm.reserve', [{ request: 'CB-x', plr: true, exportControl: true, license: [] }]],
  [['cssm', 'update', '--instance', '08F8FF3C', '--license', 'A=0'], 'cssm.update', [{ instance: '08F8FF3C', license: ['A=0'] }]],
  [['cssm', 'confirm', '--instance', '08F8FF3C', '--code', 'abcd1234'], 'cssm.confirm', [{ instance: '08F8FF3C', code: 'abcd1234' }]],
  [['cssm', 'remove', '--return-code', 'Cxyz'], 'cssm.remove', [{ returnCode: 'Cxyz' }]],
  [['cssm', 'instances'], 'cssm.instances', [{}]],
  [['trust', 'add', 'key.pem', '--name', 'lab'], 'trust.add', ['key.pem', { name: 'lab' }]],
  [['trust', 'list'], 'trust.list', [{}]],
  [['trust', 'remove', 'lab'], 'trust.remove', ['lab']],
  [['factory-reset'], 'factory-reset', [{}]],
  [
    ['factory-reset', '-v', '-t', '--keep', 'ip,logs', '--keep', 'fips', '--discard', 'all', '--yes'],
    'factory-reset',
    [{ v: true, t: true, keep: ['ip,logs', 'fips'], discard: ['all'], yes: true }],
  ],
  [['backup', 'create', 'b.json', '--force'], 'backup.create', ['b.json', { force: true }]],
  [['backup', 'restore', 'b.json'], 'backup.restore', ['b.json']],
];

describe('argv → command and options', () => {
  it.each(CASES)('%j runs %s', async (argv, name, args, ctx) => {
    const r = await parse(['--home', HOME, ...argv]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.seen).toEqual({ name, args, ctx: { ...base, ...ctx } });
  });

  it('takes the globals from the environment: EXSH_HOME, EXSH_DEVICE, EXSH_NOW, EXSH_SEED, EXSH_LOCK_TIMEOUT', async () => {
    const r = await parse(['-c', 'x'], { EXSH_HOME: HOME, EXSH_DEVICE: 'env', EXSH_NOW: '2026-01-02', EXSH_SEED: 's', EXSH_LOCK_TIMEOUT: '250' });
    expect(r.seen?.ctx).toEqual({ ...base, deviceName: 'env', now: '2026-01-02T00:00:00.000Z', seed: 's', commands: ['x'], lockTimeoutMs: 250 });
  });

  it.each([
    [['--output', 'yaml'], 'commander.invalidArgument', 2],
    [['--now', 'yesterday'], 'cli.badNow', 2],
    [['--home', ''], 'cli.badHome', 2],
    [['devices', 'create', 'x', '--brand', 'Tandberg'], 'commander.invalidArgument', 2],
    [['cssmm'], 'cli.unknownCommand', 2],
    [['--bogus'], 'commander.unknownOption', 2],
  ])('%j is a usage error (%s, exit %d) and runs nothing', async (argv, code, status) => {
    const r = await parse(argv);
    expect({ status: r.status, code: /\[([\w.]+)\]\n$/.exec(r.stderr)?.[1], seen: r.seen }).toEqual({ status, code, seen: undefined });
  });

  it('an invalid EXSH_LOCK_TIMEOUT is a usage error, not a silent default', async () => {
    for (const value of ['soon', '-1', '99999999999', '1.5']) {
      const r = await parse(['--home', HOME, '-c', 'x'], { EXSH_LOCK_TIMEOUT: value });
      expect({ value, status: r.status, code: /\[([\w.]+)\]\n$/.exec(r.stderr)?.[1] }).toEqual({ value, status: 2, code: 'cli.badLockTimeout' });
    }
  });
});

describe('diagnostics', () => {
  it('never print a control character someone typed raw', async () => {
    const r = await parse(['--home', HOME, '--a\x1b[2Jb']);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr).toContain('a\\x1b[2Jb');
  });
});
