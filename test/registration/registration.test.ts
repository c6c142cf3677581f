import { afterEach, describe, expect, it } from 'vitest';
import { loadAuthority } from '../../src/cssm/authority.js';
import { instances, licenses, remove } from '../../src/cssm/service.js';
import { createTestCa } from '../../src/pki/pki.js';
import type { ReplyEnvelope } from '../../src/protocol/messages.js';
import { signReply } from '../../src/protocol/sign.js';
import { revokeToken } from '../../src/cssm/tokens.js';
import { readRegistration } from '../../src/device/registration-state.js';
import { OFFLINE_DEREGISTER_WARNING, PENDING_PREFIX, TOKEN_INVALID } from '../../src/device/registration.js';
import { cleanHomes, errorReply } from '../device/helpers.js';
import { connectedDevice, field, type ConnectedDevice } from './helpers.js';

/**
 * Connected mode on the device (§9.2–§9.4), in-process against the home's own CSSM on a
 * pinned clock: every transition, every refusal (with its code and an unchanged store).
 */

afterEach(cleanHomes);

const TIMEOUT = 'HTTP Server Error 200: Operation timed out.';

async function registered(opts: Parameters<typeof connectedDevice>[0] = {}): Promise<ConnectedDevice> {
  const t = await connectedDevice(opts);
  await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
  expect((await t.status()).registration).toBe('Registered');
  return t;
}

async function advance(t: ConnectedDevice, days: number, minutes = 0): Promise<void> {
  expect(await t.run(`xCommand Simulator Clock Advance Days: ${days} Minutes: ${minutes}`)).toMatch(/\nOK\n$/);
}

/** Asserts a refusal: its reply, its code, and that the store did not change. */
async function refused(t: ConnectedDevice, line: string, command: string, code: string): Promise<string> {
  const before = await t.stored();
  const out = await t.run(line);
  expect(field(out, 'Code')).toBe(code);
  expect(out).toBe(errorReply(command, field(out, 'Reason') ?? '', code));
  expect(await t.stored()).toBe(before);
  return field(out, 'Reason') ?? '';
}

describe('Register', () => {
  it('with a valid token: Registered, with the accounts, the export flag and the timers of a new registration', async () => {
    const t = await connectedDevice();
    const out = await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    expect(out).toBe('*r LicenseSmartRegisterResult (status=OK):\n    Registration: "Registered"\n    Authorization: "Authorized"\n*r/end\n\nOK\n');
    const { text } = await t.status();
    expect(text).toContain(
      [
        '      Registration:',
        '        Status: "Registered"',
        '        InitialRegistration: "2026-03-01T10:00:00Z"',
        '        LastRenewalAttempt: ""',
        '        NextRenewalAttempt: "2026-08-28T10:00:00Z"',
        '        RegistrationExpires: "2027-03-01T09:55:00Z"',
        '        FailureReason: ""',
        '      Authorization:',
        '        Status: "Authorized"',
        '        LastAttempt: "2026-03-01T10:00:00Z"',
        '        NextAttempt: "2026-03-31T10:00:00Z"',
        '        Expires: "2026-05-30T09:55:00Z"',
        '        FailureReason: ""',
        '      Evaluation:',
        '        DaysRemaining: 90',
        '        Status: "Not In Use"',
        '      SmartAccount: "Demo Smart Account"',
        '      VirtualAccount: "Default"',
        '      ExportControlled: "Allowed"',
        '      Transport:',
        '        Mode: "Direct"',
        '        Url: "in-process"',
      ].join('\n'),
    );
    expect(t.sent).toMatchObject({ register: 1, renewAuth: 0, renewId: 0 });
    const [instance] = instances(t.cssm);
    expect(instance?.serial).toBe((await t.state()).identity.serial);
  });

  it('a token without export control: ExportControlled "Not Allowed"', async () => {
    const t = await connectedDevice();
    await t.run(`xCommand License Smart Register IdToken: ${t.token({ exportControlled: false })}`);
    expect(field((await t.status()).text, 'ExportControlled')).toBe('Not Allowed');
  });

  it('a bad token (unknown, revoked, used up): Registration Failed, not retried', async () => {
    const makers: ((t: ConnectedDevice) => Promise<string> | string)[] = [
      () => 'bm90IGEgdG9rZW4=',
      (t) => {
        const token = t.token();
        revokeToken(t.cssm, token);
        return token;
      },
      async (t) => {
        const token = t.token({ maxUses: 1 });
        const other = await connectedDevice({ home: t.home, name: 'other' });
        await other.run(`xCommand License Smart Register IdToken: ${token}`);
        expect((await other.status()).registration).toBe('Registered');
        return token;
      },
    ];
    for (const make of makers) {
      const t = await connectedDevice();
      const token = await make(t);
      const out = await t.run(`xCommand License Smart Register IdToken: ${token}`);
      expect(out).toContain('OK');
      const s = await t.status();
      expect(s.registration).toBe('Unregistered : Registration Failed');
      expect(field(s.text, 'FailureReason')).toBe(TOKEN_INVALID);
      expect(field(out, 'FailureCode')).toBe('registration.tokenInvalid');
      expect(s.authorization).toBe('Evaluation Mode');
      const sent = t.sent.register;
      await advance(t, 1);
      expect(t.sent.register).toBe(sent);
    }
  });

  it('a token is judged at the device time: valid on day 29, expired on day 30', async () => {
    const t = await connectedDevice();
    const token = t.token({ expiresDays: 30 });
    await t.run('xCommand Simulator Clock Advance Days: 29 Hours: 23 Minutes: 59');
    await t.run(`xCommand License Smart Register IdToken: ${token}`);
    expect((await t.status()).registration).toBe('Registered');
    const u = await connectedDevice();
    const late = u.token({ expiresDays: 30 });
    await advance(u, 30);
    await u.run(`xCommand License Smart Register IdToken: ${late}`);
    expect((await u.status()).registration).toBe('Unregistered : Registration Failed');
  });

  it('without a DNS domain (Direct): Registration Pending, retried every 15 minutes, Registered once the domain is set', async () => {
    const t = await connectedDevice({ dns: false });
    await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    const s = await t.status();
    expect(s.registration).toBe('Unregistered : Registration Pending');
    expect(field(s.text, 'FailureReason')).toBe(`${PENDING_PREFIX}${TIMEOUT}`);
    expect(field(s.text, 'FailureReason')).toBe(
      'The last attempt to renew smart software licensing registration is in progress because of the following reason: HTTP Server Error 200: Operation timed out.',
    );
    expect(field(s.text, 'NextRenewalAttempt')).toBe('2026-03-01T10:15:00Z');
    expect(t.sent.register).toBe(0);
    await t.run('xConfiguration IP DNS Domain Name: example.com');
    await advance(t, 0, 14);
    expect((await t.status()).registration).toBe('Unregistered : Registration Pending');
    await advance(t, 0, 1);
    expect((await t.status()).registration).toBe('Registered');
    expect(field((await t.status()).text, 'InitialRegistration')).toBe('2026-03-01T10:15:00Z');
    expect(t.sent.register).toBe(1);
  });

  it('with the network cut: Pending; hours later, retries caught up at once, and one attempt once the network is back', async () => {
    const t = await connectedDevice();
    await t.run('xCommand Simulator Network Cssm Reachable: False');
    await t.run(`xCommand License Smart Register IdToken: ${t.token({ expiresDays: 365 })}`);
    await advance(t, 0, 0);
    await t.run('xCommand Simulator Clock Advance Hours: 5');
    expect(field((await t.status()).text, 'NextRenewalAttempt')).toBe('2026-03-01T15:15:00Z');
    expect(field((await t.status()).text, 'LastRenewalAttempt')).toBe('2026-03-01T15:00:00Z');
    await t.run('xCommand Simulator Network Cssm Reachable: True');
    await advance(t, 0, 15);
    expect((await t.status()).registration).toBe('Registered');
    expect(t.sent.register).toBe(1);
  });

  it('refusals that need no network: ERROR with a code, nothing changed', async () => {
    const t = await registered();
    expect(await refused(t, `xCommand License Smart Register IdToken: ${t.token()}`, 'LicenseSmartRegister', 'registration.alreadyRegistered')).toContain(
      'Force: True',
    );
    const u = await connectedDevice();
    await u.run('xConfiguration License Smart ReservationEnable: On');
    expect(await refused(u, `xCommand License Smart Register IdToken: ${u.token()}`, 'LicenseSmartRegister', 'registration.reservationEnabled')).toContain(
      'ReservationEnable: Off',
    );
    const v = await connectedDevice();
    expect(await refused(v, 'xCommand License Smart Deregister', 'LicenseSmartDeregister', 'registration.notRegistered')).toContain('not registered');
    expect(await refused(v, 'xCommand License Smart Renew Auth', 'LicenseSmartRenewAuth', 'registration.notRegistered')).toContain('register it first');
    expect(await refused(v, 'xCommand License Smart Renew ID', 'LicenseSmartRenewID', 'registration.notRegistered')).toContain('register it first');
    await v.run('xConfiguration License Smart Transport Mode: OnPrem');
    expect(await refused(v, `xCommand License Smart Register IdToken: ${v.token()}`, 'LicenseSmartRegister', 'registration.noOnPremUrl')).toContain(
      'OnPrem Url',
    );
    await v.run('xConfiguration License Smart Transport Mode: Proxy');
    expect(await refused(v, `xCommand License Smart Register IdToken: ${v.token()}`, 'LicenseSmartRegister', 'registration.noProxy')).toContain(
      'Proxy Address',
    );
    const w = await connectedDevice({ brand: 'VCS' });
    expect(await refused(w, 'xCommand License Smart Register IdToken: x', 'LicenseSmartRegister', 'license.notAvailableOnVcs')).toContain('Cisco VCS');
  });

  it('an empty token is a parameter error', async () => {
    const t = await connectedDevice();
    const out = await t.run('xCommand License Smart Register IdToken: ""');
    expect(out).toContain('ERROR');
    expect(t.sent.register).toBe(0);
  });

  it('while registered, the transport and ReservationEnable are locked: deregister first', async () => {
    const t = await registered();
    const before = await t.stored();
    for (const [line, code] of [
      ['xConfiguration License Smart Transport Mode: OnPrem', 'registration.transportLocked'],
      ['xConfiguration License Smart Transport OnPrem Url: https://onprem.example.com/SmartTransport', 'registration.transportLocked'],
      ['xConfiguration License Smart ReservationEnable: On', 'reservation.registered'],
    ] as const) {
      const out = await t.run(line);
      expect(field(out, 'Code')).toBe(code);
      expect(field(out, 'Reason')).toContain('xCommand License Smart Deregister');
    }
    expect(await t.stored()).toBe(before);
    expect(await t.run('xConfiguration License Smart Transport Mode: Direct')).toBe('\nOK\n');
  });

  it('Force: True registers again, into the new token’s virtual account, with a new ID certificate', async () => {
    const t = await registered();
    const oldCert = readRegistration(await t.state()).idCertificate;
    await t.run('xCommand Simulator Clock Advance Days: 3');
    const out = await t.run(`xCommand License Smart Register IdToken: ${t.token()} Force: True`);
    expect(field(out, 'Registration')).toBe('Registered');
    const s = readRegistration(await t.state());
    expect(s.idCertificate).not.toBe(oldCert);
    expect(s.initialRegistration).toBe('2026-03-04T10:00:00.000Z');
    expect(instances(t.cssm)).toHaveLength(1);
  });
});

describe('timers (§9.3)', () => {
  it('advancing 200 days makes the 6 authorization renewals and the 1 ID renewal that fell due, each at its own time', async () => {
    const t = await registered();
    await advance(t, 200);
    expect(t.sent).toMatchObject({ register: 1, renewAuth: 6, renewId: 1 });
    const { text } = await t.status();
    expect(field(text, 'LastRenewalAttempt')).toBe('2026-08-28T10:00:00Z');
    expect(field(text, 'NextRenewalAttempt')).toBe('2027-02-24T10:00:00Z');
    expect(field(text, 'RegistrationExpires')).toBe('2027-08-28T09:55:00Z');
    expect(field(text, 'LastAttempt')).toBe('2026-08-28T10:00:00Z');
    expect(field(text, 'NextAttempt')).toBe('2026-09-27T10:00:00Z');
    expect(field(text, 'Expires')).toBe('2026-11-26T09:55:00Z');
    expect((await t.status()).authorization).toBe('Authorized');
  });

  it('network off for 91 days: Authorization Expired (alarm 30044); back on: Authorized again at the next retry', async () => {
    const t = await registered();
    await t.run('xCommand Simulator Network Cssm Reachable: False');
    await advance(t, 91);
    const s = await t.status();
    expect(s.registration).toBe('Registered');
    expect(s.authorization).toBe('Authorization Expired');
    expect(field(s.text, 'FailureReason')).toBe('');
    expect(s.text).toContain(`FailureReason: "The last attempt to renew the license authorization failed because of the following reason: ${TIMEOUT}"`);
    expect(await t.run('xStatus Alarm')).toContain('Id: 30044');
    expect(t.sent.renewAuth).toBe(0);
    await t.run('xCommand Simulator Network Cssm Reachable: True');
    await advance(t, 0, 15);
    expect((await t.status()).authorization).toBe('Authorized');
    expect(t.sent.renewAuth).toBe(1);
    expect(await t.run('xStatus Alarm')).not.toContain('30044');
  });

  it('no renewal for a year: Unregistered : Registration Expired, alarm 30042, and no attempt after the expiry', async () => {
    const t = await registered();
    await t.run('xCommand Simulator Network Cssm Reachable: False');
    await advance(t, 366);
    const s = await t.status();
    expect(s.registration).toBe('Unregistered : Registration Expired');
    expect(s.authorization).toBe('Authorization Expired');
    expect(await t.run('xStatus Alarm')).toContain('Id: 30042');
    await t.run('xCommand Simulator Network Cssm Reachable: True');
    await advance(t, 1);
    expect(t.sent).toMatchObject({ renewAuth: 0, renewId: 0 });
    expect(field(await t.run('xCommand License Smart Renew ID'), 'Code')).toBe('registration.notRegistered');
  });

  it('the evaluation does not count while registered, and counts again after Deregister', async () => {
    const t = await connectedDevice();
    await t.run('xCommand Simulator Traffic Set VideoCalls: 3');
    await advance(t, 10);
    await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    await advance(t, 100);
    expect(await t.run('xStatus License Smart Evaluation DaysRemaining')).toContain('DaysRemaining: 80');
    await t.run('xCommand License Smart Deregister');
    await advance(t, 5);
    expect(await t.run('xStatus License Smart Evaluation')).toContain('DaysRemaining: 75');
    expect((await t.status()).authorization).toBe('Evaluation Mode');
  });

  it('manual renewals talk to the CSSM at once and move the timers', async () => {
    const t = await registered();
    await advance(t, 2);
    expect(field(await t.run('xCommand License Smart Renew Auth'), 'Authorization')).toBe('Authorized');
    expect(field(await t.run('xCommand License Smart Renew ID'), 'Registration')).toBe('Registered');
    const { text } = await t.status();
    expect(field(text, 'NextAttempt')).toBe('2026-04-02T10:00:00Z');
    expect(field(text, 'NextRenewalAttempt')).toBe('2026-08-30T10:00:00Z');
    expect(t.sent).toMatchObject({ renewAuth: 1, renewId: 1 });
  });
});

describe('Deregister', () => {
  it('releases the instance at the CSSM and returns to evaluation', async () => {
    const t = await registered();
    expect(await t.run('xCommand License Smart Deregister')).toBe(
      '*r LicenseSmartDeregisterResult (status=OK):\n    Registration: "Unregistered"\n*r/end\n\nOK\n',
    );
    expect(instances(t.cssm)).toHaveLength(0);
    const s = await t.status();
    expect(s.registration).toBe('Unregistered');
    expect(s.authorization).toBe('Evaluation Mode');
    expect(field(s.text, 'SmartAccount')).toBe('');
  });

  it('with the CSSM unreachable: deregistered anyway, with the warning to remove the instance by hand', async () => {
    const t = await registered();
    await t.run('xCommand Simulator Network Cssm Reachable: False');
    const out = await t.run('xCommand License Smart Deregister');
    expect(out).toContain(OFFLINE_DEREGISTER_WARNING);
    expect(out).toContain('remove the product instance from the CSSM by hand');
    expect((await t.status()).registration).toBe('Unregistered');
    expect(instances(t.cssm)).toHaveLength(1);
  });

  it('the device key and a pending token are secrets: devices show masks them', async () => {
    const t = await connectedDevice({ dns: false });
    const token = t.token();
    await t.run(`xCommand License Smart Register IdToken: ${token}`);
    const state = await t.state();
    expect(readRegistration(state).pendingToken).toBe(token);
    const shown = JSON.stringify(t.model.masked(state));
    expect(shown).not.toContain(token);
    expect(shown).not.toContain('PRIVATE KEY');
    expect(shown).toContain('"pendingToken":"********"');
  });

  it('a pending registration is cancelled without the network', async () => {
    const t = await connectedDevice({ dns: false });
    await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    await t.run('xCommand License Smart Deregister');
    expect((await t.status()).registration).toBe('Unregistered');
    expect(readRegistration(await t.state()).pendingToken).toBe('');
  });
});

describe('the CSSM side', () => {
  it('an instance removed at the CSSM: the next renewal fails and the device is Unregistered', async () => {
    const t = await registered();
    const serial = (await t.state()).identity.serial;
    remove({ ...t.cssm, instance: serial } as Parameters<typeof remove>[0]);
    await advance(t, 31);
    const s = await t.status();
    expect(s.registration).toBe('Unregistered');
    expect(field(s.text, 'FailureReason')).toContain('The CSSM no longer accepts this registration');
  });

  it('cssm licenses and instances see the registration; DoNotShare keeps the hostname out', async () => {
    const t = await connectedDevice();
    await t.run('xConfiguration IP DNS Hostname: exp1');
    await t.run('xConfiguration License Smart Privacy HostnameAndIp: DoNotShare');
    await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    const [instance] = instances(t.cssm) as unknown as Record<string, unknown>[];
    expect(JSON.stringify(instance)).not.toContain('exp1');
    const u = await connectedDevice({ home: t.home, name: 'second' });
    await u.run('xConfiguration IP DNS Hostname: exp2');
    await u.run(`xCommand License Smart Register IdToken: ${u.token()}`);
    expect(JSON.stringify(instances(t.cssm))).toContain('exp2.example.com');
    expect(licenses(t.cssm).length).toBeGreaterThan(0);
  });
});

describe('replies the device rejects', () => {
  it('a reply signed by an untrusted authority, a stale nonce, a certificate for another device: Pending with the reason, retried', async () => {
    const cases: [string, (t: ConnectedDevice) => Promise<void> | void, string][] = [
      [
        'badSignature',
        (t) => {
          t.tamper = (reply) => ({ ...reply, signature: Buffer.from('nope').toString('base64') });
        },
        "the CSSM's reply is not signed by an authority this system trusts (see exsh trust list).",
      ],
      [
        'staleReply',
        (t) => {
          t.tamper = (reply) => resign(t, { ...reply, nonce: '00'.repeat(16) });
        },
        "the CSSM's reply does not answer this request",
      ],
    ];
    for (const [code, arrange, reason] of cases) {
      const t = await connectedDevice();
      await arrange(t);
      const out = await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
      expect(field(out, 'FailureCode')).toBe(`registration.${code}`);
      const s = await t.status();
      expect(s.registration).toBe('Unregistered : Registration Pending');
      expect(field(s.text, 'FailureReason')).toContain(reason);
      t.tamper = undefined;
      await advance(t, 0, 15);
      // The CSSM did register it: the retry, not forced, is refused as already registered.
      expect((await t.status()).registration).toBe('Unregistered : Registration Failed');
    }
  });

  it('an ID certificate issued for another device, or one that does not chain to the root: rejected even when the reply is signed', async () => {
    const other = await connectedDevice();
    await other.run(`xCommand License Smart Register IdToken: ${other.token()}`);
    const foreign = readRegistration(await other.state()).idCertificate;
    const testCa = await createTestCa('Intercepting CA');
    const rogue = (await testCa.issueServer(['localhost'])).certPem;
    for (const [cert, code] of [
      [foreign, 'registration.certificateMismatch'],
      [rogue, 'registration.badCertificate'],
    ] as const) {
      const t = await connectedDevice({ home: other.home, name: `d${code.length}` });
      t.tamper = (reply) =>
        resign(t, { ...reply, body: { ...(reply.body as unknown as Record<string, unknown>), idCertificate: cert } as unknown as typeof reply.body });
      const out = await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
      expect(field(out, 'FailureCode')).toBe(code);
      expect((await t.status()).registration).toBe('Unregistered : Registration Pending');
    }
  });
});

/** Signs a reply altered on the wire with the home's authority key, as a compromised CSSM would. */
function resign(t: ConnectedDevice, reply: ReplyEnvelope): ReplyEnvelope {
  const { signature: _old, ...rest } = reply;
  return signReply(rest, loadAuthority(t.home).privateKey);
}
