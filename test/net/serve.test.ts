import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CssmEnv } from '../../src/cssm/service.js';
import { isExshError, storeError } from '../../src/errors.js';
import { createLink } from '../../src/net/link.js';
import { readServeRecord, serveRecordPath } from '../../src/net/record.js';
import { startCssmServer, type CssmServer } from '../../src/net/serve.js';
import type { RegisterReply } from '../../src/protocol/messages.js';
import { seededRng } from '../../src/random.js';
import { call, cleanHomes, DIRECT, newToken, registerRequest, T0, tempHome, testEnv, type HttpResult } from './helpers.js';

const servers: CssmServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  cleanHomes();
});

async function serve(home = tempHome(), env: CssmEnv = testEnv(home)): Promise<{ server: CssmServer; ca: string; home: string; env: CssmEnv }> {
  const server = await startCssmServer({ home, env });
  servers.push(server);
  return { server, ca: readFileSync(server.rootCaPath, 'utf8'), home, env };
}

async function accessToken(server: CssmServer, ca: string, url = server.urls.oauth): Promise<string> {
  const r = await call(url, {
    ca,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: server.client.id, client_secret: server.client.secret }).toString(),
  });
  expect(r.status).toBe(200);
  return (r.json as { access_token: string }).access_token;
}

const ACCOUNT = encodeURIComponent('Demo Smart Account');

function tokensUrl(server: CssmServer, account = ACCOUNT, va = 'Default'): string {
  return `${server.urls.api}/accounts/${account}/virtual-accounts/${va}/tokens`;
}

function expectJson(r: HttpResult, status: number, body: unknown): void {
  expect({ status: r.status, type: r.headers['content-type'], body: r.json }).toEqual({ status, type: 'application/json; charset=utf-8', body });
}

describe('cssm serve: OAuth client credentials', () => {
  it('issues a bearer token for the right client, form-encoded or JSON, cloud or On-Prem path', async () => {
    const { server, ca } = await serve();
    expect(server.client.id).toMatch(/^[0-9a-f]{24}$/);
    expect(server.client.secret.length).toBeGreaterThanOrEqual(32);
    const form = await call(server.urls.oauth, {
      ca,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${server.client.id}&client_secret=${encodeURIComponent(server.client.secret)}`,
    });
    expect(form.status).toBe(200);
    expect(form.headers['cache-control']).toBe('no-store');
    const issued = form.json as { access_token: string; token_type: string; expires_in: number };
    expect({ type: issued.token_type, expires: issued.expires_in }).toEqual({ type: 'Bearer', expires: 3600 });
    expect(issued.access_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);

    const json = await call(server.urls.onPremOauth, {
      ca,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: server.client.id, client_secret: server.client.secret, grant_type: 'client_credentials' }),
    });
    expect(json.status).toBe(200);
    expect((json.json as { access_token: string }).access_token).not.toBe(issued.access_token);

    const basic = await call(server.urls.oauth, {
      ca,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${server.client.id}:${server.client.secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(basic.status).toBe(200);
  });

  it('refuses wrong credentials (401 invalid_client), another grant (400) and GET (405)', async () => {
    const { server, ca } = await serve();
    const form = (fields: Record<string, string>) =>
      call(server.urls.oauth, { ca, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
    expectJson(await form({ grant_type: 'client_credentials', client_id: server.client.id, client_secret: `${server.client.secret}x` }), 401, {
      error: 'invalid_client',
      error_description: 'Client authentication failed.',
    });
    expectJson(await form({ grant_type: 'client_credentials', client_id: 'someone', client_secret: server.client.secret }), 401, {
      error: 'invalid_client',
      error_description: 'Client authentication failed.',
    });
    expectJson(await form({ grant_type: 'client_credentials' }), 401, { error: 'invalid_client', error_description: 'Client authentication failed.' });
    expectJson(await form({ grant_type: 'password', client_id: server.client.id, client_secret: server.client.secret }), 400, {
      error: 'unsupported_grant_type',
      error_description: 'Only client_credentials is supported.',
    });
    const get = await call(server.urls.oauth, { ca });
    expect({ status: get.status, allow: get.headers.allow }).toEqual({ status: 405, allow: 'POST' });
  });

  it('keeps one random client per home, 0600, across restarts', async () => {
    const home = tempHome();
    const first = await serve(home);
    const file = join(home, 'cssm', 'api-client.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ clientId: first.server.client.id, clientSecret: first.server.client.secret });
    await first.server.close();
    servers.splice(0);
    const again = await serve(home);
    expect(again.server.client).toEqual(first.server.client);
    // Another home with the same seed still draws another client: it never comes from --seed.
    const otherHome = tempHome();
    const other = await serve(otherHome, { ...testEnv(otherHome), rng: seededRng('same', 'cssm') });
    const thirdHome = tempHome();
    const third = await serve(thirdHome, { ...testEnv(thirdHome), rng: seededRng('same', 'cssm') });
    expect(third.server.client.id).not.toBe(other.server.client.id);
    expect(other.server.client.id).not.toBe(first.server.client.id);
    expect(other.server.client.secret).not.toBe(first.server.client.secret);
  });

  it('refuses to start on an API client file it did not write', async () => {
    const home = tempHome();
    const first = await serve(home);
    await first.server.close();
    servers.splice(0);
    writeFileSync(join(home, 'cssm', 'api-client.json'), '{"clientId": 3}', { mode: 0o600 });
    const error = await startCssmServer({ home, env: testEnv(home) }).catch((e: unknown) => e);
    expect(isExshError(error) && error.code).toBe('serve.badClientFile');
  });
});

describe('cssm serve: the Smart Account API', () => {
  it('creates a token the device then registers with, and lists it', async () => {
    const { server, ca, home, env } = await serve();
    const bearer = await accessToken(server, ca);
    const created = await call(tokensUrl(server), {
      ca,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'lab expressways', expiresAfterDays: 365, exportControlled: 'Not Allowed', maxUses: 2 }),
    });
    expect(created.status).toBe(200);
    const info = (created.json as { status: string; tokenInfo: Record<string, unknown> }).tokenInfo;
    expect((created.json as { status: string }).status).toBe('SUCCESS');
    expect(info).toMatchObject({
      description: 'lab expressways',
      exportControlled: 'Not Allowed',
      expirationDate: new Date(T0.getTime() + 365 * 86_400_000).toISOString(),
      maxUses: 2,
      uses: 0,
      status: 'ACTIVE',
      virtualAccount: 'Default',
    });
    const token = String(info.token);
    expect(token).toMatch(/^[A-Za-z0-9+/=]{100,}$/);

    const link = createLink({ home, env, cssmUrl: server.urls.base });
    const { request } = await registerRequest(token);
    const reply = await link.exchange(DIRECT, request);
    expect(reply.status).toBe('OK');
    expect((reply.body as RegisterReply).exportControlled).toBe(false);

    const listed = await call(tokensUrl(server), { ca, headers: { authorization: `Bearer ${bearer}` } });
    expect(listed.status).toBe(200);
    const tokens = (listed.json as { tokens: Array<Record<string, unknown>> }).tokens;
    expect(tokens.map((t) => [t.token, t.uses, t.exportControlled])).toEqual([[token, 1, 'Not Allowed']]);

    // The devices listing shows the registered instance; the licences listing the pool.
    const devices = await call(`${server.urls.api}/accounts/${ACCOUNT}/virtual-accounts/Default/devices`, {
      ca,
      headers: { authorization: `Bearer ${bearer}` },
    });
    expect(devices.status).toBe(200);
    const d = devices.json as { status: string; totalRecords: number; devices: Array<{ serial: string }> };
    expect({ status: d.status, total: d.totalRecords, serials: d.devices.map((x) => x.serial) }).toEqual({
      status: 'SUCCESS',
      total: 1,
      serials: [request.udi.serial],
    });
    const alias = await call(`${server.urls.api}/accounts/${ACCOUNT}/virtual-accounts/Default/product-instances`, {
      ca,
      headers: { authorization: `Bearer ${bearer}` },
    });
    expect(alias.json).toEqual(devices.json);
    const lic = await call(`${server.urls.api}/accounts/${ACCOUNT}/virtual-accounts/Default/licenses`, { ca, headers: { authorization: `Bearer ${bearer}` } });
    const licences = (lic.json as { licenses: Array<Record<string, unknown>> }).licenses;
    expect(lic.status).toBe(200);
    expect(licences.length).toBeGreaterThan(0);
    expect(Object.keys(licences[0] ?? {}).sort()).toEqual(['available', 'inUse', 'license', 'licenseType', 'quantity', 'reserved', 'status', 'tag']);
  });

  it('defaults: export-controlled allowed, string days accepted; the account name in any case; the On-Prem flavour', async () => {
    const { server, ca } = await serve();
    const bearer = await accessToken(server, ca, server.urls.onPremOauth);
    const r = await call(`${server.urls.onPremApi}/accounts/demo%20smart%20ACCOUNT/virtual-accounts/Default/tokens`, {
      ca,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ expiresAfterDays: '30' }),
    });
    expect(r.status).toBe(200);
    expect((r.json as { tokenInfo: Record<string, unknown> }).tokenInfo).toMatchObject({
      description: '',
      exportControlled: 'Allowed',
      maxUses: null,
      expirationDate: new Date(T0.getTime() + 30 * 86_400_000).toISOString(),
    });
    const listed = await call(`${server.urls.onPremApi}/accounts/${ACCOUNT}/virtual-accounts/Default/tokens`, {
      ca,
      headers: { authorization: `Bearer ${bearer}` },
    });
    expect((listed.json as { tokens: unknown[] }).tokens.length).toBe(1);
  });

  it('answers 401 without or with a bad bearer, 404 for another account or virtual account, 400 for a bad body', async () => {
    const { server, ca } = await serve();
    const bearer = await accessToken(server, ca);
    const auth = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
    const none = await call(tokensUrl(server), { ca });
    expectJson(none, 401, { status: 'ERROR', statusMessage: 'An access token is required: Authorization: Bearer <token> from /oauth/token.' });
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expectJson(await call(tokensUrl(server), { ca, headers: { authorization: 'Bearer not-a-token' } }), 401, {
      status: 'ERROR',
      statusMessage: 'The access token is not valid or has expired.',
    });
    // Even for an account that does not exist, authentication comes first.
    expect((await call(tokensUrl(server, 'nobody'), { ca })).status).toBe(401);
    expectJson(await call(tokensUrl(server, 'nobody'), { ca, headers: auth }), 404, { status: 'ERROR', statusMessage: 'There is no smart account "nobody".' });
    const va = await call(tokensUrl(server, ACCOUNT, 'Lab'), { ca, headers: auth });
    expect(va.status).toBe(404);
    expect((va.json as { statusMessage: string }).statusMessage).toBe('There is no virtual account "Lab"; the smart account has Default.');

    const post = (body: string) => call(tokensUrl(server), { ca, headers: auth, body });
    expectJson(await post('{"expiresAfterDays": 30'), 400, { status: 'ERROR', statusMessage: 'The request body is not JSON.' });
    expectJson(await post('[]'), 400, { status: 'ERROR', statusMessage: 'The request body must be a JSON object.' });
    expectJson(await post('{"description": "no days"}'), 400, {
      status: 'ERROR',
      statusMessage: 'expiresAfterDays is required: a whole number of days from 1 to 365.',
    });
    expectJson(await post('{"expiresAfterDays": 366}'), 400, {
      status: 'ERROR',
      statusMessage: 'expiresAfterDays must be a whole number of days from 1 to 365.',
    });
    expectJson(await post('{"expiresAfterDays": 30, "exportControlled": "yes"}'), 400, {
      status: 'ERROR',
      statusMessage: 'exportControlled must be "Allowed" or "Not Allowed".',
    });
    expectJson(await post('{"expiresAfterDays": 30, "maxUses": 0}'), 400, { status: 'ERROR', statusMessage: 'maxUses must be a whole number of 1 or more.' });
    const del = await call(tokensUrl(server), { ca, method: 'DELETE', headers: auth });
    expectJson(del, 405, {
      status: 'ERROR',
      statusMessage: `DELETE is not allowed on /services/api/smart-accounts-and-licensing/v2/accounts/${ACCOUNT}/virtual-accounts/Default/tokens; use GET or POST.`,
    });
    expect(del.headers.allow).toBe('GET, POST');
    expectJson(await call(`${server.urls.api}/accounts/${ACCOUNT}/alerts`, { ca, headers: auth }), 404, {
      status: 'ERROR',
      statusMessage: `No such resource: /services/api/smart-accounts-and-licensing/v2/accounts/${ACCOUNT}/alerts.`,
    });
  });
});

describe('cssm serve: the device paths and errors', () => {
  it('refuses GET (405), bad JSON (400), a body over 1 MiB (413) and unknown paths (404), always as JSON', async () => {
    const { server, ca } = await serve();
    const get = await call(server.urls.cloud, { ca });
    expectJson(get, 405, { error: 'method_not_allowed', message: 'GET is not allowed on /licservice/license; use POST.' });
    expect(get.headers.allow).toBe('POST');
    expectJson(await call(server.urls.onPrem, { ca, body: '{"protocol":' }), 400, { error: 'request.invalid', message: 'The request body is not JSON.' });
    const big = Buffer.alloc((1 << 20) + 1, 0x20);
    const tooLarge = { error: 'payload_too_large', message: 'The request body is larger than 1048576 bytes.' };
    expectJson(await call(server.urls.cloud, { ca, body: big }), 413, tooLarge);
    expectJson(await call(server.urls.cloud, { ca, body: big, chunked: true }), 413, tooLarge);
    // Exactly 1 MiB is read (and is not JSON).
    expectJson(await call(server.urls.cloud, { ca, body: Buffer.alloc(1 << 20, 0x20), chunked: true }), 400, {
      error: 'request.invalid',
      message: 'The request body is not JSON.',
    });
    expectJson(await call(`${server.urls.base}/nothing/here?x=1`, { ca }), 404, { error: 'not_found', message: 'No such path: /nothing/here.' });
    expectJson(await call(`${server.urls.base}//evil.example/licservice/license`, { ca }), 404, {
      error: 'not_found',
      message: 'No such path: //evil.example/licservice/license.',
    });
  });

  it('a JSON body that is no request gets the CSSM ERROR reply with 200', async () => {
    const { server, ca } = await serve();
    const r = await call(server.urls.cloud, { ca, body: '{"hello": "world"}' });
    expect(r.status).toBe(200);
    expect((r.json as { status: string; error: { code: string } }).status).toBe('ERROR');
    expect((r.json as { error: { code: string } }).error.code).toBe('request.invalid');
  });

  it('a store the CSSM cannot use is 503 with its code; anything else 500, never a stack trace', async () => {
    const home = tempHome();
    let fault: 'store' | 'bug' | undefined;
    const env: CssmEnv = {
      home,
      rng: seededRng('503', 'cssm'),
      now: () => {
        if (fault === 'store') throw storeError('cssm.storeLocked', 'The CSSM database stayed locked by another process for more than 15 s.');
        if (fault === 'bug') throw new TypeError(`Cannot read properties of undefined (reading 'x') at ${import.meta.url}`);
        return T0;
      },
    };
    const { server, ca } = await serve(home, env);
    const { request } = await registerRequest(newToken(env));
    fault = 'store';
    expectJson(await call(server.urls.cloud, { ca, body: JSON.stringify(request) }), 503, {
      error: 'cssm.storeLocked',
      message: 'The CSSM database stayed locked by another process for more than 15 s.',
    });
    // The Link reports it as an HTTP error, in-process exactly as over HTTPS.
    const failure = { kind: 'http', reason: 'HTTP Server Error 503: Service Unavailable.' };
    for (const link of [createLink({ home, env, cssmUrl: server.urls.base }), createLink({ home, env, cssmUrl: 'in-process' })]) {
      const e = await link.exchange(DIRECT, request).catch((x: unknown) => x as { kind: string; reason: string });
      expect({ kind: (e as { kind: string }).kind, reason: (e as { reason: string }).reason }).toEqual(failure);
    }
    fault = 'bug';
    const bug = await call(server.urls.cloud, { ca, body: JSON.stringify(request) });
    expectJson(bug, 500, { error: 'internal', message: 'The CSSM could not answer.' });
    expect(bug.text).not.toMatch(/reading|file:|\.ts/);
  });

  it('records itself 0600 in the home and removes the record on close, only if it is still its own', async () => {
    const home = tempHome();
    const env = testEnv(home);
    const first = await startCssmServer({ home, env });
    const file = serveRecordPath(home);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readServeRecord(home)).toMatchObject({
      pid: process.pid,
      host: '127.0.0.1',
      port: first.port,
      base: first.urls.base,
      cloud: first.urls.cloud,
      onPrem: first.urls.onPrem,
      rootCaPath: first.rootCaPath,
    });
    const second = await startCssmServer({ home, env });
    expect(readServeRecord(home)?.port).toBe(second.port);
    await first.close();
    expect(readServeRecord(home)?.port).toBe(second.port);
    await second.close();
    expect(readServeRecord(home)).toBeUndefined();
  });

  it('close ends connections that are still open', async () => {
    const { server, ca } = await serve();
    const { request: req } = await import('node:https');
    const held = new Promise<string>((resolve) => {
      const r = req(server.urls.cloud, { method: 'POST', ca, agent: false, headers: { 'content-length': '100' } });
      r.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      r.write('{"partial":');
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await server.close();
    servers.splice(0);
    expect(await held).toMatch(/ECONNRESET|socket hang up/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('close also ends a connection that never finished its TLS handshake', async () => {
    const { server } = await serve();
    const { connect } = await import('node:net');
    const raw = connect(server.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    const started = Date.now();
    await server.close();
    servers.splice(0);
    await closed;
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an address the machine does not have is one clear error', async () => {
    const home = tempHome();
    const error = await startCssmServer({ home, env: testEnv(home), host: '192.0.2.1', port: 8443 }).catch((e: unknown) => e);
    expect(isExshError(error) && [error.code, error.message]).toEqual([
      'serve.cannotBind',
      'Cannot serve on 192.0.2.1 port 8443: no such address on this machine.',
    ]);
  });

  it('a port in use is one clear error', async () => {
    const { server } = await serve();
    const home = tempHome();
    const error = await startCssmServer({ home, env: testEnv(home), port: server.port }).catch((e: unknown) => e);
    expect(isExshError(error) && [error.code, error.message]).toEqual([
      'serve.addressInUse',
      `Cannot serve on 127.0.0.1 port ${server.port}: the port is already in use (--port 0 picks a free one).`,
    ]);
    expect(readServeRecord(home)).toBeUndefined();
  });
});
