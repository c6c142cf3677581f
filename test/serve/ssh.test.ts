import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Client as SshClient } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, spawnExsh, tempHome } from '../helpers/exsh.js';
import { BANNER, connect, exec, execToEnd, findProgram, PASSWORD, type Served, serve, shell, stopAll } from './helpers.js';

/**
 * `exsh serve --ssh` (§11) as a black box: the command's output and files, the auth
 * rules, and what every kind of channel sends, byte for byte, to an ssh2 client.
 */

const clients: SshClient[] = [];
async function login(s: Served, opts: Parameters<typeof connect>[1] = {}): Promise<SshClient> {
  const c = await connect(s.port, opts);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.end();
  await stopAll();
  cleanHomes();
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe('exsh serve: the command', () => {
  it('prints exactly one JSON line (the ports, the user, the host key) and listens on loopback only', async () => {
    const s = await serve(tempHome());
    const stdout = (await s.stop()).stdout;
    expect(stdout.split('\n')).toHaveLength(2);
    expect(Object.keys(s.info)).toEqual(['ssh', 'https', 'username', 'hostKeyFingerprint']);
    expect(s.info.ssh).toEqual([{ device: 'expressway', host: '127.0.0.1', port: s.port }]);
    expect(s.port).toBeGreaterThan(0);
    expect(s.info.https).toBeNull();
    expect(s.info.username).toBe('admin');
    // The password came from EXSH_SSH_PASSWORD: it is never printed.
    expect(stdout).not.toContain(PASSWORD);
    expect(s.info.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('listens on loopback unless --host says otherwise', async () => {
    const s = await serve(tempHome());
    const ss = spawnSync('ss', ['-ltnH', `sport = :${s.port}`], { encoding: 'utf8' });
    if (ss.status === 0) expect(ss.stdout.trim().split(/\s+/)[3]).toBe(`127.0.0.1:${s.port}`);
    // Whatever the tools: a connection to another local address of the machine is refused.
    const other = await new Promise<string>((resolve) => {
      const sock = createConnection({ host: '127.0.0.2', port: s.port }, () => {
        sock.destroy();
        resolve('connected');
      });
      sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(other).toBe('ECONNREFUSED');
  });

  it('generates a random password of 16+ characters when none is given, prints it once, and keeps it nowhere', async () => {
    const home = tempHome();
    const a = await serve(home, { password: null });
    expect(a.info.password).toMatch(/^[A-Za-z0-9]{16,}$/);
    const c = await login(a, { password: a.info.password });
    expect((await execToEnd(c, 'xStatus SystemUnit Product')).code).toBe(0);
    c.end();
    await a.stop();
    for (const f of readdirSync(home, { recursive: true }) as string[]) {
      const p = join(home, f);
      if (statSync(p).isFile()) expect(readFileSync(p).includes(a.info.password ?? 'x'), f).toBe(false);
    }
    const b = await serve(home, { password: null });
    expect(b.info.password).not.toBe(a.info.password);
    expect(Object.keys(b.info)).toEqual(['ssh', 'https', 'username', 'password', 'hostKeyFingerprint']);
  });

  it('the human table names device, host, port and user, and the generated password', async () => {
    const home = tempHome();
    const child = spawnExsh(['--home', home, 'serve', '--ssh', '0'], { env: { EXSH_SSH_PASSWORD: undefined } });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!out.includes('Press Ctrl+C to stop.') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[1]).toMatch(/^Device +Host +Port +User$/);
    expect(lines[2]).toMatch(/^expressway +127\.0\.0\.1 +\d{4,5} +admin$/);
    expect(out).toMatch(/\nHost key: SHA256:\S+ \(new\)\n/);
    expect(out).toMatch(/\nPassword: [A-Za-z0-9]{16,} {2}\(generated for this run/);
  });

  it('takes the password from the first line of a private --password-file, and refuses one others can read', async () => {
    const home = tempHome();
    const file = join(home, 'pw');
    writeFileSync(file, 'from-the-file\nsecond line\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    const refused = await runExsh(['--home', home, 'serve', '--ssh', '0', '--password-file', file]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `exsh: The password file ${file} can be read by other users (mode 0644), so exsh will not use it: make it private with chmod 600 ${file}. [serve.passwordFileNotPrivate]\n`,
    );
    chmodSync(file, 0o600);
    const s = await serve(home, { args: ['--ssh', '0', '--password-file', file], password: 'the-env-loses' });
    expect(s.info.password).toBeUndefined();
    const c = await login(s, { password: 'from-the-file' });
    expect((await execToEnd(c, 'xStatus SystemUnit Product')).code).toBe(0);
    await expect(connect(s.port, { password: 'the-env-loses' })).rejects.toThrow(/authentication methods failed/);
  });

  it('keeps a 0600 host key and 0600 settings in a 0700 directory, and uses the same key at every start', async () => {
    const home = tempHome();
    const a = await serve(home);
    const keyscan = findProgram(['ssh-keyscan'], ['-h']) ?? findProgram(['ssh-keyscan'], []);
    const scan = (port: number) =>
      spawnSync('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { encoding: 'utf8' })
        .stdout.split(' ')
        .slice(1)
        .join(' ');
    const first = keyscan ? scan(a.port) : '';
    await a.stop();
    const dir = join(home, 'serve');
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'ssh_host_key'))).toBe(0o600);
    expect(mode(join(dir, 'settings.json'))).toBe(0o600);
    expect(readFileSync(join(dir, 'ssh_host_key'), 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const settings = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'));
    expect(settings).toEqual({
      users: ['admin', 'root'],
      hostKeyPath: join(dir, 'ssh_host_key'),
      last: { host: '127.0.0.1', ssh: { expressway: a.port }, https: null },
    });

    const b = await serve(home);
    expect(b.info.hostKeyFingerprint).toBe(a.info.hostKeyFingerprint);
    if (keyscan) {
      expect(scan(b.port)).toBe(first);
      expect(first).toMatch(/^ssh-ed25519 AAAA/);
      // OpenSSH's own fingerprint of the key the server presents is the one printed.
      const lf = spawnSync('ssh-keygen', ['-lf', '-'], { input: `127.0.0.1 ${first}`, encoding: 'utf8' }).stdout;
      expect(lf.split(' ')[1]).toBe(b.info.hostKeyFingerprint);
    }
  });

  it('serves one port per device (port, port+1, …), each with its own device', async () => {
    const home = tempHome();
    let s: Served | undefined;
    // A base with two free ports: try a few.
    for (let attempt = 0; attempt < 5 && !s; attempt++) {
      const base = 20_000 + Math.floor(Math.random() * 30_000);
      try {
        s = await serve(home, { args: ['--ssh', String(base), '--device', 'lab-a', '--device', 'lab-b'] });
      } catch {
        /* taken: try another */
      }
    }
    if (!s) throw new Error('no two free ports found');
    const [a, b] = s.info.ssh;
    expect(s.info.ssh.map((x) => x.device)).toEqual(['lab-a', 'lab-b']);
    expect(b?.port).toBe((a?.port ?? 0) + 1);
    const ca = await connect(a?.port ?? 0);
    const cb = await connect(b?.port ?? 0);
    clients.push(ca, cb);
    const sa = await shell(ca);
    await sa.until('banner', () => sa.text.includes('OK\n\n'));
    expect(sa.text).toBe(BANNER.replace('expressway', 'lab-a'));
    await execToEnd(cb, 'xConfiguration SystemUnit Name: "b-only"');
    expect((await execToEnd(ca, 'xConfiguration SystemUnit Name')).stdout).toBe('*c xConfiguration SystemUnit Name: ""\n\nOK\n');
    expect((await execToEnd(cb, 'xConfiguration SystemUnit Name')).stdout).toBe('*c xConfiguration SystemUnit Name: "b-only"\n\nOK\n');
    expect((await runExsh(['--home', home, 'devices', 'list', '--json'])).stdout).toContain('lab-b');
  });

  it('refuses a command line with nothing to serve, or a bad port', async () => {
    const home = tempHome();
    const none = await runExsh(['--home', home, 'serve']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('[serve.nothingToServe]');
    const bad = await runExsh(['--home', home, 'serve', '--ssh', '70000']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toBe("exsh: Invalid --ssh '70000': expected a port number from 0 to 65535 (0 picks a free one). [serve.badPort]\n");
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s ends every session with exit-status and close, then exits 0', async (signal) => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c);
    await sh.until('banner', () => sh.text.endsWith('OK\n\n'));
    const ex = await exec(c, 'tsh');
    await ex.until('banner', () => ex.text.endsWith('OK\n\n'));
    const stopped = await s.stop(signal);
    expect(stopped.exitCode).toBe(0);
    expect(await sh.exit).toEqual({ code: 0, signal: undefined });
    expect(await ex.exit).toEqual({ code: 0, signal: undefined });
    expect(stopped.stderr).toBe('');
  });
});

describe('authentication', () => {
  it('accepts the password for admin and root, by password and by keyboard-interactive', async () => {
    const s = await serve(tempHome());
    for (const username of ['admin', 'root']) {
      for (const keyboard of [false, true]) {
        const c = await login(s, { username, keyboard });
        expect((await execToEnd(c, username === 'root' ? 'true' : 'xStatus SystemUnit Product')).code).toBe(0);
      }
    }
  });

  it('keyboard-interactive asks exactly one prompt, "Password: " without echo; "none" lists the two methods', async () => {
    const s = await serve(tempHome());
    const { Client } = (await import('node:module')).createRequire(import.meta.url)('ssh2') as typeof import('ssh2');
    const prompts: unknown[] = [];
    const methodsSeen: unknown[] = [];
    const c = new Client();
    clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.on('ready', () => resolve());
      c.on('error', reject);
      c.on('keyboard-interactive', (_n, _i, _l, p, finish) => {
        prompts.push(p);
        finish(p.map(() => PASSWORD));
      });
      const order = ['none', 'keyboard-interactive'];
      c.connect({
        host: '127.0.0.1',
        port: s.port,
        username: 'admin',
        authHandler: (methodsLeft, _partial, next) => {
          methodsSeen.push(methodsLeft);
          const method = order.shift();
          if (method === 'none') return next({ type: 'none', username: 'admin' });
          return next({
            type: 'keyboard-interactive',
            username: 'admin',
            prompt: (_n, _i, _l, p, finish) => {
              prompts.push(p);
              finish(p.map(() => PASSWORD));
            },
          });
        },
      });
    });
    expect(methodsSeen).toEqual([null, ['password', 'keyboard-interactive']]);
    expect(prompts).toEqual([[{ prompt: 'Password: ', echo: false }]]);
  });

  it('refuses a wrong password, and an unknown user, after the same constant delay; never a hang', async () => {
    const s = await serve(tempHome());
    const timed = async (opts: Parameters<typeof connect>[1]) => {
      const t = Date.now();
      await expect(connect(s.port, opts)).rejects.toThrow(/All configured authentication methods failed/);
      return Date.now() - t;
    };
    const wrong = await timed({ password: 'wrong' });
    const unknown = await timed({ username: 'operator' });
    const kbd = await timed({ password: 'wrong', keyboard: true });
    for (const ms of [wrong, unknown, kbd]) {
      expect(ms).toBeGreaterThanOrEqual(480);
      expect(ms).toBeLessThan(5_000);
    }
    expect(s.stderr()).toContain("refused as 'operator' (no such user)");
    // After the refusals the right password still works.
    const c = await login(s);
    expect((await execToEnd(c, 'xStatus SystemUnit Product')).code).toBe(0);
  });
});

describe('channels without a pty: bytes unchanged', () => {
  it('shell: the banner, replies with LF only, no echo, no colour; bye ends it with exit-status and nothing after runs', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c);
    await sh.until('banner', () => sh.text.length >= BANNER.length);
    expect(sh.text).toBe(BANNER);
    sh.send('xStatus SystemUnit Product\n');
    expect(await sh.waitFor('OK\n')).toBe('*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n');
    sh.send('xconfiguration License Smart ReservationEnable: Maybe\n');
    expect(await sh.waitFor('ERROR\n')).toBe(
      '*r Result (status=Error):\n    Reason: "Invalid value \'Maybe\' for License Smart ReservationEnable: expected On or Off."\n    Code: "xapi.badValue"\n*r/end\n\nERROR\n',
    );
    sh.send('foo bar\n');
    expect(await sh.waitFor('\n')).toBe('Command not recognized.\n');
    sh.send('echo on\n');
    await sh.waitFor('OK\n');
    sh.send('xStatus SystemUnit Product\n');
    expect(await sh.waitFor('OK\n')).toBe('xStatus SystemUnit Product\n*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n');
    sh.send('bye\nxConfiguration SystemUnit Name: "after-bye"\n');
    expect(await sh.exit).toEqual({ code: 1, signal: undefined }); // a line failed (as exsh tsh)
    expect(sh.text).not.toContain('\r');
    expect(sh.text).not.toContain('\x1b');
    expect((await execToEnd(c, 'xConfiguration SystemUnit Name')).stdout).toBe('*c xConfiguration SystemUnit Name: ""\n\nOK\n');
  });

  it('shell: end of input ends the session with exit 0 when every line succeeded', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c);
    sh.stream.end('xConfiguration SystemUnit Name: "eof"\n');
    expect(await sh.exit).toEqual({ code: 0, signal: undefined });
    expect(sh.text).toBe(`${BANNER}\nOK\n`);
  });

  it('exec: one line, its exact reply, and exit 0 (OK) or 1 (ERROR, Command not recognized.)', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    expect(await execToEnd(c, 'xStatus SystemUnit Product')).toEqual({
      stdout: '*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n',
      stderr: '',
      code: 0,
    });
    const bad = await execToEnd(c, 'xconfiguration License Smart ReservationEnable: Maybe');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/\nERROR\n$/);
    expect(await execToEnd(c, 'xfoo')).toEqual({ stdout: 'Command not recognized.\n', stderr: '', code: 1 });
  });

  it.each(['tsh', 'tsh --port 4000', 'tshell', '/bin/tsh', '/usr/bin/tsh -C'])('exec %s starts a tsh session', async (command) => {
    const s = await serve(tempHome());
    const c = await login(s);
    const r = await execToEnd(c, command, 'xStatus SystemUnit Product\nbye\n');
    expect(r).toEqual({ stdout: `${BANNER}*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n`, stderr: '', code: 0 });
  });

  it('JSON only after xPreferences OutputMode json, with resultIds', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const r = await execToEnd(c, 'tsh', 'echo off\nxpreferences outputmode json\nxStatus SystemUnit Product | resultId="1"\n');
    expect(r.stdout).toBe(`${BANNER}\nOK\n{\n"Status":{"SystemUnit":{"Product":{"Value":"Cisco Expressway-C"}}},\n"ResultId":"1"\n}\n`);
  });

  it('several channels on one connection at once: a shell and three execs', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c);
    const results = await Promise.all([1, 2, 3].map((i) => execToEnd(c, `xConfiguration SystemUnit Name: "parallel-${i}"`)));
    expect(results.map((r) => [r.stdout, r.code])).toEqual([
      ['\nOK\n', 0],
      ['\nOK\n', 0],
      ['\nOK\n', 0],
    ]);
    sh.send('xConfiguration SystemUnit Name\n');
    expect(await sh.waitFor('OK\n')).toMatch(/^\*c xConfiguration SystemUnit Name: "parallel-[123]"\n\nOK\n$/);
    sh.stream.end();
    expect((await sh.exit).code).toBe(0);
  });

  it('refuses subsystems (sftp)', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    await expect(new Promise((resolve, reject) => c.sftp((err, sftp) => (err ? reject(err) : resolve(sftp))))).rejects.toThrow();
  });
});

describe('channels with a pty: the server is the line discipline', () => {
  it('banner and replies in CRLF, echo of what is typed, no prompt and no colour', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c, { term: 'vt100', cols: 511, rows: 1000 });
    await sh.until('banner', () => sh.text.endsWith('OK\r\n\r\n'));
    expect(sh.text).toBe(BANNER.replace(/\n/g, '\r\n'));
    sh.send('xStatus SystemUnit Product\r');
    expect(await sh.waitFor('OK\r\n')).toBe('xStatus SystemUnit Product\r\n*s SystemUnit: /\r\n    Product: "Cisco Expressway-C"\r\n*s/end\r\n\r\nOK\r\n');
    // netmiko's CRLF and a script's LF are one line end each.
    sh.send('xConfiguration SystemUnit Name: "pty"\r\n');
    expect(await sh.waitFor('OK\r\n')).toBe('xConfiguration SystemUnit Name: "pty"\r\n\r\nOK\r\n');
    sh.send('xConfiguration SystemUnit Name\n');
    expect(await sh.waitFor('OK\r\n')).toBe('xConfiguration SystemUnit Name\r\n*c xConfiguration SystemUnit Name: "pty"\r\n\r\nOK\r\n');
    sh.send('foo\r');
    expect(await sh.waitFor('.\r\n')).toBe('foo\r\nCommand not recognized.\r\n');
    expect(sh.text).not.toContain('\x1b');
  });

  it('backspace and Ctrl-U edit the line; Ctrl-C prints ^C, drops the line and keeps the session; Ctrl-D on an empty line ends it', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c, {});
    await sh.until('banner', () => sh.text.endsWith('OK\r\n\r\n'));
    sh.send('xStatus SystemUnix\x7ft Product\r');
    expect(await sh.waitFor('OK\r\n')).toContain('*s SystemUnit: /\r\n    Product: "Cisco Expressway-C"');
    sh.send('garbage\x15xStatus SystemUnit Product\r');
    expect(await sh.waitFor('OK\r\n')).toContain('Product: "Cisco Expressway-C"');
    sh.send('xConfiguration SystemUnit Name: "never"\x03');
    expect(await sh.waitFor('^C\r\n')).toBe('xConfiguration SystemUnit Name: "never"^C\r\n');
    sh.send('xConfiguration SystemUnit Name\r');
    expect(await sh.waitFor('OK\r\n')).toBe('xConfiguration SystemUnit Name\r\n*c xConfiguration SystemUnit Name: ""\r\n\r\nOK\r\n');
    sh.send('\x04');
    expect(await sh.exit).toEqual({ code: 0, signal: undefined });
  });

  it("echo off stops the echo; netmiko 4's CRLF before the banner is read gets no reply", async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c, {});
    sh.send('\r\n');
    await sh.until('banner', () => sh.text.includes('OK\r\n\r\n'));
    await new Promise((r) => setTimeout(r, 200));
    // The early line end is echoed after the banner (as a terminal would), and nothing else comes.
    expect(sh.text).toBe(`${BANNER.replace(/\n/g, '\r\n')}\r\n`);
    sh.send('echo off\r');
    expect(await sh.waitFor('OK\r\n')).toBe('echo off\r\n\r\nOK\r\n');
    sh.send('xStatus SystemUnit Product\r');
    expect(await sh.waitFor('OK\r\n')).toBe('*s SystemUnit: /\r\n    Product: "Cisco Expressway-C"\r\n*s/end\r\n\r\nOK\r\n');
    sh.send('bye\r');
    expect(await sh.exit).toEqual({ code: 0, signal: undefined });
  });

  it('a multi-line body ending with "." and a {N} frame both work through it', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const sh = await shell(c, {});
    await sh.until('banner', () => sh.text.endsWith('OK\r\n\r\n'));
    sh.send('xCommand License Smart Reservation Install\r<specificPLR>not\rreally</specificPLR>\r.\r');
    expect(await sh.waitFor('ERROR\r\n')).toMatch(
      /^xCommand License Smart Reservation Install\r\n<specificPLR>not\r\nreally<\/specificPLR>\r\n\.\r\n\*r LicenseSmartReservationInstallResult \(status=Error\):\r\n/,
    );
    const payload = 'xStatus SystemUnit Product | resultId="n1"\n\n';
    sh.send(`{${Buffer.byteLength(payload)}} \r${payload}`);
    expect(await sh.waitFor('OK\r\n')).toBe(
      `{${Buffer.byteLength(payload)}} \r\n${payload.replace(/\n/g, '\r\n')}*s SystemUnit: /\r\n    Product: "Cisco Expressway-C"\r\n*s/end\r\n\r\n** resultId: "n1"\r\nOK\r\n`,
    );
  });

  it('a 7.7 kB SLR code typed as one line installs (no 4095-byte canonical-mode limit)', async () => {
    const home = tempHome();
    const s = await serve(home);
    const c = await login(s);
    const request = await execToEnd(c, 'tsh', 'xConfiguration License Smart ReservationEnable: On\nxCommand License Smart Reservation Request\n');
    const code = /(CB-\S+)/.exec(request.stdout)?.[1] ?? '';
    const licences = JSON.parse((await runExsh(['--home', home, '--now', NOW, 'cssm', 'licenses', '--json'])).stdout) as Array<{
      license: string;
      tag: string;
    }>;
    const every = licences.filter((l) => !l.license.includes('PLR')).map((l) => `--license=${l.tag}=1`);
    const reserved = await runExsh(['--home', home, '--now', NOW, 'cssm', 'reserve', '--request', code, ...every]);
    expect(reserved.exitCode).toBe(0);
    const slr = reserved.stdout.trim();
    expect(slr.length).toBeGreaterThan(7000);
    const sh = await shell(c, {});
    await sh.until('banner', () => sh.text.endsWith('OK\r\n\r\n'));
    sh.send(`xCommand License Smart Reservation Install "${slr}"\r`);
    expect(await sh.waitFor('OK\r\n')).toContain('\r\nAuthorization code installed.\r\n');
    sh.send('xStatus License Smart Reservation Status\r');
    expect(await sh.waitFor('OK\r\n')).toContain('Status: "Reserved - Specific License Reservation"');
  });

  it('exec with a pty: CRLF and still no colour', async () => {
    const s = await serve(tempHome());
    const c = await login(s);
    const ch = await exec(c, 'xStatus SystemUnit Product', true);
    expect((await ch.exit).code).toBe(0);
    expect(ch.text).toBe('*s SystemUnit: /\r\n    Product: "Cisco Expressway-C"\r\n*s/end\r\n\r\nOK\r\n');
  });
});

describe('the root shell', () => {
  it('without a pty: no prompt; tsh runs the xAPI shell inside it until bye; exit leaves with its status', async () => {
    const s = await serve(tempHome());
    const c = await login(s, { username: 'root' });
    const sh = await shell(c);
    sh.send('tsh\nxStatus SystemUnit Product\nbye\nnosuch\nexit 3\n');
    expect(await sh.exit).toEqual({ code: 3, signal: undefined });
    expect(sh.text).toBe(`${BANNER}*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n`);
    expect(sh.stderr).toBe('-sh: nosuch: command not found (this root shell has tsh, tshell, factory-reset and exit)\n');
  });

  it("exec: `echo '<line>' | tsh`, tshell, and factory-reset with its flags, as scripts run them", async () => {
    const home = tempHome();
    const s = await serve(home);
    const c = await login(s, { username: 'root' });
    const piped = await execToEnd(c, 'echo \'xConfiguration SystemUnit Name: "piped"\' | tshell');
    expect(piped).toEqual({ stdout: `${BANNER}\nOK\n`, stderr: '', code: 0 });
    const reset = await execToEnd(c, 'factory-reset -t --keep smart-licensing --yes');
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain('Keep smart licensing settings [YES/NO]? yes\n\nAre you sure you want to continue [YES/NO]? yes\nFactory reset done:');
    expect((await execToEnd(c, 'echo xConfiguration SystemUnit Name | tsh')).stdout).toBe(`${BANNER}*c xConfiguration SystemUnit Name: ""\n\nOK\n`);
    const missing = await execToEnd(c, 'factory-reset -o');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('[reset.optionKeysFlagRemoved]');
    // Without a pty the answers are read from the channel too, and shown after each question.
    const piped2 = await execToEnd(c, 'factory-reset -v', 'maybe\nyes\nyes\n');
    expect(piped2.code).toBe(0);
    expect(piped2.stdout).toMatch(
      /\nKeep brand and type of the device \[YES\/NO\]\? maybe\nPlease answer YES or NO\.\nKeep brand and type of the device \[YES\/NO\]\? yes\n\nAre you sure you want to continue \[YES\/NO\]\? yes\nFactory reset done: /,
    );
    const eof = await execToEnd(c, 'factory-reset -v', '');
    expect(eof.code).toBe(1);
    expect(eof.stderr).toBe('exsh: Factory reset cancelled; nothing was changed. [reset.cancelled]\n');
  });

  it('factory-reset asks its questions over the pty and reads the answers typed; Ctrl-C cancels with nothing changed', async () => {
    const home = tempHome();
    const s = await serve(home);
    const c = await login(s, { username: 'root' });
    const sh = await shell(c, {});
    await sh.waitFor('~ # ');
    sh.send('echo xConfiguration SystemUnit Name: kept-until-reset | tsh\r');
    await sh.waitFor('OK\r\n~ # ');
    sh.send('factory-reset -t\r');
    expect(await sh.waitFor('[YES/NO]? ')).toBe(
      'factory-reset -t\r\n*****\r\nWarning! This operation resets the unit to factory default settings!\r\n*****\r\n\r\nTo cancel operation before final confirmation press Ctrl+C\r\nKeep smart licensing settings [YES/NO]? ',
    );
    sh.send('yes\r');
    expect(await sh.waitFor('continue [YES/NO]? ')).toBe('yes\r\n\r\nAre you sure you want to continue [YES/NO]? ');
    sh.send('\x03');
    expect(await sh.waitFor('~ # ')).toBe('^C\r\nexsh: Factory reset cancelled; nothing was changed. [reset.cancelled]\r\n~ # ');
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name'])).stdout).toBe(
      '*c xConfiguration SystemUnit Name: "kept-until-reset"\n\nOK\n',
    );
    sh.send('factory-reset -t\r');
    await sh.waitFor('[YES/NO]? ');
    sh.send('no\r');
    await sh.waitFor('continue [YES/NO]? ');
    sh.send('yes\r');
    expect(await sh.waitFor('~ # ')).toMatch(/^yes\r\nFactory reset done: .*\r\n~ # $/s);
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xConfiguration SystemUnit Name'])).stdout).toBe(
      '*c xConfiguration SystemUnit Name: ""\n\nOK\n',
    );
    sh.send('tsh\r');
    await sh.waitFor('OK\r\n\r\n');
    sh.send('\x04');
    await sh.waitFor('~ # ');
    sh.send('exit\r');
    expect(await sh.exit).toEqual({ code: 0, signal: undefined });
  });
});
