import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { createProxy } from 'proxy';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanHomes, NOW, runExsh, spawnExsh, tempHome } from '../helpers/exsh.js';

/**
 * Connected mode end to end (§9), with real parts: `exsh cssm serve` as a separate
 * process, real HTTPS, a real HTTP proxy with Basic auth, real processes for every
 * device command.
 */

afterEach(cleanHomes);

interface Served {
  stop(): Promise<void>;
  urls: { base: string; cloud: string; onPrem: string; api: string; oauth: string };
  rootCaPath: string;
  client: { id: string; secret: string };
}

const servers: Served[] = [];
afterAll(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function serve(home: string): Promise<Served> {
  const child = spawnExsh(['--home', home, '--now', NOW, 'cssm', 'serve', '--json']);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 25));
  const info = JSON.parse(out.split('\n')[0] ?? '{}') as Omit<Served, 'stop'>;
  const served: Served = {
    ...info,
    stop: async () => {
      child.kill('SIGTERM');
      await child.catch(() => undefined);
    },
  };
  servers.push(served);
  return served;
}

const dev = (home: string, ...lines: string[]) => runExsh(['--home', home, '--now', NOW, ...lines.flatMap((l) => ['-c', l])]);

function field(text: string, name: string): string | undefined {
  return new RegExp(`\\b${name}: "([^"]*)"`).exec(text)?.[1];
}

async function token(home: string, ...args: string[]): Promise<string> {
  const r = await runExsh(['--home', home, '--now', NOW, 'cssm', 'tokens', 'create', ...args]);
  expect(r.exitCode).toBe(0);
  return r.stdout.trim();
}

async function instances(home: string): Promise<Record<string, unknown>[]> {
  const r = await runExsh(['--home', home, '--now', NOW, 'cssm', 'instances', '--json']);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe('against exsh cssm serve, over HTTPS', () => {
  it('register over the On-Prem URL, renew on schedule, expire offline, recover, deregister', async () => {
    const home = tempHome();
    const served = await serve(home);
    const t = await token(home, '--description', 'e2e');
    const reg = await dev(
      home,
      'xConfiguration License Smart Transport Mode: OnPrem',
      `xConfiguration License Smart Transport OnPrem Url: ${served.urls.onPrem}`,
      `xCommand License Smart Register IdToken: ${t}`,
    );
    expect(reg.exitCode).toBe(0);
    expect(field(reg.stdout, 'Registration')).toBe('Registered');
    let status = (await dev(home, 'xStatus License Smart')).stdout;
    expect(field(status, 'SmartAccount')).toBe('Demo Smart Account');
    expect(field(status, 'VirtualAccount')).toBe('Default');
    expect(field(status, 'Url')).toBe(served.urls.onPrem);

    await dev(home, 'xCommand Simulator Clock Advance Days: 200');
    const [instance] = await instances(home);
    const registration = instance?.registration as Record<string, unknown>;
    expect(registration.renewals).toEqual({ id: 1, auth: 6 });
    expect(instance?.lastContact).toBe('2026-06-30T00:00:00.000Z');

    await dev(home, 'xCommand Simulator Network Cssm Reachable: False', 'xCommand Simulator Clock Advance Days: 91');
    status = (await dev(home, 'xStatus License Smart Authorization Status')).stdout;
    expect(field(status, 'Status')).toBe('Authorization Expired');
    await dev(home, 'xCommand Simulator Network Cssm Reachable: True', 'xCommand Simulator Clock Advance Minutes: 15');
    expect(field((await dev(home, 'xStatus License Smart Authorization Status')).stdout, 'Status')).toBe('Authorized');

    const de = await dev(home, 'xCommand License Smart Deregister');
    expect(de.stdout).not.toContain('by hand');
    expect(await instances(home)).toEqual([]);
  });

  it('Direct finds the running server; a server that goes away leaves the device Pending, retrying', async () => {
    const home = tempHome();
    const served = await serve(home);
    const t = await token(home);
    await dev(home, 'xConfiguration IP DNS Domain Name: example.com');
    const reg = await dev(home, `xCommand License Smart Register IdToken: ${t}`, 'xStatus License Smart Transport Url');
    expect(field(reg.stdout, 'Registration')).toBe('Registered');
    expect(field(reg.stdout, 'Url')).toBe(served.urls.cloud);
    await served.stop();
    servers.splice(servers.indexOf(served), 1);
    const u = await dev(home, `xCommand License Smart Register IdToken: ${t} Force: True`);
    // With the server gone Direct falls back to the CSSM in-process: the same database answers.
    expect(field(u.stdout, 'Registration')).toBe('Registered');
    await dev(
      home,
      'xCommand License Smart Deregister',
      'xConfiguration License Smart Transport Mode: OnPrem',
      `xConfiguration License Smart Transport OnPrem Url: ${served.urls.onPrem}`,
    );
    const onPrem = await dev(home, `xCommand License Smart Register IdToken: ${t}`);
    expect(field(onPrem.stdout, 'Registration')).toBe('Unregistered : Registration Pending');
    expect(field(onPrem.stdout, 'FailureReason')).toBe(
      'The last attempt to renew smart software licensing registration is in progress because of the following reason: HTTP Server Error 200: Operation timed out.',
    );
  });

  it('automation: a token made through the Smart Account API with fetch registers a device', async () => {
    const home = tempHome();
    const served = await serve(home);
    const script = join(home, 'make-token.mjs');
    writeFileSync(
      script,
      `const [oauth, api, id, secret] = process.argv.slice(2);
const auth = await fetch(oauth, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }) });
const { access_token } = await auth.json();
const r = await fetch(api + '/accounts/Demo%20Smart%20Account/virtual-accounts/Default/tokens', { method: 'POST',
  headers: { authorization: 'Bearer ' + access_token, 'content-type': 'application/json' },
  body: JSON.stringify({ description: 'ci', expiresAfterDays: 30, exportControlled: 'Not Allowed' }) });
const body = await r.json();
console.log(body.tokenInfo.token);
`,
    );
    const { execa } = await import('execa');
    const made = await execa(process.execPath, [script, served.urls.oauth, served.urls.api, served.client.id, served.client.secret], {
      env: { NODE_EXTRA_CA_CERTS: served.rootCaPath },
      reject: false,
    });
    expect(made.stderr).toBe('');
    const t = String(made.stdout).trim();
    const reg = await dev(
      home,
      'xConfiguration IP DNS Domain Name: example.com',
      `xCommand License Smart Register IdToken: ${t}`,
      'xStatus License Smart ExportControlled',
    );
    expect(field(reg.stdout, 'Registration')).toBe('Registered');
    expect(field(reg.stdout, 'ExportControlled')).toBe('Not Allowed');
  });

  it('20 devices registering at once with a token of 10 uses: exactly 10 are Registered', async () => {
    const home = tempHome();
    const served = await serve(home);
    const t = await token(home, '--max-uses', '10');
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        runExsh([
          '--home',
          home,
          '--now',
          NOW,
          '--device',
          `d${i}`,
          '--cssm-url',
          served.urls.base,
          '-c',
          'xConfiguration IP DNS Domain Name: example.com',
          '-c',
          `xCommand License Smart Register IdToken: ${t}`,
        ]),
      ),
    );
    const outcomes = runs.map((r) => field(r.stdout, 'Registration'));
    expect(outcomes.filter((o) => o === 'Registered')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'Unregistered : Registration Failed')).toHaveLength(10);
    expect(await instances(home)).toHaveLength(10);
  }, 120_000);
});

describe('through an HTTP proxy', () => {
  it('CONNECT with Basic auth registers; a wrong password is Pending with the 407; an intercepting proxy is unknown CA', async () => {
    const home = tempHome();
    const served = await serve(home);
    const proxy = createProxy(createServer());
    proxy.authenticate = (req) => req.headers['proxy-authorization'] === `Basic ${Buffer.from('lab:secret').toString('base64')}`;
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const port = (proxy.address() as { port: number }).port;
    try {
      const settings = (password: string) => [
        'xConfiguration IP DNS Domain Name: example.com',
        'xConfiguration License Smart Transport Mode: Proxy',
        'xConfiguration License Smart Transport Proxy Address: 127.0.0.1',
        `xConfiguration License Smart Transport Proxy Port: ${port}`,
        'xConfiguration License Smart Transport Proxy Username: lab',
        `xConfiguration License Smart Transport Proxy Password: ${password}`,
      ];
      const t = await token(home);
      const wrong = await dev(home, ...settings('guess'), `xCommand License Smart Register IdToken: ${t}`);
      expect(field(wrong.stdout, 'Registration')).toBe('Unregistered : Registration Pending');
      expect(field(wrong.stdout, 'FailureReason')).toBe(
        'The last attempt to renew smart software licensing registration is in progress because of the following reason: HTTP Proxy Error 407: Proxy Authentication Required.',
      );
      expect(wrong.stdout).not.toContain('guess');
      const right = await runExsh([
        '--home',
        home,
        '--now',
        NOW,
        '--cssm-url',
        served.urls.base,
        ...[...settings('secret'), `xCommand License Smart Register IdToken: ${t}`].flatMap((l) => ['-c', l]),
      ]);
      expect(field(right.stdout, 'Registration')).toBe('Registered');
    } finally {
      proxy.close();
    }

    const mitm = await interceptingProxy();
    try {
      const other = tempHome();
      await serve(other);
      const t = await token(other);
      const r = await dev(
        other,
        'xConfiguration IP DNS Domain Name: example.com',
        'xConfiguration License Smart Transport Mode: Proxy',
        'xConfiguration License Smart Transport Proxy Address: 127.0.0.1',
        `xConfiguration License Smart Transport Proxy Port: ${mitm.port}`,
        `xCommand License Smart Register IdToken: ${t}`,
      );
      expect(field(r.stdout, 'Registration')).toBe('Unregistered : Registration Pending');
      expect(field(r.stdout, 'FailureReason')).toBe(
        'The last attempt to renew smart software licensing registration is in progress because of the following reason: unknown CA',
      );
      expect(field(r.stdout, 'FailureCode')).toBe('registration.unknownCa');
    } finally {
      mitm.server.close();
    }
  }, 60_000);
});

/** A proxy that accepts CONNECT and terminates TLS itself, with a certificate of another CA. */
async function interceptingProxy(): Promise<{ server: Server; port: number }> {
  const { createTestCa } = await import('../../src/pki/pki.js');
  const tls = await import('node:tls');
  const ca = await createTestCa('Intercepting Proxy CA');
  const leaf = await ca.issueServer(['localhost', '127.0.0.1']);
  const server = createServer();
  server.on('connect', (_req, socket) => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const secure = new tls.TLSSocket(socket, { isServer: true, key: leaf.keyPem, cert: leaf.certPem });
    secure.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}
