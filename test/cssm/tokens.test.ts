import { createHash } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveLicence } from '../../src/catalogue.js';
import { closeDatabases } from '../../src/cssm/db.js';
import { handleDeviceMessage } from '../../src/cssm/connected.js';
import { createToken, listTokens, revokeToken } from '../../src/cssm/tokens.js';
import type { CssmEnv } from '../../src/cssm/service.js';
import { createCsr, generateDeviceKey } from '../../src/pki/pki.js';
import { PROTOCOL, type BodyOf, type MessageKind, type RegisterReply, type RequestEnvelope } from '../../src/protocol/messages.js';
import { signRequest } from '../../src/protocol/sign.js';
import { seededRng } from '../../src/random.js';
import { cleanHomes as cleanE2eHomes, NOW, runExsh, tempHome as e2eHome } from '../helpers/exsh.js';
import { cleanHomes, expectCode, T0, testEnv } from './helpers.js';

afterEach(cleanHomes);
afterAll(cleanE2eHomes);

const DAY_MS = 86_400_000;
const TOKEN_TEXT = /^([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})-(\d{13})\|([A-Za-z0-9+/]{43}=)$/;

describe('createToken', () => {
  it("is shaped like Cisco's: 128 characters of Base64 of <uuid v4>-<13-digit epoch ms>|<Base64 of 32 bytes>", () => {
    const env = testEnv();
    const t = createToken(env);
    expect(t.token).toHaveLength(128);
    expect(t.token).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const m = TOKEN_TEXT.exec(Buffer.from(t.token, 'base64').toString('utf8'));
    expect(m?.[2]).toBe(String(T0.getTime()));
    expect(Buffer.from(m?.[3] ?? '', 'base64')).toHaveLength(32);
    expect(t).toEqual({
      token: t.token,
      virtualAccount: 'Default',
      description: '',
      createdAt: T0.toISOString(),
      expiresAt: new Date(T0.getTime() + 30 * DAY_MS).toISOString(),
      maxUses: null,
      uses: 0,
      exportControlled: true,
      revoked: false,
    });
  });

  it('takes a virtual account, a description, 1 to 365 days, a number of uses, and export control off', () => {
    const env = testEnv();
    const t = createToken(env, { virtualAccount: 'default', description: 'Lab Expressways', expiresDays: '365', maxUses: 10, exportControlled: false });
    expect(t).toMatchObject({
      virtualAccount: 'Default',
      description: 'Lab Expressways',
      expiresAt: new Date(T0.getTime() + 365 * DAY_MS).toISOString(),
      maxUses: 10,
      exportControlled: false,
    });
    expect(createToken(env, { expiresDays: 1, maxUses: '1' })).toMatchObject({ expiresAt: new Date(T0.getTime() + DAY_MS).toISOString(), maxUses: 1 });
  });

  it('repeats under a seed, and never repeats a token already made (every seeded process draws the same)', () => {
    const a = testEnv();
    const b = testEnv();
    expect(createToken(a).token).toBe(createToken(b).token);
    const first = listTokens(a)[0]?.token;
    // A second process with the same seed starts its generator afresh.
    const again = createToken({ ...a, rng: seededRng(1, 'cssm-test') });
    expect(again.token).not.toBe(first);
    expect(new Set(listTokens(a).map((t) => t.token)).size).toBe(2);
  });

  it.each([
    [{ expiresDays: 0 }, "--expires-days must be a whole number of days from 1 to 365, not '0'."],
    [{ expiresDays: 366 }, "--expires-days must be a whole number of days from 1 to 365, not '366'."],
    [{ expiresDays: '2.5' }, "--expires-days must be a whole number of days from 1 to 365, not '2.5'."],
    [{ expiresDays: 'soon' }, "--expires-days must be a whole number of days from 1 to 365, not 'soon'."],
    [{ maxUses: 0 }, "--max-uses must be a whole number of 1 or more, not '0'."],
    [{ maxUses: '-3' }, "--max-uses must be a whole number of 1 or more, not '-3'."],
    [{ description: 'x'.repeat(257) }, 'The token description must be at most 256 characters, not 257.'],
  ])('refuses %j as a usage error, making nothing', (opts, message) => {
    const env = testEnv();
    const e = expectCode(() => createToken(env, opts), 'cssm.badValue', 2);
    expect(e.message).toBe(message);
    expect(listTokens(env)).toEqual([]);
  });

  it('refuses an unknown virtual account', () => {
    expectCode(() => createToken(testEnv(), { virtualAccount: 'Nope' }), 'cssm.unknownVirtualAccount');
  });
});

describe('listTokens and revokeToken', () => {
  it('lists oldest first, every virtual account or one', async () => {
    const env = testEnv();
    const { init } = await import('../../src/cssm/service.js');
    const a = createToken(env, { description: 'a' });
    init({ ...env, virtualAccount: 'Lab' });
    const b = createToken(env, { virtualAccount: 'Lab', description: 'b' });
    expect(listTokens(env).map((t) => [t.description, t.virtualAccount])).toEqual([
      ['a', 'Default'],
      ['b', 'Lab'],
    ]);
    expect(listTokens(env, { virtualAccount: 'Lab' }).map((t) => t.token)).toEqual([b.token]);
    expect(listTokens(env, { virtualAccount: 'Default' }).map((t) => t.token)).toEqual([a.token]);
  });

  it('revokes once, keeps the first revocation time, and refuses an unknown token', () => {
    const env = testEnv();
    const t = createToken(env);
    env.at.advance(3_600_000);
    const r = revokeToken(env, `${t.token}\n`);
    expect(r).toMatchObject({ token: t.token, revoked: true, revokedAt: '2024-05-01T13:00:00.000Z', alreadyRevoked: false });
    env.at.advance(3_600_000);
    expect(revokeToken(env, t.token)).toMatchObject({ revokedAt: '2024-05-01T13:00:00.000Z', alreadyRevoked: true });
    expect(listTokens(env)[0]).toMatchObject({ revoked: true, revokedAt: '2024-05-01T13:00:00.000Z' });
    const e = expectCode(() => revokeToken(env, 'bm9wZQ=='), 'cssm.tokenNotFound');
    expect(e.message).toBe('There is no registration token like that in this smart account; exsh cssm tokens list shows them.');
  });
});

// ---------------------------------------------------------------------------------------
// the CLI, spawned (dist/ must be built: npm run build)

async function exsh(home: string, ...args: string[]) {
  return runExsh(['--home', home, '--now', NOW, '--seed', '7', ...args]);
}

describe('exsh cssm tokens', () => {
  it('create prints the token alone; list shows it; revoke says so', async () => {
    const home = e2eHome();
    const created = await exsh(home, 'cssm', 'tokens', 'create', '--description', 'lab', '--max-uses', '10');
    expect(created.stderr).toBe('');
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(/^[A-Za-z0-9+/]{127}=\n$/);
    const token = created.stdout.trim();
    const open = await exsh(home, 'cssm', 'tokens', 'create', '--no-export-control', '--expires-days', '365');
    const second = open.stdout.trim();
    const list = await exsh(home, 'cssm', 'tokens', 'list');
    expect(list.exitCode).toBe(0);
    const pad = ' '.repeat(128 - 'Token'.length);
    expect(list.stdout).toBe(
      [
        `Token${pad}  Virtual Account  Description  Created                  Expires                  Uses         Export Controlled  Revoked`,
        `${token}  Default          lab          2026-01-01 00:00:00 UTC  2026-01-31 00:00:00 UTC  0/10         Allowed            no`,
        `${second}  Default                       2026-01-01 00:00:00 UTC  2027-01-01 00:00:00 UTC  0/unlimited  Not Allowed        no`,
        '',
      ].join('\n'),
    );
    const revoked = await exsh(home, 'cssm', 'tokens', 'revoke', token);
    expect(revoked).toEqual({
      exitCode: 0,
      stdout: 'Token revoked on 2026-01-01 00:00:00 UTC: no product instance can register with it any more; those registered with it stay registered.\n',
      stderr: '',
    });
    expect((await exsh(home, 'cssm', 'tokens', 'revoke', token)).stdout).toBe('The token was already revoked on 2026-01-01 00:00:00 UTC.\n');
    const json = JSON.parse((await exsh(home, 'cssm', 'tokens', 'list', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(json.map((t) => [t.token, t.uses, t.maxUses, t.exportControlled, t.revoked])).toEqual([
      [token, 0, 10, true, true],
      [second, 0, null, false, false],
    ]);
  }, 30_000);

  it('--json prints one document; an empty list says so', async () => {
    const home = e2eHome();
    expect(await exsh(home, 'cssm', 'tokens', 'list')).toEqual({ exitCode: 0, stdout: 'No registration tokens.\n', stderr: '' });
    expect((await exsh(home, 'cssm', 'tokens', 'list', '--json')).stdout).toBe('[]\n');
    const created = await exsh(home, '--output', 'json', 'cssm', 'tokens', 'create', '--description', 'd');
    const t = JSON.parse(created.stdout) as { token: string; description: string; createdAt: string };
    expect([t.description, t.createdAt]).toEqual(['d', '2026-01-01T00:00:00.000Z']);
    const revoked = JSON.parse((await exsh(home, 'cssm', 'tokens', 'revoke', t.token, '--json')).stdout) as Record<string, unknown>;
    expect(revoked).toMatchObject({ token: t.token, revoked: true, alreadyRevoked: false });
  }, 30_000);

  it.each([
    [['create', '--expires-days', '0'], 'cssm.badValue', 2],
    [['create', '--expires-days', 'ten'], 'cssm.badValue', 2],
    [['create', '--max-uses', '0'], 'cssm.badValue', 2],
    [['create', '--virtual-account', 'Nope'], 'cssm.unknownVirtualAccount', 1],
    [['list', '--virtual-account', 'Nope'], 'cssm.unknownVirtualAccount', 1],
    [['revoke', 'bm9wZQ=='], 'cssm.tokenNotFound', 1],
    [['revoke'], 'commander.missingArgument', 2],
  ])(
    'tokens %j fails with %s (exit %d), printing nothing on stdout',
    async (args, code, exitCode) => {
      const r = await exsh(e2eHome(), 'cssm', 'tokens', ...args);
      expect(r.exitCode).toBe(exitCode);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^exsh: .+ \\[${code.replace('.', '\\.')}\\]\\n$`));
    },
    30_000,
  );
});

// ---------------------------------------------------------------------------------------
// registered instances in the listings, through the CLI

let nonceCount = 0;
function signed<K extends MessageKind>(kind: K, serial: string, key: string, body: BodyOf[K], time: string): RequestEnvelope<K> {
  const nonce = createHash('sha256').update(`tokens-test/${nonceCount++}`).digest('hex').slice(0, 32);
  const udi = { pid: 'Expressway', serial, vid: '1.0', hostId: '320aa69d', productType: 'ExpresswayC' };
  return signRequest<RequestEnvelope<K>>({ protocol: PROTOCOL, kind, nonce, time, udi, body }, key);
}

describe('registered instances in exsh cssm instances, licenses and remove', () => {
  it('shows the registration and what it uses, and remove --instance releases it', async () => {
    const home = e2eHome();
    const created = await exsh(home, 'cssm', 'tokens', 'create');
    const env: CssmEnv = { home, now: () => new Date(NOW), rng: seededRng(3, 'cssm') };
    const key = generateDeviceKey();
    const csr = await createCsr(key, { commonName: '0ABCDEF1' });
    const at = '2026-01-02T00:00:00.000Z';
    const reg = await handleDeviceMessage(
      env,
      signed('register', '0ABCDEF1', key, { token: created.stdout.trim(), force: false, csr, software: 'X15.3.0' }, at),
      'onprem',
    );
    expect(reg.status).toBe('OK');
    const rms = resolveLicence('Expressway Rich Media Session').tag;
    const idCertificate = (reg.body as RegisterReply).idCertificate;
    const auth = await handleDeviceMessage(env, signed('renewAuth', '0ABCDEF1', key, { idCertificate, entitlements: [{ tag: rms, count: 5 }] }, at), 'onprem');
    expect(auth.status).toBe('OK');
    // The CLI processes open the database themselves.
    closeDatabases();

    const list = await exsh(home, 'cssm', 'instances');
    expect(list.stdout).toBe(
      [
        'Serial    Product Type  Reservation  Status      Virtual Account  Last Contact             Cert Expires             Licenses',
        '0ABCDEF1  EXPY          -            Registered  Default          2026-01-02 00:00:00 UTC  2027-01-01 23:55:00 UTC  Expressway Rich Media Session: 5 in use',
        '',
      ].join('\n'),
    );
    const json = JSON.parse((await exsh(home, 'cssm', 'instances', '--json')).stdout) as Array<Record<string, unknown>>;
    expect(json[0]).toMatchObject({
      serial: '0ABCDEF1',
      reservationType: null,
      status: 'Registered',
      registration: { via: 'onprem', registeredAt: at, certificateExpires: '2027-01-01T23:55:00.000Z', inUse: [{ tag: rms, count: 5 }] },
    });
    const licences = (await exsh(home, 'cssm', 'licenses')).stdout.split('\n');
    expect(licences[1]).toBe('Expressway Rich Media Session                         100       5         0       95');

    const removed = await exsh(home, 'cssm', 'remove', '--instance', '0ABCDEF1');
    expect(removed).toEqual({
      exitCode: 0,
      stdout:
        'Registered product instance UDI_PID:Expressway; UDI_SN:0ABCDEF1; UDI_VID:1.0 removed; 5 licences in use returned to Default: Expressway Rich Media Session 5. Its next renewal will fail and it will show as unregistered.\n',
      stderr: '',
    });
    expect((await exsh(home, 'cssm', 'licenses')).stdout.split('\n')[1]).toBe(
      'Expressway Rich Media Session                         100       0         0      100',
    );
    const late = await handleDeviceMessage(env, signed('renewAuth', '0ABCDEF1', key, { idCertificate, entitlements: [] }, at), 'onprem');
    expect(late.error?.code).toBe('instance.unknown');
  }, 60_000);
});
