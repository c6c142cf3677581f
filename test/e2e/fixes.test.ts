import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, EXSH_BIN, NOW, REPO_ROOT, runExsh, tempHome } from '../helpers/exsh.js';
import { Terminal } from '../helpers/pty.js';

/** What new users, CI scripts and terminal clients tripped over, through the built exsh. */

const terminals: Terminal[] = [];
afterEach(() => {
  for (const t of terminals.splice(0)) t.kill();
  cleanHomes();
});

function terminal(args: string[], env: Record<string, string> = { TERM: 'xterm' }): Terminal {
  const t = new Terminal(args, 10_000, env);
  terminals.push(t);
  return t;
}

describe('exsh tsh on a terminal (ssh, expect, netmiko)', () => {
  it('never colours OK or ERROR, even with colour allowed', async () => {
    const t = terminal(['--home', tempHome(), '--now', NOW, 'tsh'], { TERM: 'xterm-256color', FORCE_COLOR: '1' });
    await t.waitFor('OK\r\n');
    t.type('xStatus SystemUnit Name\r');
    await t.waitForRecent('*s/end\r\n\r\nOK\r\n');
    t.type('xfoo\r');
    await t.waitForRecent('Command not recognized.');
    t.type('xConfiguration License Smart ReservationEnable: Maybe\r');
    await t.waitForRecent('ERROR\r\n');
    expect(t.rawText).not.toMatch(/\x1b\[/);
    expect(t.rawText).toContain('\r\nOK\r\n');
  });

  it('Ctrl-C cancels the line being typed (or a body being pasted) and the session goes on', async () => {
    const t = terminal(['--home', tempHome(), '--now', NOW, 'tsh']);
    await t.waitFor('OK\r\n');
    t.type('xStatus Sys');
    t.type('\x03');
    // The terminal echoes ^C; the session answers with the line end, once it has cancelled.
    await t.waitForRecent('^C\r\n');
    t.type('xCommand License Smart Reservation Install\r<specificPLR>\r');
    await t.waitForRecent('<specificPLR>\r\n');
    t.type('\x03');
    await t.waitForRecent('^C\r\n');
    t.type('xStatus SystemUnit Name\r');
    await t.waitForRecent('*s SystemUnit: /\r\n    Name: ""\r\n*s/end\r\n\r\nOK\r\n');
    t.type('bye\r');
    expect((await t.exit).exitCode).toBe(0);
  });
});

describe('the interactive shell', () => {
  it('says how to end a pasted body, and keeps the body out of the history', async () => {
    const home = tempHome();
    const t = terminal(['--home', home, '--now', NOW], { TERM: 'xterm', NO_COLOR: '1' });
    await t.waitFor('expressway> ');
    t.type('xCommand License Smart Reservation Install\r');
    await t.waitForRecent("Paste the code, then end it with a line holding only '.' (Ctrl-C cancels).");
    t.type('<specificPLR>not a code</specificPLR>\r.\r');
    await t.waitForRecent('ERROR');
    t.type('xConfiguration License Smart Transport Proxy Password: "hush-hush"\r');
    await t.waitForRecent('OK');
    t.type('bye\r');
    await t.exit;
    const history = readFileSync(join(home, 'history', 'expressway.history'), 'utf8');
    expect(history).toBe('xCommand License Smart Reservation Install\nxConfiguration License Smart Transport Proxy Password: "********"\nbye\n');
    expect(statSync(join(home, 'history', 'expressway.history')).mode & 0o777).toBe(0o600);

    // Up recalls the masked line, never the body or the password.
    const again = terminal(['--home', home, '--now', NOW], { TERM: 'xterm', NO_COLOR: '1' });
    await again.waitFor('expressway> ');
    again.type('\x1b[A\x1b[A');
    await again.until('the recalled line', () => again.lineAfter('expressway> ') === 'xConfiguration License Smart Transport Proxy Password: "********"');
    expect(again.rawText).not.toContain('hush-hush');
  });
});

describe('Tab completion', () => {
  it('two Tabs that arrive together, with the text before them, both complete', async () => {
    const t = terminal(['--home', tempHome(), '--now', NOW], { TERM: 'xterm', NO_COLOR: '1' });
    await t.waitFor('expressway> ');
    t.type('xsta\t\t');
    await t.until('the completed verb', () => t.lineAfter('expressway> ') === 'xStatus ');
    t.type('\x15xconf lic sm res\t\t');
    await t.until('the completed setting', () => t.lineAfter('expressway> ') === 'xconf lic sm ReservationEnable: O');
    expect(t.text).not.toContain('\t');
  });
});

describe('the command line', () => {
  it('--version, -V and help <command> work', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await runExsh(['--version'])).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(await runExsh(['-V'])).toEqual({ exitCode: 0, stdout: `${pkg.version}\n`, stderr: '' });
    const help = await runExsh(['help', 'cssm']);
    expect({ exitCode: help.exitCode, first: help.stdout.split('\n')[0] }).toEqual({ exitCode: 0, first: 'Usage: exsh cssm [options] [command]' });
    expect((await runExsh(['help'])).stdout.split('\n')[0]).toBe('Usage: exsh [options] [command]');
  });

  it('option values are taken in any case, as everything in the shell is', async () => {
    const home = tempHome();
    expect(await runExsh(['--home', home, '--now', NOW, '--output', 'JSON', '-c', 'xStatus SystemUnit Name'])).toEqual({
      exitCode: 0,
      stdout: '{\n"Status":{"SystemUnit":{"Name":{"Value":""}}}\n}\n',
      stderr: '',
    });
    const created = await runExsh(['--home', home, 'devices', 'create', 'v1', '--brand', 'vcs']);
    expect(created.stdout).toMatch(/^Created device 'v1': Cisco TelePresence VCS,/);
    expect((await runExsh(['--home', home, 'devices', 'create', 'e1', '--type', 'expresswaye'])).stdout).toMatch(/^Created device 'e1': Cisco Expressway-E,/);
  });

  it('a device created on first use beside others is named on stderr, never on stdout', async () => {
    const home = tempHome();
    // The first device of a new home is the zero-set-up default: nothing to say.
    expect(await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit Name'])).toMatchObject({ exitCode: 0, stderr: '' });
    const typo = await runExsh(['--home', home, '--now', NOW, '--device', 'expresway', '--output', 'json', '-c', 'xStatus SystemUnit Name']);
    expect(typo).toEqual({
      exitCode: 0,
      stdout: '{\n"Status":{"SystemUnit":{"Name":{"Value":""}}}\n}\n',
      stderr: `exsh: created device 'expresway' in ${home}, which did not have it (exsh devices list shows them all).\n`,
    });
    // Once it exists, nothing more is said.
    expect((await runExsh(['--home', home, '--now', NOW, '--device', 'expresway', '-c', 'xStatus SystemUnit Name'])).stderr).toBe('');
    const tsh = await runExsh(['--home', home, '--now', NOW, '--device', 'lab2', 'tsh'], { input: 'bye\n' });
    expect(tsh.stdout).not.toContain('created device');
    expect(tsh.stderr).toContain("created device 'lab2'");
  });

  it('run of a directory is a usage error with a stable code', async () => {
    const dir = tempHome();
    expect(await runExsh(['--home', tempHome(), 'run', dir])).toEqual({
      exitCode: 2,
      stdout: '',
      stderr: `exsh: Cannot read script ${dir}: it is not a file. [cli.badScript]\n`,
    });
  });

  it('a closed output ends exsh quietly: no stack trace, exit 0', async () => {
    const home = tempHome();
    const lines = 'xStatus SystemUnit\n'.repeat(20_000);
    const r = await execa('/bin/bash', ['-c', `"$0" "$1" --home "$2" | head -1; echo "status=\${PIPESTATUS[0]}"`, process.execPath, EXSH_BIN, home], {
      input: lines,
      reject: false,
      extendEnv: false,
      env: cleanEnv(),
    });
    expect({ stdout: r.stdout, stderr: r.stderr }).toEqual({ stdout: '*s SystemUnit: /\nstatus=0', stderr: '' });
  });

  it('npx exsh after npm install starts the shell without building again', async () => {
    const built = statSync(join(REPO_ROOT, 'dist', 'exsh.cjs')).mtimeMs;
    const r = await execa('npx', ['--offline', 'exsh', '--home', tempHome(), '--now', NOW, '-c', 'xStatus SystemUnit Name'], {
      cwd: REPO_ROOT,
      reject: false,
      extendEnv: false,
      env: cleanEnv(),
    });
    expect({ exitCode: r.exitCode, stdout: r.stdout }).toEqual({ exitCode: 0, stdout: '*s SystemUnit: /\n    Name: ""\n*s/end\n\nOK' });
    expect(statSync(join(REPO_ROOT, 'dist', 'exsh.cjs')).mtimeMs).toBe(built);
  });
});

describe('devices remove', () => {
  it('refuses a device whose licences would be stranded at the CSSM, unless --force, and says what is stranded', async () => {
    const home = tempHome();
    const base = ['--home', home, '--now', NOW];
    expect(
      (await runExsh([...base, '-c', 'xConfiguration License Smart ReservationEnable: On', '-c', 'xCommand License Smart Reservation Request'])).exitCode,
    ).toBe(0);
    const serial = /S:([0-9A-F]{8})/.exec((await runExsh([...base, 'devices', 'show', 'expressway'])).stdout)?.[1] as string;
    const refused = await runExsh([...base, 'devices', 'remove', 'expressway']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toBe(
      `exsh: Device 'expressway' was not removed: a reservation request is in progress (serial ${serial}): if the CSSM has reserved licences for it, they would stay reserved. Cancel it first (xCommand License Smart Reservation Cancel, and ReturnAuthorization for a code that was issued), or give --force and release them with exsh cssm remove --instance ${serial} --force. [device.holdsLicences]\n`,
    );
    expect((await runExsh([...base, 'devices', 'list', '--json'])).stdout).toContain('"name": "expressway"');
    const forced = await runExsh([...base, 'devices', 'remove', 'expressway', '--force']);
    expect(forced).toEqual({
      exitCode: 0,
      stdout: "Removed device 'expressway'.\n",
      stderr: `exsh: warning: device 'expressway' removed with --force: a reservation request is in progress (serial ${serial}).\n`,
    });
  });
});
