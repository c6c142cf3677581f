import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { build, type Plugin } from 'esbuild';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveLicence } from '../../src/catalogue.js';
import { loadAuthority } from '../../src/cssm/authority.js';
import { benchRegistrations } from '../../src/cssm/bench.js';
import { handleDeviceMessage } from '../../src/cssm/connected.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/cssm/db.js';
import { codes, confirm, init, instances, licenses, remove, reserve, update, type CssmEnv } from '../../src/cssm/service.js';
import { createToken, listTokens, revokeToken } from '../../src/cssm/tokens.js';
import { createCsr, ensurePki, generateDeviceKey, issueIdCertificate, readCertificate, verifyIdCertificate } from '../../src/pki/pki.js';
import {
  AUTH_VALIDITY_MS,
  BACKDATE_MS,
  DAY_MS,
  ID_CERT_VALIDITY_MS,
  PROTOCOL,
  type BodyOf,
  type CssmErrorCode,
  type DeviceIdentity,
  type MessageKind,
  type RegisterReply,
  type ReplyEnvelope,
  type RequestEnvelope,
} from '../../src/protocol/messages.js';
import { signRequest } from '../../src/protocol/sign.js';
import { replySignedBy } from '../../src/protocol/sign.js';
import { cleanHomes, expectCode, request as reservationRequest, T0, testEnv, udi as reservationUdi } from './helpers.js';

afterEach(cleanHomes);

const RMS = resolveLicence('Expressway Rich Media Session').tag;
const AAS = resolveLicence('Expressway Advanced Account Security').tag;
const UNKNOWN_TAG = 'regid.2016-07.com.cisco.NOT_A_LICENCE,1.0_00000000-0000-4000-8000-000000000000';

/** RSA keys are the slow part of a device: a few, shared by every test's devices. */
let keys: string[] = [];
beforeAll(() => {
  keys = [generateDeviceKey(), generateDeviceKey(), generateDeviceKey()];
});

interface Device {
  udi: DeviceIdentity;
  key: string;
  csr: string;
  /** The ID certificate it holds, once registered. */
  cert?: string;
}

let deviceCount = 0;
async function device(serial: string, key = keys[deviceCount++ % 3] as string): Promise<Device> {
  return {
    udi: { pid: 'Expressway', serial, vid: '1.0', hostId: '320aa69d', productType: 'ExpresswayC' },
    key,
    csr: await createCsr(key, { commonName: serial }),
  };
}

let nonceCount = 0;
function nonce(): string {
  return createHash('sha256').update(`connected-test/${nonceCount++}`).digest('hex').slice(0, 32);
}

function signed<K extends MessageKind>(kind: K, d: Device, body: BodyOf[K], time: Date = T0, key = d.key): RequestEnvelope<K> {
  return signRequest<RequestEnvelope<K>>({ protocol: PROTOCOL, kind, nonce: nonce(), time: time.toISOString(), udi: d.udi, body }, key);
}

/** Sends a request; every reply must be signed by the home's authority and echo kind, nonce and time. */
async function send(env: CssmEnv, req: unknown, echo?: { kind: MessageKind; nonce: string; time?: string }): Promise<ReplyEnvelope> {
  const reply = await handleDeviceMessage(env, req, 'cloud');
  const authority = loadAuthority(env.home);
  expect(replySignedBy(reply, [authority.publicKey])).toBe(true);
  expect(reply.authority).toBe(authority.fingerprint);
  expect(reply.protocol).toBe(PROTOCOL);
  const r = (echo ?? req) as { kind: string; nonce: string; time?: string };
  expect([reply.kind, reply.nonce]).toEqual([r.kind, r.nonce]);
  if (r.time !== undefined) expect(reply.time).toBe(r.time);
  return reply;
}

function expectRefused(reply: ReplyEnvelope, code: CssmErrorCode, message?: string | RegExp): void {
  expect(reply.status).toBe('ERROR');
  expect(reply.body).toBeUndefined();
  expect(reply.error?.code).toBe(code);
  if (typeof message === 'string') expect(reply.error?.message).toBe(message);
  else if (message) expect(reply.error?.message).toMatch(message);
}

async function register(env: CssmEnv, d: Device, token: string, opts: { time?: Date; force?: boolean; hostname?: string } = {}): Promise<ReplyEnvelope> {
  const body = {
    token,
    force: opts.force ?? false,
    csr: d.csr,
    software: 'X15.3.0',
    ...(opts.hostname ? { hostname: opts.hostname, address: '192.0.2.10' } : {}),
  };
  const reply = await send(env, signed('register', d, body, opts.time));
  if (reply.status === 'OK') d.cert = (reply.body as RegisterReply).idCertificate;
  return reply;
}

function renewAuth(env: CssmEnv, d: Device, entitlements: Array<{ tag: string; count: number }>, time: Date = T0): Promise<ReplyEnvelope> {
  return send(env, signed('renewAuth', d, { idCertificate: d.cert ?? '', entitlements }, time));
}

const days = (n: number, from = T0) => new Date(from.getTime() + n * DAY_MS);
const NOT_REGISTERED = 'This product instance is not registered at the CSSM: it was removed, or never registered.';

function inUse(env: CssmEnv, tag: string): { inUse: number; balance: number } | undefined {
  const row = licenses(env).find((r) => r.tag === tag);
  return row && { inUse: row.inUse, balance: row.balance };
}

describe('register', () => {
  it('issues an ID certificate for the CSR, backdated five minutes and valid a year, in the token’s virtual account', async () => {
    const env = testEnv();
    const { token } = createToken(env, { description: 'lab' });
    const d = await device('08F8FF3C');
    const reply = await register(env, d, token, { time: days(2), hostname: 'expc1.example.com' });
    expect(reply.status).toBe('OK');
    expect(reply.error).toBeUndefined();
    const body = reply.body as RegisterReply;
    expect(body).toMatchObject({ smartAccount: 'Demo Smart Account', virtualAccount: 'Default', exportControlled: true });
    const at = days(2).getTime();
    expect(body.authorization).toEqual({ status: 'Authorized', expires: new Date(at - BACKDATE_MS + AUTH_VALIDITY_MS).toISOString(), entitlements: [] });

    const ca = await ensurePki(env.home);
    const cert = await verifyIdCertificate(body.idCertificate, ca.rootCertPem, days(2));
    expect(cert.commonName).toBe('08F8FF3C');
    expect(cert.notBefore.getTime()).toBe(at - BACKDATE_MS);
    expect(cert.notAfter.getTime()).toBe(at - BACKDATE_MS + ID_CERT_VALIDITY_MS);
    expect(cert.serialHex).toMatch(/^[0-9a-f]{1,16}$/);

    const [row, ...others] = instances(env);
    expect(others).toEqual([]);
    expect(row).toMatchObject({
      serial: '08F8FF3C',
      pid: 'Expressway',
      productType: 'EXPY',
      reservationType: null,
      exportControl: true,
      status: 'Registered',
      virtualAccount: 'Default',
      lastContact: days(2).toISOString(),
      licenses: [],
      registration: {
        registeredAt: days(2).toISOString(),
        via: 'cloud',
        certificateSerial: cert.serialHex,
        certificateExpires: cert.notAfter.toISOString(),
        software: 'X15.3.0',
        hostname: 'expc1.example.com',
        address: '192.0.2.10',
        inUse: [],
      },
    });
    expect(listTokens(env)[0]?.uses).toBe(1);
  });

  it('ends certificates and authorizations with the simulated clock, at the end of 9999', async () => {
    const env = testEnv(undefined, new Date('9999-06-01T00:00:00Z'));
    const { token } = createToken(env);
    const d = await device('9D000001');
    const reply = await register(env, d, token, { time: new Date('9999-06-02T00:00:00Z') });
    expect((await readCertificate(d.cert as string)).notAfter.toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect((reply.body as RegisterReply).authorization.expires).toBe('9999-08-30T23:55:00.000Z');
    const late = await renewAuth(env, d, [], new Date('9999-12-01T00:00:00Z'));
    expect(late.body).toMatchObject({ authorization: { expires: '9999-12-31T23:59:59.000Z' } });
    expectRefused(await register(env, await device('9D000002'), token, { time: new Date('1969-12-31T23:59:59Z') }), 'request.invalid', /from 1970 to 9999/);
  });

  it('carries the token’s export-control flag, and leaves out what the device does not share', async () => {
    const env = testEnv();
    const { token } = createToken(env, { exportControlled: false });
    const reply = await register(env, await device('0A0B0C0D'), token);
    expect((reply.body as RegisterReply).exportControlled).toBe(false);
    const [row] = instances(env);
    expect(row?.exportControl).toBe(false);
    expect(row?.registration).not.toHaveProperty('hostname');
    expect(row?.registration).not.toHaveProperty('address');
  });

  it('judges the token at the request’s time: valid at created + 29 days, expired at created + 30 days, whatever the CSSM clock says', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    expectRefused(
      await register(env, await device('E0000001'), token, { time: days(30) }),
      'token.invalid',
      'The token is invalid or expired: it expired on 2024-05-31 12:00:00 UTC.',
    );
    expectRefused(
      await register(env, await device('E0000002'), token, { time: new Date(T0.getTime() - 1) }),
      'token.invalid',
      'The token is invalid or expired: it is valid only from 2024-05-01 12:00:00 UTC, after the time of the request.',
    );
    // The CSSM's own clock is long past the expiry; the request's time is what counts.
    env.at.set(days(400));
    expect((await register(env, await device('E0000003'), token, { time: days(29) })).status).toBe('OK');
    expect((await register(env, await device('E0000004'), token, { time: new Date(days(30).getTime() - 1) })).status).toBe('OK');
    expect(listTokens(env)[0]?.uses).toBe(2);
  });

  it('refuses an unknown, revoked or used-up token with token.invalid, saying which', async () => {
    const env = testEnv();
    expectRefused(
      await register(env, await device('F0000001'), 'bm90IGEgdG9rZW4='),
      'token.invalid',
      'The token is invalid or expired: this CSSM issued no such token.',
    );
    const once = createToken(env, { maxUses: 1 });
    expect((await register(env, await device('F0000002'), once.token)).status).toBe('OK');
    expectRefused(
      await register(env, await device('F0000003'), once.token),
      'token.invalid',
      'The token is invalid or expired: it has been used the most times it allows (1).',
    );
    const revoked = createToken(env);
    env.at.advance(60_000);
    revokeToken(env, revoked.token);
    expectRefused(
      await register(env, await device('F0000004'), revoked.token, { time: T0 }),
      'token.invalid',
      'The token is invalid or expired: it was revoked on 2024-05-01 12:01:00 UTC.',
    );
    expect(instances(env).map((i) => i.serial)).toEqual(['F0000002']);
  });

  it('takes a token as real ones reach CLIs: line-wrapped or URL-encoded', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const wrapped = `${token.slice(0, 60)}\n${token.slice(60)}`;
    expect((await register(env, await device('A0000001'), wrapped)).status).toBe('OK');
    expect((await register(env, await device('A0000002'), encodeURIComponent(wrapped))).status).toBe('OK');
  });

  it('refuses a request not signed by the key in its CSR, or altered after signing', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('B0000001', keys[0]);
    const body = { token, force: false, csr: d.csr, software: 'X15.3.0' };
    const otherKey = signed('register', d, body, T0, keys[1]);
    expectRefused(await send(env, otherKey), 'request.badSignature', 'The registration request is not signed by the key in its certificate signing request.');
    const altered = { ...signed('register', d, body), time: days(1).toISOString() };
    expectRefused(await send(env, altered), 'request.badSignature');
    expect(instances(env)).toEqual([]);
    expect(listTokens(env)[0]?.uses).toBe(0);
  });

  it('refuses a CSR for another serial number (certificate.invalid) and one that is not a CSR (request.invalid)', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('C0000001');
    const other = await device('C0000002', d.key);
    expectRefused(
      await send(env, signed('register', d, { token, force: false, csr: other.csr, software: 'X15.3.0' })),
      'certificate.invalid',
      "The certificate signing request is for 'C0000002', not for the serial number C0000001: its common name must be the product instance's serial number.",
    );
    expectRefused(
      await send(env, signed('register', d, { token, force: false, csr: 'not a csr', software: 'X15.3.0' })),
      'request.invalid',
      /certificate signing request/,
    );
    expect(instances(env)).toEqual([]);
  });

  it('refuses a serial that is registered unless Force, and one that holds a reservation even with Force', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('D0000001');
    expect((await register(env, d, token)).status).toBe('OK');
    expectRefused(
      await register(env, d, token),
      'instance.alreadyRegistered',
      'The product instance is already registered in virtual account Default; register with Force to register it again.',
    );
    reserve({ ...env, request: reservationRequest(reservationUdi('D0000002')).code, plr: true });
    for (const force of [false, true]) {
      expectRefused(
        await register(env, await device('D0000002'), token, { force }),
        'instance.alreadyRegistered',
        'The product instance holds a Permanent License Reservation in virtual account Default; return the reservation before registering it.',
      );
    }
    expect(listTokens(env)[0]?.uses).toBe(1);
    expect(instances(env).map((i) => [i.serial, i.status])).toEqual([
      ['D0000001', 'Registered'],
      ['D0000002', 'Reserved Licenses'],
    ]);
  });

  it('Force re-registers: the instance moves to the new token’s virtual account with a new certificate; the old one is done', async () => {
    const env = testEnv();
    const first = createToken(env);
    init({ ...env, virtualAccount: 'Lab' });
    const lab = createToken(env, { virtualAccount: 'Lab', exportControlled: false });
    const d = await device('0F0F0F0F');
    await register(env, d, first.token);
    const oldCert = d.cert as string;
    const piid = instances(env)[0]?.piid;
    expect((await renewAuth(env, d, [{ tag: RMS, count: 2 }])).status).toBe('OK');
    expect(inUse(env, RMS)).toEqual({ inUse: 2, balance: 98 });

    const again = await register(env, d, lab.token, { force: true, time: days(1) });
    expect(again.body).toMatchObject({ virtualAccount: 'Lab', exportControlled: false });
    expect(d.cert).not.toBe(oldCert);
    expect((await readCertificate(d.cert as string)).serialHex).not.toBe((await readCertificate(oldCert)).serialHex);
    const [row] = instances(env);
    expect(row).toMatchObject({ virtualAccount: 'Lab', piid, exportControl: false, lastContact: days(1).toISOString() });
    // What it used in Default is released; Lab holds nothing.
    expect(inUse(env, RMS)).toEqual({ inUse: 0, balance: 100 });
    expectRefused(
      await send(env, signed('renewAuth', d, { idCertificate: oldCert, entitlements: [] }, days(1))),
      'instance.unknown',
      /issued another one since/,
    );
    expect((await renewAuth(env, d, [], days(1))).status).toBe('OK');
    expect(listTokens(env).map((t) => t.uses)).toEqual([1, 1]);
  });
});

describe('malformed requests', () => {
  it('answers what it cannot read with request.invalid, echoing what it can', async () => {
    const env = testEnv();
    expectRefused(await send(env, 'hello', { kind: 'register', nonce: '' }), 'request.invalid', 'The request is malformed: it is not a JSON object.');
    expectRefused(await send(env, [1, 2], { kind: 'register', nonce: '' }), 'request.invalid');
    expectRefused(await send(env, { protocol: PROTOCOL, kind: 'renewAuth', nonce: 'abc' }, { kind: 'renewAuth', nonce: 'abc' }), 'request.invalid', /nonce/);
    const d = await device('99999999');
    const good = signed('renewAuth', d, { idCertificate: 'x', entitlements: [] });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...good, kind: 'hello' }, /kind/],
      [{ ...good, time: 'yesterday' }, /time/],
      [{ ...good, udi: { ...d.udi, serial: '08F8-FF3C' } }, /udi\.serial/],
      [{ ...good, udi: { ...d.udi, pid: 'Express way' } }, /udi\.pid/],
      [{ ...good, body: { idCertificate: 'x', entitlements: [{ tag: RMS, count: -1 }] } }, /count/],
      [
        {
          ...good,
          body: {
            idCertificate: 'x',
            entitlements: [
              { tag: RMS, count: 1 },
              { tag: RMS, count: 2 },
            ],
          },
        },
        /twice/,
      ],
      [{ ...good, body: { idCertificate: 'x' } }, /entitlements/],
      [{ ...good, kind: 'register', body: { token: 't', force: 'yes', csr: d.csr, software: '' } }, /force/],
      [{ ...good, kind: 'register', body: { token: '', force: false, csr: d.csr, software: '' } }, /token/],
      [{ ...good, signature: 7 }, /signature/],
    ];
    for (const [req, why] of cases) {
      const kind = (['register', 'renewAuth'].includes(req.kind as string) ? req.kind : 'register') as MessageKind;
      expectRefused(
        await send(env, req, { kind, nonce: good.nonce, time: typeof req.time === 'string' && req.time !== 'yesterday' ? req.time : undefined }),
        'request.invalid',
        why,
      );
    }
  });

  it('answers another protocol with protocol.unsupported', async () => {
    const env = testEnv();
    const d = await device('99999998');
    const req = { ...signed('deregister', d, { idCertificate: 'x' }), protocol: 'exsh-smart/2' };
    expectRefused(await send(env, req), 'protocol.unsupported', "This CSSM speaks the exsh-smart/1 protocol, not 'exsh-smart/2'.");
  });
});

describe('renewId', () => {
  it('issues a new certificate for the new CSR; the previous one no longer identifies the instance', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('1D000001');
    await register(env, d, token);
    const first = d.cert as string;
    const at = days(180);
    const reply = await send(
      env,
      signed('renewId', d, { idCertificate: first, csr: await createCsr(d.key, { commonName: d.udi.serial }), hostname: 'h2' }, at),
    );
    expect(reply.status).toBe('OK');
    const renewed = (reply.body as { idCertificate: string }).idCertificate;
    const cert = await verifyIdCertificate(renewed, (await ensurePki(env.home)).rootCertPem, at);
    expect(cert.notBefore.getTime()).toBe(at.getTime() - BACKDATE_MS);
    expect(cert.notAfter.getTime()).toBe(at.getTime() - BACKDATE_MS + ID_CERT_VALIDITY_MS);
    expect(instances(env)[0]?.registration).toMatchObject({
      certificateSerial: cert.serialHex,
      certificateExpires: cert.notAfter.toISOString(),
      hostname: 'h2',
    });
    expect(instances(env)[0]?.lastContact).toBe(at.toISOString());
    expectRefused(await send(env, signed('renewAuth', d, { idCertificate: first, entitlements: [] }, at)), 'instance.unknown', /issued another one since/);
    d.cert = renewed;
    expect((await renewAuth(env, d, [], at)).status).toBe('OK');
  });

  it('refuses a certificate expired or not yet valid at the request’s time, a bad signature, and a CSR for another serial', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('1D000002', keys[0]);
    await register(env, d, token);
    const cert = d.cert as string;
    const csr = d.csr;
    const notAfter = T0.getTime() - BACKDATE_MS + ID_CERT_VALIDITY_MS;
    expectRefused(
      await send(env, signed('renewId', d, { idCertificate: cert, csr }, new Date(notAfter))),
      'certificate.invalid',
      `The ID certificate expired on ${new Date(notAfter).toISOString()}; register the product instance again with a token.`,
    );
    expectRefused(
      await send(env, signed('renewId', d, { idCertificate: cert, csr }, new Date(T0.getTime() - BACKDATE_MS - 1))),
      'certificate.invalid',
      /not valid until/,
    );
    expectRefused(
      await send(env, signed('renewId', d, { idCertificate: cert, csr }, days(1), keys[1])),
      'request.badSignature',
      "The request is not signed by the key of the product instance's ID certificate.",
    );
    const other = await device('1D000003', d.key);
    expectRefused(await send(env, signed('renewId', d, { idCertificate: cert, csr: other.csr }, days(1))), 'certificate.invalid', /common name/);
    expectRefused(await send(env, signed('renewId', d, { idCertificate: 'garbage', csr }, days(1))), 'certificate.invalid', /cannot be read/);
    // Valid up to the last millisecond before notAfter.
    expect((await send(env, signed('renewId', d, { idCertificate: cert, csr }, new Date(notAfter - 1)))).status).toBe('OK');
  });

  it('knows only the certificate it issued last: one with the same serial but other content is not it', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('1D000004');
    await register(env, d, token);
    const info = await readCertificate(d.cert as string);
    const forged = await issueIdCertificate(await ensurePki(env.home), d.csr, {
      serialHex: info.serialHex,
      commonName: d.udi.serial,
      notBefore: info.notBefore,
      notAfter: new Date(info.notAfter.getTime() + 365 * DAY_MS),
    });
    expectRefused(
      await send(env, signed('renewAuth', d, { idCertificate: forged, entitlements: [] })),
      'certificate.invalid',
      'The ID certificate is not the one this CSSM issued to the product instance.',
    );
    // Another device's certificate does not identify this one.
    const e = await device('1D000005');
    await register(env, e, token);
    expectRefused(await send(env, signed('renewAuth', d, { idCertificate: e.cert as string, entitlements: [] })), 'instance.unknown');
  });
});

describe('renewAuth', () => {
  it('judges each licence against the pool and records what is in use', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const a = await device('2A000001');
    await register(env, a, token);
    const reply = await renewAuth(
      env,
      a,
      [
        { tag: RMS, count: 3 },
        { tag: AAS, count: 8 },
      ],
      days(1),
    );
    expect(reply.body).toEqual({
      authorization: {
        status: 'Authorized',
        expires: new Date(days(1).getTime() - BACKDATE_MS + AUTH_VALIDITY_MS).toISOString(),
        entitlements: [
          { tag: RMS, count: 3, verdict: 'InCompliance' },
          { tag: AAS, count: 8, verdict: 'InCompliance' },
        ],
      },
    });
    expect(inUse(env, RMS)).toEqual({ inUse: 3, balance: 97 });
    expect(inUse(env, AAS)).toEqual({ inUse: 8, balance: 2 });
    expect(instances(env)[0]?.registration?.inUse).toEqual([
      { license: 'Expressway Rich Media Session', tag: RMS, count: 3 },
      { license: 'Expressway Advanced Account Security', tag: AAS, count: 8 },
    ]);
    expect(instances(env)[0]?.lastContact).toBe(days(1).toISOString());

    // Another instance shares the pool: 2 of AAS are left.
    const b = await device('2A000002');
    await register(env, b, token);
    const over = await renewAuth(env, b, [
      { tag: AAS, count: 3 },
      { tag: UNKNOWN_TAG, count: 1 },
    ]);
    expect(over.body).toMatchObject({
      authorization: {
        status: 'OutOfCompliance',
        entitlements: [
          { tag: AAS, count: 3, verdict: 'OutOfCompliance' },
          { tag: UNKNOWN_TAG, count: 1, verdict: 'InvalidTag' },
        ],
      },
    });
    // Use beyond the pool is still what the device uses; an unknown tag is not recorded.
    expect(inUse(env, AAS)).toEqual({ inUse: 11, balance: -1 });
    expect(licenses(env).some((r) => r.tag === UNKNOWN_TAG)).toBe(false);
    const fits = await renewAuth(env, b, [{ tag: AAS, count: 2 }]);
    expect(fits.body).toMatchObject({ authorization: { status: 'Authorized', entitlements: [{ tag: AAS, count: 2, verdict: 'InCompliance' }] } });
    expect(inUse(env, AAS)).toEqual({ inUse: 10, balance: 0 });
    // Nothing is left to reserve, and what a reservation holds is not available to registered use.
    expect(() =>
      reserve({ ...env, request: reservationRequest(reservationUdi('2A000003')).code, licenses: [{ name: 'Expressway Advanced Account Security', qty: 1 }] }),
    ).toThrow(/only 0 available/);
    // a gives back its 8; a reservation takes them, and b's 2 more no longer fit beside it.
    expect((await renewAuth(env, a, [{ tag: RMS, count: 3 }])).body).toMatchObject({ authorization: { status: 'Authorized' } });
    reserve({ ...env, request: reservationRequest(reservationUdi('2A000003')).code, licenses: [{ name: 'Expressway Advanced Account Security', qty: 8 }] });
    expect(inUse(env, AAS)).toEqual({ inUse: 2, balance: 0 });
    expect((await renewAuth(env, b, [{ tag: AAS, count: 3 }])).body).toMatchObject({ authorization: { status: 'OutOfCompliance' } });
    expect((await renewAuth(env, b, [{ tag: AAS, count: 2 }])).body).toMatchObject({ authorization: { status: 'Authorized' } });
    expect((await renewAuth(env, b, [])).body).toMatchObject({ authorization: { status: 'Authorized', entitlements: [] } });
    expect(inUse(env, AAS)).toEqual({ inUse: 0, balance: 2 });
  });
});

describe('deregister and remove', () => {
  it('deregister releases what the instance used and deletes it; its next message is instance.unknown', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('3D000001');
    await register(env, d, token);
    await renewAuth(env, d, [
      { tag: RMS, count: 4 },
      { tag: AAS, count: 1 },
    ]);
    expect(inUse(env, RMS)).toEqual({ inUse: 4, balance: 96 });
    const reply = await send(env, signed('deregister', d, { idCertificate: d.cert as string }, days(3)));
    expect(reply.status).toBe('OK');
    expect(reply.body).toEqual({ released: 5 });
    expect(inUse(env, RMS)).toEqual({ inUse: 0, balance: 100 });
    expect(inUse(env, AAS)).toEqual({ inUse: 0, balance: 10 });
    expect(instances(env)).toEqual([]);
    expectRefused(await renewAuth(env, d, [], days(3)), 'instance.unknown', NOT_REGISTERED);
    expectRefused(await send(env, signed('deregister', d, { idCertificate: d.cert as string }, days(3))), 'instance.unknown', NOT_REGISTERED);
    // It can register again (the token has uses left).
    expect((await register(env, d, token, { time: days(4) })).status).toBe('OK');
  });

  it('cssm remove --instance removes a registered instance without a return code, releasing its use', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    const d = await device('3D000002');
    await register(env, d, token);
    await renewAuth(env, d, [{ tag: RMS, count: 2 }]);
    expect(remove({ ...env, instance: '3D000002' })).toEqual({
      instance: '3D000002',
      udi: 'UDI_PID:Expressway; UDI_SN:3D000002; UDI_VID:1.0',
      virtualAccount: 'Default',
      licencesReturned: 2,
      licenses: [{ license: 'Expressway Rich Media Session', tag: RMS, count: 2 }],
      forced: false,
      registered: true,
    });
    expect(inUse(env, RMS)).toEqual({ inUse: 0, balance: 100 });
    expectRefused(await renewAuth(env, d, [{ tag: RMS, count: 2 }], days(30)), 'instance.unknown', NOT_REGISTERED);
    expectRefused(await send(env, signed('renewId', d, { idCertificate: d.cert as string, csr: d.csr }, days(180))), 'instance.unknown', NOT_REGISTERED);
    // --force works too; a reserved instance still needs its return code or --force.
    const e = await device('3D000003');
    await register(env, e, token);
    expect(remove({ ...env, instance: '3D000003', force: true })).toMatchObject({ registered: true, forced: true, licencesReturned: 0 });
    reserve({ ...env, request: reservationRequest(reservationUdi('3D000004')).code, plr: true });
    expect(() => remove({ ...env, instance: '3D000004' })).toThrow(/needs --return-code/);
    expect(instances(env).map((i) => i.serial)).toEqual(['3D000004']);
  });
});

function counts(home: string): { uses: number; instances: number; registrations: number; certs: number } {
  const db = new Database(join(home, 'cssm.sqlite'), { readonly: true });
  try {
    const one = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    return {
      uses: one('SELECT uses AS n FROM registration_token'),
      instances: one('SELECT COUNT(*) AS n FROM product_instance'),
      registrations: one('SELECT COUNT(*) AS n FROM registration'),
      certs: one('SELECT COUNT(DISTINCT cert_serial) AS n FROM registration'),
    };
  } finally {
    db.close();
  }
}

describe('concurrency', () => {
  it('20 concurrent registrations with a token of 10 uses: exactly 10 succeed, and the database agrees', async () => {
    const env = testEnv();
    const { token } = createToken(env, { maxUses: 10 });
    const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => device(`CC${String(i).padStart(6, '0')}`)));
    const replies = await Promise.all(devices.map((d) => register(env, d, token)));
    const ok = replies.filter((r) => r.status === 'OK');
    expect(ok).toHaveLength(10);
    expect(replies.filter((r) => r.status === 'ERROR').map((r) => r.error?.code)).toEqual(Array(10).fill('token.invalid'));
    expect(counts(env.home)).toEqual({ uses: 10, instances: 10, registrations: 10, certs: 10 });
    for (const d of devices.filter((x) => x.cert !== undefined)) {
      const stored = instances(env).find((i) => i.serial === d.udi.serial);
      expect(stored?.registration?.certificateSerial).toBe((await readCertificate(d.cert as string)).serialHex);
    }
  });

  describe('across processes', () => {
    const REPO = fileURLToPath(new URL('../../', import.meta.url));
    let dir = '';
    let child = '';
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'exsh-connected-child-'));
      child = join(dir, 'child.cjs');
      writeFileSync(
        join(dir, 'child.ts'),
        `import { readFileSync } from 'node:fs';
import { handleDeviceMessage } from ${JSON.stringify(join(REPO, 'src/cssm/connected.ts'))};
import { systemRng } from ${JSON.stringify(join(REPO, 'src/random.ts'))};
const [home, file, now] = process.argv.slice(2);
const requests = JSON.parse(readFileSync(file, 'utf8'));
const env = { home, now: () => new Date(now), rng: systemRng };
Promise.all(requests.map((r) => handleDeviceMessage(env, r, 'onprem'))).then((replies) => {
  process.stdout.write(JSON.stringify(replies.map((r) => r.error?.code ?? r.status)));
});
`,
      );
      // The child runs the sources as they are, bundled; each module keeps its own
      // import.meta.url, so the repository's files (the catalogue, the demo authority, the
      // SQLite addon) are found from src/ as in the tests.
      const ownUrl: Plugin = {
        name: 'own-import-meta-url',
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, (args) => ({
            contents: readFileSync(args.path, 'utf8').replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href)),
            loader: 'ts',
          }));
        },
      };
      await build({
        plugins: [ownUrl],
        entryPoints: [join(dir, 'child.ts')],
        outfile: child,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: ['better-sqlite3'],
        logLevel: 'silent',
      });
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('4 processes sending 5 registrations each against a token of 10 uses: exactly 10 succeed', async () => {
      const env = testEnv();
      const { token } = createToken(env, { maxUses: 10 });
      await ensurePki(env.home);
      const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => device(`PP${String(i).padStart(6, '0')}`)));
      const batches = [0, 1, 2, 3].map((p) => {
        const file = join(dir, `requests-${p}.json`);
        const requests = devices.slice(p * 5, p * 5 + 5).map((d) => signed('register', d, { token, force: false, csr: d.csr, software: 'X15.3.0' }));
        writeFileSync(file, JSON.stringify(requests));
        return file;
      });
      const results = await Promise.all(
        batches.map((file) =>
          execa(process.execPath, [child, env.home, file, T0.toISOString()], { env: { NODE_PATH: join(REPO, 'node_modules') }, reject: false }),
        ),
      );
      for (const r of results) expect(r.stderr).toBe('');
      const outcomes = results.flatMap((r) => JSON.parse(String(r.stdout)) as string[]);
      expect(outcomes.filter((o) => o === 'OK')).toHaveLength(10);
      expect(outcomes.filter((o) => o === 'token.invalid')).toHaveLength(10);
      expect(counts(env.home)).toEqual({ uses: 10, instances: 10, registrations: 10, certs: 10 });
    }, 60_000);
  });
});

describe('registered and reserved instances side by side', () => {
  it('a registered serial cannot reserve, and has no codes to update, confirm or show', async () => {
    const env = testEnv();
    const { token } = createToken(env);
    await register(env, await device('4E000001'), token);
    const e = expectCode(() => reserve({ ...env, request: reservationRequest(reservationUdi('4E000001')).code, plr: true }), 'cssm.alreadyRegistered');
    expect(e.message).toBe(
      'The product instance with serial number 4E000001 is registered (connected mode) in virtual account Default; a registered product instance cannot also reserve licences: deregister it on the device (xCommand License Smart Deregister) or remove it with exsh cssm remove --instance 4E000001 first.',
    );
    const notReserved = 'Product instance 4E000001 is registered (connected mode) and holds no reservation: it has no authorization codes.';
    expect(
      expectCode(() => update({ ...env, instance: '4E000001', licenses: [{ name: 'Expressway Rich Media Session', qty: 1 }] }), 'cssm.notReserved').message,
    ).toBe(notReserved);
    expectCode(() => confirm({ ...env, instance: '4E000001', code: '00000000' }), 'cssm.notReserved');
    expectCode(() => codes({ ...env, instance: '4E000001' }), 'cssm.notReserved');
    const returned = expectCode(
      () => remove({ ...env, instance: '4E000001', returnCode: 'C2UQuQ-j1vm8s-WkL8mj-nKV6ie-XoH9Te-6EcTKa-GeXPGr-9ZoZsy-zyy' }),
      'cssm.returnCodeMismatch',
    );
    expect(returned.message).toBe(
      'Product instance 4E000001 is registered (connected mode) and was issued no authorization code; remove it without a return code: exsh cssm remove --instance 4E000001.',
    );
    expect(instances(env).map((i) => i.status)).toEqual(['Registered']);
  });
});

describe('schema', () => {
  it('migration 2 keeps a version-1 database as it was, update in transit included, and lets instances be registered', async () => {
    const env = testEnv();
    const path = join(env.home, 'cssm.sqlite');
    const old = new Database(path);
    chmodSync(path, 0o600);
    old.exec(MIGRATIONS[0] as string);
    old.pragma('user_version = 1');
    const at = T0.getTime();
    old.prepare("INSERT INTO virtual_account (id, name, created_at) VALUES (1, 'Default', ?)").run(at);
    old.prepare("INSERT INTO smart_account (id, name, default_virtual_account_id, created_at) VALUES (1, 'Old Account', 1, ?)").run(at);
    old.prepare('INSERT INTO licence_line (id, virtual_account_id, tag, quantity) VALUES (7, 1, ?, 100)').run(RMS);
    old
      .prepare(
        `INSERT INTO product_instance (id, virtual_account_id, udi_pid, udi_serial, udi_vid, host_id, piid, reservation_type, created_at, last_contact)
         VALUES (3, 1, 'Expressway', '5E000001', '1.0', '320aa69d', '11111111-2222-4333-8444-555555555555', 'SLR', ?, ?)`,
      )
      .run(at, at);
    old.prepare('INSERT INTO reservation (instance_id, line_id, confirmed, pending) VALUES (3, 7, 4, 6)').run();
    old
      .prepare(
        "INSERT INTO authorization_code (id, instance_id, kind, code, signature, timestamp, state, issued_at) VALUES (1, 3, 'SLR', 'first', x'00', ?, 'current', ?)",
      )
      .run(at, at);
    old
      .prepare(
        "INSERT INTO authorization_code (id, instance_id, kind, code, signature, timestamp, state, issued_at) VALUES (2, 3, 'SLR', 'second', x'01', ?, 'pending', ?)",
      )
      .run(at + 1, at);
    old.prepare('INSERT INTO pending_update (instance_id, code_id, requested_at) VALUES (3, 2, ?)').run(at);
    old.close();

    expect(instances(env).map((i) => [i.serial, i.status, i.licenses])).toEqual([
      ['5E000001', 'In Transit', [{ license: 'Expressway Rich Media Session', tag: RMS, reserved: 4, pending: 6 }]],
    ]);
    expect(codes({ ...env, instance: '5E000001' }).codes.map((c) => [c.state, c.code])).toEqual([
      ['pending', 'second'],
      ['current', 'first'],
    ]);
    expect(licenses(env).find((r) => r.tag === RMS)).toMatchObject({ purchased: 100, inUse: 0, reserved: 6, balance: 94 });
    const { token } = createToken(env);
    expect((await register(env, await device('5E000002'), token)).body).toMatchObject({ smartAccount: 'Old Account' });
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.pragma('foreign_key_check')).toEqual([]);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    const indexes = (
      check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>
    ).map((r) => r.name);
    expect(indexes).toEqual(['authorization_code_instance', 'licence_line_va_tag', 'registration_token_va', 'reservation_line']);
    check.close();
    // The cascade from the rebuilt parent still works: removing the instance leaves no orphans.
    remove({ ...env, instance: '5E000001', force: true });
    const after = new Database(path, { readonly: true });
    expect((after.prepare('SELECT COUNT(*) AS n FROM authorization_code').get() as { n: number }).n).toBe(0);
    after.close();
  });
});

describe('benchRegistrations', () => {
  // Speed is reported by bench/, never asserted here (STYLE: no absolute thresholds in tests).
  it('registers n devices against a temporary home and reports a rate', async () => {
    const r = await benchRegistrations(12);
    expect(r.registrations).toBe(12);
    expect(r.perSecond).toBeGreaterThan(0);
  }, 30_000);
});
