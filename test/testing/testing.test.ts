import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
// The package export itself, resolved through package.json "exports" (self-reference):
// what a user's test imports, built by `npm run build` (dist/testing.cjs, dist/testing.d.cts).
import { startDevice, type RunResult, type TestDevice } from 'exsh/testing';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';

/**
 * `exsh/testing` (§11, docs/testing.md): isolated devices, each in its own home, driven
 * through this package's CLI; stop() leaves no process and no file behind.
 */

const started: TestDevice[] = [];

async function device(opts: Parameters<typeof startDevice>[0] = {}): Promise<TestDevice> {
  const d = await startDevice(opts);
  started.push(d);
  return d;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.stop()));
});

/** The processes whose command line mentions this text (Linux /proc). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function field(text: string, name: string): string | undefined {
  return new RegExp(`${name}: "([^"]*)"`).exec(text)?.[1];
}

const BIN = fileURLToPath(new URL('../../bin/exsh.cjs', import.meta.url));
/** `exsh serve` (SSH and REST front ends) is built by another part of the project; its tests run once it exists. */
const serveAvailable = String(spawnSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' }).stdout).includes('--ssh');

describe('exsh/testing', () => {
  it('has the types it documents (checked by tsc on this file)', () => {
    expectTypeOf(startDevice).parameter(0).toEqualTypeOf<import('exsh/testing').StartDeviceOptions | undefined>();
    expectTypeOf(startDevice).returns.resolves.toEqualTypeOf<TestDevice>();
    expectTypeOf<TestDevice['run']>().returns.resolves.toEqualTypeOf<RunResult>();
    expectTypeOf<RunResult>().toEqualTypeOf<{ stdout: string; stderr: string; exitCode: number }>();
    expectTypeOf<TestDevice['ssh']>().toEqualTypeOf<import('exsh/testing').SshEndpoint | undefined>();
    expectTypeOf<TestDevice['rest']>().toEqualTypeOf<import('exsh/testing').RestEndpoint | undefined>();
  });

  it('a device in a private home: 0700, seeded identity, pinned clock; run() returns output and exit status', async () => {
    const d = await device({ seed: 7, now: '2026-03-01T10:00:00Z' });
    expect(d.name).toBe('expressway');
    expect(statSync(d.home).mode & 0o777).toBe(0o700);
    const r = await d.run(['xCommand Simulator Clock Advance Minutes: 15', 'xStatus SystemUnit Hardware SerialNumber']);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    expect(field(r.stdout, 'Time')).toBe('2026-03-01T10:15:00Z');
    const again = await device({ seed: 7 });
    expect(field((await again.run('xStatus SystemUnit Hardware SerialNumber')).stdout, 'SerialNumber')).toBe(field(r.stdout, 'SerialNumber'));
    const bad = await d.run('xStatus SystemUnit NoSuchThing');
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain('ERROR');
    // A line that starts with a dash is a line, not an option.
    const dash = await d.run('-c');
    expect(dash.exitCode).toBe(1);
    expect(dash.stdout).toBe('Command not recognized.\n');
  });

  it('two devices in parallel do not see each other', async () => {
    const [a, b] = await Promise.all([device({ seed: 1 }), device({ seed: 1 })]);
    expect(a.home).not.toBe(b.home);
    await Promise.all([a.run('xConfiguration SystemUnit Name: "alpha"'), b.run('xConfiguration SystemUnit Name: "bravo"')]);
    const [ra, rb] = await Promise.all([a.run('xConfiguration SystemUnit Name'), b.run('xConfiguration SystemUnit Name')]);
    expect(ra.stdout).toBe('*c xConfiguration SystemUnit Name: "alpha"\n\nOK\n');
    expect(rb.stdout).toBe('*c xConfiguration SystemUnit Name: "bravo"\n\nOK\n');
    // A token made in one home is unknown to the other's CSSM.
    await Promise.all([a.run('xConfiguration IP DNS Domain Name: example.com'), b.run('xConfiguration IP DNS Domain Name: example.com')]);
    const t = await a.cssm.createToken({ description: 'isolation' });
    const onB = await b.run(`xCommand License Smart Register IdToken: ${t}`);
    expect(field(onB.stdout, 'Registration')).toBe('Unregistered : Registration Failed');
    const onA = await a.run(`xCommand License Smart Register IdToken: ${t}`);
    expect(field(onA.stdout, 'Registration')).toBe('Registered');
    expect((await a.cssm.run(['instances'])).stdout).toContain('Registered');
    expect((await b.cssm.run(['instances'])).stdout).not.toContain('Registered');
  });

  it("the caller's EXSH_* and colour settings do not reach the device", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { EXSH_HOME: '/nonexistent/exsh', EXSH_DEVICE: 'other', EXSH_NOW: 'garbage', EXSH_SEED: '99', FORCE_COLOR: '3' });
    try {
      const d = await device({ name: 'lab', brand: 'VCS' });
      const r = await d.run('xStatus License Smart Authorization Status');
      expect(r).toEqual({
        stdout: '*s License: /\n    Smart:\n      Authorization:\n        Status: "Not Applicable"\n*s/end\n\nOK\n',
        stderr: '',
        exitCode: 0,
      });
      expect((await d.exsh(['devices', 'list'])).stdout).toMatch(/^Name\s+.*\nlab\s/);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('exsh() runs any subcommand with the home; batch input through stdin; the home is the working directory', async () => {
    const d = await device({ now: '2026-01-01T00:00:00Z' });
    const batch = await d.exsh([], { input: 'xConfiguration SystemUnit Name: "piped"\nxConfiguration SystemUnit Name\n' });
    expect(batch.exitCode).toBe(0);
    expect(batch.stdout).toContain('*c xConfiguration SystemUnit Name: "piped"');
    expect((await d.exsh(['backup', 'create', 'b.json'])).exitCode).toBe(0);
    expect(existsSync(`${d.home}/b.json`)).toBe(true);
    expect((await d.exsh(['--no-such-flag'])).exitCode).toBe(2);
  });

  it('stop() removes the home and ends whatever still runs; a stopped device refuses to run; stop() twice is fine', async () => {
    const d = await startDevice();
    const { home } = d;
    // A run that goes on until it is stopped: the CSSM served over HTTPS.
    const serving = d.cssm.run(['serve', '--json']);
    for (let i = 0; i < 200 && !existsSync(`${home}/cssm/serve.json`); i++) await new Promise((r) => setTimeout(r, 25));
    expect(processesMentioning(home).length).toBeGreaterThan(0);
    await d.stop();
    expect((await serving).exitCode).toBe(0);
    await d.stop();
    expect(existsSync(home)).toBe(false);
    expect(processesMentioning(home)).toEqual([]);
    await expect(d.run('xStatus SystemUnit')).rejects.toThrow("exsh/testing: device 'expressway' was stopped; start another with startDevice().");
  });

  it('a device that cannot be created fails startDevice and leaves no home', async () => {
    const before = new Set(readdirSync((await import('node:os')).tmpdir()).filter((n) => n.startsWith('exsh-testing-')));
    await expect(startDevice({ name: 'bad name!' })).rejects.toThrow(/could not create device 'bad name!' \(exit 2\)/);
    const after = readdirSync((await import('node:os')).tmpdir()).filter((n) => n.startsWith('exsh-testing-') && !before.has(n));
    expect(after).toEqual([]);
  });
});

describe.skipIf(!serveAvailable)('exsh/testing with servers (exsh serve)', () => {
  it('https: the REST API answers with the given password and CA; ssh: an endpoint; stop() ends the server', async () => {
    const d = await device({ seed: 3, now: '2026-01-01T00:00:00Z', ssh: true, https: true });
    const rest = d.rest;
    const ssh = d.ssh;
    if (!rest || !ssh) throw new Error('no endpoints');
    expect(rest.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(rest.username).toBe('admin');
    expect(rest.ca).toContain('BEGIN CERTIFICATE');
    expect(ssh).toMatchObject({ host: '127.0.0.1', username: 'admin', password: rest.password });
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const auth = `Basic ${Buffer.from(`${rest.username}:${rest.password}`).toString('base64')}`;
      httpsRequest(`${rest.url}/api/status/common/smartlicensing/licensing`, { ca: rest.ca, headers: { authorization: auth } }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on('error', reject)
        .end();
    });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body).Registration.RegistrationStatus).toBe('UNREGISTERED');
    // The SSH endpoint takes the same password: one line over exec, as netmiko or paramiko would.
    const { Client } = (await import('ssh2')).default;
    const line = await new Promise<string>((resolve, reject) => {
      const c = new Client();
      c.on('ready', () =>
        c.exec('xStatus SystemUnit Hardware SerialNumber', (e, ch) => {
          if (e) return reject(e);
          let out = '';
          ch.on('data', (d: Buffer) => (out += d));
          ch.on('close', () => {
            c.end();
            resolve(out);
          });
        }),
      )
        .on('error', reject)
        .connect({ host: ssh.host, port: ssh.port, username: ssh.username, password: ssh.password });
    });
    expect(line).toBe((await d.run('xStatus SystemUnit Hardware SerialNumber')).stdout);
    expect(ssh.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const { home } = d;
    const port = Number(new URL(rest.url).port);
    await d.stop();
    expect(existsSync(home)).toBe(false);
    expect(processesMentioning(home)).toEqual([]);
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('https alone: no ssh endpoint is given', async () => {
    const d = await device({ https: true });
    expect(d.ssh).toBeUndefined();
    expect(d.rest?.url).toMatch(/^https:/);
  });
});
