import { spawn, spawnSync } from 'node:child_process';
import pty from '@lydell/node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, cleanHomes, tempHome } from '../helpers/exsh.js';
import { BANNER, findProgram, OpenSsh, PASSWORD, type Served, serve, skipReason, stopAll } from './helpers.js';

/**
 * The OpenSSH client against `exsh serve --ssh` (§11, notes/ssh-clients.md §1): `ssh -T`,
 * exec with its exit statuses, and an interactive session from a real local terminal
 * (node-pty), where ssh puts its terminal in raw mode and the server's line discipline
 * does everything.
 */

const SSH = findProgram(['ssh']);
const missing = skipReason('the OpenSSH client tests', SSH === undefined, 'openssh-client (ssh)');

let openssh: OpenSsh;
let s: Served;

beforeAll(async () => {
  if (missing) return;
  openssh = new OpenSsh(PASSWORD);
  s = await serve(tempHome());
});

afterAll(async () => {
  openssh?.cleanup();
  await stopAll();
  cleanHomes();
});

function runSsh(args: string[], input: string | undefined): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(SSH ?? 'ssh', args, { env: cleanEnv(openssh.env()) as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    if (input === undefined) child.stdin.end();
    else child.stdin.end(input);
  });
}

describe.skipIf(missing)('OpenSSH ssh', () => {
  it('ssh -T: the banner, every reply in LF only, bye ends the session and nothing after it runs', async () => {
    const input = [
      'xStatus SystemUnit Product',
      'xConfiguration SystemUnit Name: "ssh-T"',
      'xConfiguration SystemUnit Name',
      'xconfiguration License Smart ReservationEnable: Maybe',
      'foo bar',
      'bye',
      'xConfiguration SystemUnit Name: "after bye"',
      '',
    ].join('\n');
    const r = await runSsh(['-T', ...openssh.args(s.port)], input);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1); // a line failed, as with exsh tsh
    expect(r.stdout.toString()).toBe(
      `${BANNER}*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n` +
        '\nOK\n' +
        '*c xConfiguration SystemUnit Name: "ssh-T"\n\nOK\n' +
        '*r Result (status=Error):\n    Reason: "Invalid value \'Maybe\' for License Smart ReservationEnable: expected On or Off."\n    Code: "xapi.badValue"\n*r/end\n\nERROR\n' +
        'Command not recognized.\n',
    );
    const after = await runSsh(['-T', ...openssh.args(s.port), 'xConfiguration SystemUnit Name'], undefined);
    expect(after.stdout.toString()).toBe('*c xConfiguration SystemUnit Name: "ssh-T"\n\nOK\n');
  });

  it('ssh -T: end of input with every line fine ends with status 0', async () => {
    const r = await runSsh(['-T', ...openssh.args(s.port)], 'xStatus SystemUnit Product\n');
    expect(r.code).toBe(0);
    expect(r.stdout.includes(Buffer.from('\r'))).toBe(false);
  });

  it('exec: the exact reply, exit 0 for OK and 1 for ERROR; exec of tsh is a session', async () => {
    const ok = await runSsh([...openssh.args(s.port), 'xStatus SystemUnit UDI ProductId'], undefined);
    expect(ok).toEqual({ code: 0, stdout: Buffer.from('*s SystemUnit: /\n    UDI:\n      ProductId: "Expressway"\n*s/end\n\nOK\n'), stderr: '' });
    const bad = await runSsh([...openssh.args(s.port), 'xconfiguration License Smart ReservationEnable: Maybe'], undefined);
    expect(bad.code).toBe(1);
    expect(bad.stdout.toString()).toMatch(/^\*r Result \(status=Error\):\n.*\nERROR\n$/s);
    const tsh = await runSsh([...openssh.args(s.port), 'tsh --port 4000'], 'xStatus SystemUnit Product\nbye\n');
    expect(tsh.code).toBe(0);
    expect(tsh.stdout.toString()).toBe(`${BANNER.replace('expressway', 'ssh-T')}*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n`);
  });

  it('a wrong password is refused (ssh gives up after its tries), never a hang', async () => {
    const wrong = new OpenSsh('not the password');
    try {
      const t = Date.now();
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(SSH ?? 'ssh', [...wrong.args(s.port, 'admin', ['-o', 'NumberOfPasswordPrompts=2']), 'xStatus SystemUnit'], {
          env: cleanEnv(wrong.env()) as NodeJS.ProcessEnv,
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.code).toBe(255);
      expect(r.stderr).toContain('Permission denied');
      expect(Date.now() - t).toBeGreaterThanOrEqual(900); // two refusals, 500 ms each
    } finally {
      wrong.cleanup();
    }
  });

  it('with a pty (a real local terminal): echo, CRLF, Ctrl-C keeps the session, Ctrl-D ends it with status 0', async () => {
    const term = pty.spawn(SSH ?? 'ssh', ['-t', ...openssh.args(s.port)], {
      name: 'xterm',
      cols: 120,
      rows: 40,
      env: cleanEnv({ ...openssh.env(), TERM: 'xterm' }) as Record<string, string>,
    });
    let out = '';
    term.onData((d) => {
      out += d;
    });
    const exit = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
    const waitFor = async (text: string, from: number) => {
      const deadline = Date.now() + 15_000;
      while (!out.slice(from).includes(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${JSON.stringify(text)}; the terminal showed ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return out.slice(from);
    };
    try {
      await waitFor('OK\r\n\r\n', 0);
      expect(out).toContain(BANNER.replace('expressway', 'ssh-T').replace(/\n/g, '\r\n'));
      let mark = out.length;
      term.write('xStatus SystemUnit Product\r');
      expect(await waitFor('OK\r\n', mark)).toBe('xStatus SystemUnit Product\r\n*s SystemUnit: /\r\n    Product: "Cisco Expressway-C"\r\n*s/end\r\n\r\nOK\r\n');
      mark = out.length;
      term.write('xStat');
      await waitFor('xStat', mark);
      term.write('\x03');
      expect(await waitFor('^C\r\n', mark)).toBe('xStat^C\r\n');
      mark = out.length;
      term.write('xStatus SystemUnit UDI ProductId\r');
      expect(await waitFor('OK\r\n', mark)).toContain('ProductId: "Expressway"\r\n*s/end\r\n\r\nOK\r\n');
      expect(out).not.toContain('\x1b[3');
      term.write('\x04');
      expect(await exit).toBe(0);
    } finally {
      try {
        term.kill();
      } catch {
        /* gone */
      }
    }
  });
});

describe.skipIf(missing)('OpenSSH tools', () => {
  it('ssh-keygen reads the fingerprint the server prints from the key ssh-keyscan gets', () => {
    const keyscan = spawnSync('ssh-keyscan', ['-p', String(s.port), '127.0.0.1'], { encoding: 'utf8' });
    if (keyscan.status !== 0) return;
    const lf = spawnSync('ssh-keygen', ['-lf', '-'], { input: keyscan.stdout, encoding: 'utf8' });
    expect(lf.stdout).toContain(s.info.hostKeyFingerprint);
  });
});
