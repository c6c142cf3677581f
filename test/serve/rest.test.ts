import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext, type CliContext } from '../../src/commands/context.js';
import { closeDatabases } from '../../src/cssm/db.js';
import { forgetPki, rootCertPath } from '../../src/pki/pki.js';
import { ramlDocument, ROUTES } from '../../src/serve/rest-api.js';
import { AUTHORIZATION_VALUES, REGISTRATION_VALUES, restDate, restValue } from '../../src/serve/rest-licensing.js';
import { startRestServer, type RestServer } from '../../src/serve/rest.js';
import { Session } from '../../src/shell/session.js';
import { cleanHomes, NOW, runExsh, tempHome } from '../helpers/exsh.js';
import { call as httpsCall, type HttpResult } from '../net/helpers.js';

/**
 * The Expressway REST API for licensing (§11, docs/rest.md), served in-process on a home
 * of its own and spoken to over real HTTPS (node:https trusting the home's root CA), with
 * one request made by a child process's global fetch (NODE_EXTRA_CA_CERTS), as a script
 * would. Tokens come from `exsh cssm tokens create` in the same home.
 */

const PASSWORD = 'lab-secret-42';
const STATUS_PATH = '/api/v1/status/common/smartlicensing/licensing';
const REGISTER_PATH = '/api/provisioning/common/smartlicensing/registration';

interface Served {
  home: string;
  ctx: CliContext;
  server: RestServer;
  ca: string;
  stderr: string[];
}

const servers: RestServer[] = [];

async function serve(opts: { devices?: string[]; brand?: 'VCS' } = {}): Promise<Served> {
  const home = tempHome('exsh-rest-');
  const stderr: string[] = [];
  const io = {
    stdin: process.stdin,
    stdout: new Writable({ write: (_c, _e, done) => done() }),
    stderr: new Writable({
      write: (c, _e, done) => {
        stderr.push(String(c));
        done();
      },
    }),
    env: {},
  };
  const ctx = createContext({ home, now: NOW, seed: '11', output: 'terminal', color: false, command: [] }, io);
  // Created (not just opened) as that brand before the server opens it.
  if (opts.brand) await (await ctx.device(opts.devices?.[0], { brand: opts.brand })).read();
  const server = await startRestServer({ ctx, host: '127.0.0.1', port: 0, devices: opts.devices ?? ['expressway'], password: PASSWORD });
  servers.push(server);
  const { readFileSync } = await import('node:fs');
  return { home, ctx, server, ca: readFileSync(rootCertPath(home), 'utf8'), stderr };
}

function call(
  s: Served,
  method: string,
  path: string,
  opts: { body?: string | Buffer; auth?: string | null; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const auth = opts.auth === undefined ? `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` : opts.auth;
  return httpsCall(`${s.server.url}${path}`, {
    ca: s.ca,
    method,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    chunked: opts.headers?.['transfer-encoding'] === 'chunked',
    headers: {
      ...(auth === null ? {} : { authorization: auth }),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
  });
}

const post = (s: Served, path: string, body: unknown) => call(s, 'POST', path, { body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Runs xAPI lines on the served device through the shell's own path (as a second front end would). */
async function shell(s: Served, ...lines: string[]): Promise<string> {
  const session = new Session({ device: await s.ctx.device('expressway') });
  let out = '';
  for (const line of lines) out += await session.text({ line });
  return out;
}

async function token(s: Served, ...args: string[]): Promise<string> {
  const r = await runExsh(['--home', s.home, '--now', NOW, 'cssm', 'tokens', 'create', ...args]);
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout.trim();
}

const UNREGISTERED = {
  ExportControlledFunctionality: 'False',
  VirtualAccount: '',
  SmartAccount: '',
  Authorization: { LicenseAuthorizationStatus: 'EVALUATION MODE', AuthorizationExpires: '', NextAuthorizationAttempt: '', LastAuthorizationAttempt: '' },
  Registration: { RegistrationStatus: 'UNREGISTERED', InitialRegistration: '', RegistrationExpires: '', NextRenewalAttempt: '' },
};

/** Registered at NOW (2026-01-01T00:00:00Z): renewals at +180 d and +30 d, expiries backdated 5 minutes (+365 d, +90 d). */
const REGISTERED = {
  ExportControlledFunctionality: 'True',
  VirtualAccount: 'Default',
  SmartAccount: 'Demo Smart Account',
  Authorization: {
    LicenseAuthorizationStatus: 'AUTHORIZED',
    AuthorizationExpires: 'March, 31 Mar 2026 23:55:00 GMT',
    NextAuthorizationAttempt: 'January, 31 Jan 2026 00:00:00 GMT',
    LastAuthorizationAttempt: 'January, 01 Jan 2026 00:00:00 GMT',
  },
  Registration: {
    RegistrationStatus: 'REGISTERED',
    InitialRegistration: 'January, 01 Jan 2026 00:00:00 GMT',
    RegistrationExpires: 'December, 31 Dec 2026 23:55:00 GMT',
    NextRenewalAttempt: 'June, 30 Jun 2026 00:00:00 GMT',
  },
};

const OK_OUTCOME = { RegistrationStatus: 'REGISTERED', LicenseAuthorizationStatus: 'AUTHORIZED', FailureReason: '', FailureCode: '', Warning: '' };

beforeAll(async () => {
  // The tokens come from the built CLI.
  expect((await runExsh(['--version'])).exitCode).toBe(0);
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  closeDatabases();
  forgetPki();
  cleanHomes();
});

describe('REST values', () => {
  it('dates: "<Month>, DD Mon YYYY HH:MM:SS GMT", in UTC; unset is empty', () => {
    expect(restDate('2020-02-05T05:59:04Z')).toBe('February, 05 Feb 2020 05:59:04 GMT');
    expect(restDate('2021-02-04T05:54:03.000Z')).toBe('February, 04 Feb 2021 05:54:03 GMT');
    expect(restDate('2020-08-03T05:59:04+02:00')).toBe('August, 03 Aug 2020 03:59:04 GMT');
    expect(restDate('2026-09-30T23:59:59Z')).toBe('September, 30 Sep 2026 23:59:59 GMT');
    expect(restDate('')).toBe('');
    expect(restDate('not a date')).toBe('');
  });

  it('status words: the tables of docs/rest.md, upper case; an unknown word upper-cased', () => {
    expect(restValue(REGISTRATION_VALUES, 'Registered')).toBe('REGISTERED');
    expect(restValue(REGISTRATION_VALUES, 'Unregistered : Registration Pending')).toBe('UNREGISTERED : REGISTRATION PENDING');
    expect(restValue(AUTHORIZATION_VALUES, 'Out-of-compliance')).toBe('OUT OF COMPLIANCE');
    expect(restValue(AUTHORIZATION_VALUES, 'Authorized - Reserved')).toBe('AUTHORIZED - RESERVED');
    expect(restValue(AUTHORIZATION_VALUES, 'Evaluation Mode')).toBe('EVALUATION MODE');
    expect(restValue(AUTHORIZATION_VALUES, 'Something New')).toBe('SOMETHING NEW');
    expect(restValue(AUTHORIZATION_VALUES, 'toString')).toBe('TOSTRING');
    for (const v of [...Object.values(REGISTRATION_VALUES), ...Object.values(AUTHORIZATION_VALUES)]) expect(v).toBe(v.toUpperCase());
  });
});

describe('GET status', () => {
  it('an unregistered device: every field, on both paths, as JSON with no-store', async () => {
    const s = await serve();
    for (const path of [STATUS_PATH, '/api/status/common/smartlicensing/licensing']) {
      const r = await call(s, 'GET', path);
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.json).toEqual(UNREGISTERED);
      // Field order as the REST API Summary Guide prints it.
      expect(Object.keys(r.json as object)).toEqual(['ExportControlledFunctionality', 'VirtualAccount', 'SmartAccount', 'Authorization', 'Registration']);
    }
    const head = await call(s, 'HEAD', STATUS_PATH);
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('a Cisco VCS: NOT APPLICABLE, and Register refused as the shell refuses it (409)', async () => {
    const s = await serve({ brand: 'VCS' });
    const r = await call(s, 'GET', STATUS_PATH);
    expect(r.json).toEqual({ ...UNREGISTERED, Authorization: { ...UNREGISTERED.Authorization, LicenseAuthorizationStatus: 'NOT APPLICABLE' } });
    const reg = await post(s, REGISTER_PATH, { Token: 'abc', Reregister: 'No' });
    expect(reg.status).toBe(409);
    expect((reg.json as { error: string }).error).toBe('license.notAvailableOnVcs');
  });
});

describe('registration through REST', () => {
  it('registers with a token of the same home; the status then shows it, as xStatus does', async () => {
    const s = await serve();
    await shell(s, 'xConfiguration IP DNS Domain Name: example.com');
    const t = await token(s);
    const reg = await post(s, REGISTER_PATH, { Reregister: 'No', Token: t });
    expect(reg.status).toBe(200);
    expect(reg.json).toEqual(OK_OUTCOME);
    const st = await call(s, 'GET', STATUS_PATH);
    expect(st.json).toEqual(REGISTERED);
    // The shell sees the same registration (one device, two front ends).
    const text = await shell(s, 'xStatus License Smart Registration Status');
    expect(text).toContain('Status: "Registered"');

    // Already registered: refused without Reregister, done again with it.
    const again = await post(s, REGISTER_PATH, { Token: t });
    expect(again.status).toBe(409);
    expect(again.json).toEqual({
      error: 'registration.alreadyRegistered',
      message: 'This product is already registered to the CSSM; use Force: True to register it again (deregister first to leave the CSSM).',
    });
    const forced = await post(s, '/api/v1/provisioning/common/smartlicensing/registration', { Token: t, Reregister: 'Yes' });
    expect(forced.status).toBe(200);
    expect(forced.json).toEqual(OK_OUTCOME);

    // Renewals and deregistration.
    for (const path of ['/api/provisioning/common/smartlicensing/renew/authorization', '/api/provisioning/common/smartlicensing/renew/registration']) {
      const r = await call(s, 'POST', path);
      expect({ path, status: r.status, json: r.json }).toEqual({ path, status: 200, json: OK_OUTCOME });
    }
    const dereg = await post(s, '/api/provisioning/common/smartlicensing/deregister', {});
    expect(dereg.status).toBe(200);
    expect(dereg.json).toEqual({
      RegistrationStatus: 'UNREGISTERED',
      LicenseAuthorizationStatus: 'EVALUATION MODE',
      FailureReason: '',
      FailureCode: '',
      Warning: '',
    });
    expect((await call(s, 'GET', STATUS_PATH)).json).toEqual(UNREGISTERED);
    const twice = await call(s, 'POST', '/api/provisioning/common/smartlicensing/deregister');
    expect(twice.status).toBe(409);
    expect((twice.json as { error: string }).error).toBe('registration.notRegistered');
    const renew = await call(s, 'POST', '/api/provisioning/common/smartlicensing/renew/authorization');
    expect(renew.status).toBe(409);
    expect((renew.json as { error: string }).error).toBe('registration.notRegistered');
  });

  it('the outcomes that are not a refusal are 200 with the failure: pending without DNS, failed with a bad token', async () => {
    const s = await serve();
    const t = await token(s);
    const pending = await post(s, REGISTER_PATH, { Token: t, Reregister: 'No' });
    expect(pending.status).toBe(200);
    expect(pending.json).toEqual({
      RegistrationStatus: 'UNREGISTERED : REGISTRATION PENDING',
      LicenseAuthorizationStatus: 'EVALUATION MODE',
      FailureReason:
        'The last attempt to renew smart software licensing registration is in progress because of the following reason: HTTP Server Error 200: Operation timed out.',
      FailureCode: 'registration.unreachable',
      Warning: '',
    });
    const st = (await call(s, 'GET', STATUS_PATH)).json as typeof UNREGISTERED;
    expect(st.Registration).toEqual({
      RegistrationStatus: 'UNREGISTERED : REGISTRATION PENDING',
      InitialRegistration: '',
      RegistrationExpires: '',
      NextRenewalAttempt: 'January, 01 Jan 2026 00:15:00 GMT',
    });

    await shell(s, 'xConfiguration IP DNS Domain Name: example.com');
    const bad = await post(s, REGISTER_PATH, { Token: `${t.slice(0, -8)}AAAAAAA=`, Reregister: 'No' });
    expect(bad.status).toBe(200);
    expect(bad.json).toEqual({
      RegistrationStatus: 'UNREGISTERED : REGISTRATION FAILED',
      LicenseAuthorizationStatus: 'EVALUATION MODE',
      FailureReason: 'Product registration failed because the token is invalid or expired',
      FailureCode: 'registration.tokenInvalid',
      Warning: '',
    });
  });

  it("refused while license reservation is enabled (409, the shell's code and sentence)", async () => {
    const s = await serve();
    await shell(s, 'xConfiguration License Smart ReservationEnable: On');
    const r = await post(s, REGISTER_PATH, { Token: 'abc' });
    expect(r.status).toBe(409);
    expect(r.json).toEqual({
      error: 'registration.reservationEnabled',
      message:
        'This product cannot be registered while license reservation is enabled; turn it off first with xConfiguration License Smart ReservationEnable: Off.',
    });
  });

  it('one request made by a script: global fetch in a child process trusting the root CA (NODE_EXTRA_CA_CERTS)', async () => {
    const s = await serve();
    await shell(s, 'xConfiguration IP DNS Domain Name: example.com');
    const t = await token(s);
    const script = join(s.home, 'register.mjs');
    writeFileSync(
      script,
      `const [url, password, token] = process.argv.slice(2);
const auth = 'Basic ' + Buffer.from('admin:' + password).toString('base64');
const reg = await fetch(url + '/api/provisioning/common/smartlicensing/registration', {
  method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ Reregister: 'Yes', Token: token }) });
const st = await fetch(url + '/api/status/common/smartlicensing/licensing', { headers: { authorization: auth } });
console.log(JSON.stringify({ register: reg.status, status: await st.json() }));
`,
    );
    const r = await execa(process.execPath, [script, s.server.url, PASSWORD, t], { env: { NODE_EXTRA_CA_CERTS: rootCertPath(s.home) }, reject: false });
    expect(r.stderr).toBe('');
    expect(JSON.parse(String(r.stdout))).toEqual({ register: 200, status: REGISTERED });
  });
});

describe('several devices', () => {
  it('the first answers; ?device= picks another; an unknown one is 404', async () => {
    const s = await serve({ devices: ['expressway', 'edge'] });
    await shell(s, 'xConfiguration IP DNS Domain Name: example.com');
    const t = await token(s);
    expect((await post(s, REGISTER_PATH, { Token: t })).status).toBe(200);
    expect(((await call(s, 'GET', STATUS_PATH)).json as typeof REGISTERED).Registration.RegistrationStatus).toBe('REGISTERED');
    expect((await call(s, 'GET', `${STATUS_PATH}?device=expressway`)).json).toEqual(REGISTERED);
    expect((await call(s, 'GET', `${STATUS_PATH}?device=edge`)).json).toEqual(UNREGISTERED);
    const unknown = await call(s, 'GET', `${STATUS_PATH}?device=core`);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'rest.unknownDevice', message: "No device 'core' is served here; the devices are expressway, edge." });
  });
});

describe('authentication', () => {
  it('wrong password, wrong user, no header, not Basic: 401 with the realm, a JSON body, after a delay', async () => {
    const s = await serve();
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const cases = [
      basic('admin', 'wrong'),
      basic('root', PASSWORD),
      basic('admin', `${PASSWORD}x`),
      basic('admin', ''),
      null,
      'Bearer abc',
      'Basic',
      `Basic ${Buffer.from('admin').toString('base64')}`,
    ];
    const t0 = Date.now();
    const answers = await Promise.all(cases.map((auth) => call(s, 'GET', STATUS_PATH, { auth })));
    // Each refusal waits (REFUSAL_DELAY_MS, as SSH does); side by side here.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    answers.forEach((r, i) => {
      expect({ auth: cases[i], status: r.status, realm: r.headers['www-authenticate'], json: r.json }).toEqual({
        auth: cases[i],
        status: 401,
        realm: 'Basic realm="Expressway"',
        json: { error: 'rest.unauthorized', message: 'Authentication is required: HTTP Basic with user admin and the password of exsh serve.' },
      });
    });
    // Authentication comes first: an unknown path or a POST is not revealed, and nothing runs.
    const hidden = await Promise.all([
      call(s, 'GET', '/nope', { auth: null }),
      call(s, 'POST', REGISTER_PATH, { auth: basic('admin', 'x'), body: '{"Token":"abc"}' }),
      call(s, 'GET', '/api/raml', { auth: null }),
    ]);
    expect(hidden.map((r) => r.status)).toEqual([401, 401, 401]);
    expect((await call(s, 'GET', STATUS_PATH)).json).toEqual(UNREGISTERED);
  });
});

describe('bad requests', () => {
  it('bad JSON, a missing or invalid field, an unknown field: 400 naming it', async () => {
    const s = await serve();
    const cases: Array<[unknown, object]> = [
      ['{"Token": ', { error: 'rest.badJson', message: 'The request body is not JSON.' }],
      ['', { error: 'rest.badJson', message: 'The request body is not JSON.' }],
      ['[1]', { error: 'rest.badJson', message: 'The request body must be a JSON object.' }],
      [{}, { error: 'rest.badField', field: 'Token', message: 'Token is required: the product instance registration token from the CSSM.' }],
      [{ Token: 42 }, { error: 'rest.badField', field: 'Token', message: 'Token must be a string.' }],
      [{ Token: '' }, { error: 'rest.badField', field: 'Token', message: 'Token must be 1 to 1024 characters.' }],
      [{ Token: 'x'.repeat(1025) }, { error: 'rest.badField', field: 'Token', message: 'Token must be 1 to 1024 characters.' }],
      [{ Token: 'ab\ncd' }, { error: 'rest.badField', field: 'Token', message: 'Token must not contain control characters (a line break, a tab).' }],
      [
        { Token: 'abc', Reregister: 'Maybe' },
        { error: 'rest.badField', field: 'Reregister', message: 'Reregister must be "Yes" or "No".' },
      ],
      [
        { Token: 'abc', Reregister: true },
        { error: 'rest.badField', field: 'Reregister', message: 'Reregister must be "Yes" or "No".' },
      ],
      [{ token: 'abc' }, { error: 'rest.badField', field: 'token', message: 'Unknown field token: the fields are Token and Reregister.' }],
    ];
    for (const [body, expected] of cases) {
      const r = await post(s, REGISTER_PATH, body);
      expect({ body, status: r.status, json: r.json }).toEqual({ body, status: 400, json: expected });
    }
    const extra = await post(s, '/api/provisioning/common/smartlicensing/deregister', { Force: true });
    expect(extra.status).toBe(400);
    expect(extra.json).toEqual({ error: 'rest.badField', field: 'Force', message: 'Unknown field Force: this request takes no fields.' });
    // Nothing of it reached the device.
    expect((await call(s, 'GET', STATUS_PATH)).json).toEqual(UNREGISTERED);
  });

  it('a token with quotes and backslashes reaches the device as one value (no xAPI injection)', async () => {
    const s = await serve();
    await shell(s, 'xConfiguration IP DNS Domain Name: example.com');
    const r = await post(s, REGISTER_PATH, { Token: 'a" Force: True \\" xCommand Boot' });
    expect(r.status).toBe(200);
    expect((r.json as { RegistrationStatus: string }).RegistrationStatus).toBe('UNREGISTERED : REGISTRATION FAILED');
  });

  it('unknown path 404, wrong method 405 with Allow, body over 1 MiB 413; JSON bodies, no stack', async () => {
    const s = await serve();
    const notFound = await call(s, 'GET', '/api/v1/status/common/smartlicensing/nope');
    expect(notFound.status).toBe(404);
    expect(notFound.json).toEqual({
      error: 'rest.notFound',
      message: 'No such resource: /api/v1/status/common/smartlicensing/nope (GET /api/raml lists what is served).',
    });
    const getRegister = await call(s, 'GET', REGISTER_PATH);
    expect(getRegister.status).toBe(405);
    expect(getRegister.headers.allow).toBe('POST');
    expect(getRegister.json).toEqual({
      error: 'rest.methodNotAllowed',
      message: 'GET is not allowed on /api/provisioning/common/smartlicensing/registration; use POST.',
    });
    const postStatus = await call(s, 'DELETE', STATUS_PATH);
    expect(postStatus.status).toBe(405);
    expect(postStatus.headers.allow).toBe('GET, HEAD');
    const big = await call(s, 'POST', REGISTER_PATH, { body: Buffer.alloc((1 << 20) + 1, 0x20) });
    expect(big.status).toBe(413);
    expect(big.json).toEqual({ error: 'rest.tooLarge', message: 'The request body is larger than 1048576 bytes.' });
    // Streamed without a length: refused at the limit too.
    const chunked = await call(s, 'POST', REGISTER_PATH, { body: Buffer.alloc(3 << 20, 0x20), headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(413);
    for (const r of [notFound, getRegister, postStatus, big, chunked]) expect(r.text).not.toMatch(/ at |\.ts:|\.js:/);
  });

  it('a store that cannot be used is 503 with its code', async () => {
    const s = await serve();
    expect((await call(s, 'GET', STATUS_PATH)).status).toBe(200);
    const db = new Database(join(s.home, 'exsh.sqlite'));
    db.prepare('UPDATE device SET document = \'{"schemaVersion": 1, "identity": 7}\', revision = revision + 1 WHERE name = \'expressway\'').run();
    db.close();
    const r = await call(s, 'GET', STATUS_PATH);
    expect(r.status).toBe(503);
    expect((r.json as { error: string }).error).toBe('store.corrupt');
    expect(r.text).not.toMatch(/ at |\.ts:/);
  });
});

describe('GET /api/raml', () => {
  it('a RAML 1.0 document of exactly what is served', async () => {
    const s = await serve({ devices: ['expressway', 'edge'] });
    const r = await call(s, 'GET', '/api/raml');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/raml+yaml; charset=utf-8');
    expect(r.text).toBe(ramlDocument({ url: s.server.url, devices: ['expressway', 'edge'] }));
    expect(r.text.startsWith('#%RAML 1.0\n')).toBe(true);
    expect(r.text).toContain(`baseUri: "${s.server.url}"`);
    // The resources it lists are the routes, each with its one method; nothing else is a resource.
    const resources = [...r.text.matchAll(/^(\/\S+):\n {2}(get|post):$/gm)].map((m) => `${(m[2] as string).toUpperCase()} ${m[1]}`);
    expect(resources).toEqual(ROUTES.map((x) => `${x.method} ${x.path}`));
    expect(r.text.match(/^\/.*:$/gm)?.length).toBe(ROUTES.length);
    for (const route of ROUTES) {
      const answered = await call(s, route.method, route.path, route.method === 'POST' ? { body: '{}' } : {});
      expect({ route: route.path, notFound: answered.status === 404 || answered.status === 405 }).toEqual({ route: route.path, notFound: false });
    }
    for (const word of [...Object.values(REGISTRATION_VALUES), ...Object.values(AUTHORIZATION_VALUES)]) expect(r.text).toContain(`- "${word}"`);
    // Plain YAML: no tabs, every line indented by two.
    for (const line of r.text.split('\n')) expect(/^( {2})*\S|^$/.test(line)).toBe(true);
  });
});
