import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  confirmationCode,
  derivePiid,
  formatUdi,
  loadDemoAuthority,
  makeReturnCode,
  parseAuthorizationCode,
  signatureBytes,
  verifySignature,
  type AuthorizationCode,
} from '../../src/codes/index.js';
import { loadCatalogue, resolveLicence } from '../../src/catalogue.js';
import { SCHEMA_VERSION } from '../../src/cssm/db.js';
import { authorityPublicKey, codes, confirm, init, instances, licenses, remove, reserve, update, type CssmEnv } from '../../src/cssm/service.js';
import { cleanHomes, expectCode, request, T0, testEnv, udi } from './helpers.js';

afterEach(cleanHomes);

const RMS = 'Expressway Rich Media Session';
const demoKey = () => loadDemoAuthority().publicKey;

function balance(env: CssmEnv, license: string, virtualAccount?: string): number {
  const row = licenses({ ...env, virtualAccount }).find((r) => r.license === license);
  return row ? row.balance : 0;
}

function slr(code: string): Extract<AuthorizationCode, { type: 'SLR' }> {
  const parsed = parseAuthorizationCode(code);
  if (parsed.type !== 'SLR') throw new Error('expected an SLR code');
  return parsed;
}

describe('database', () => {
  it('is created on first use: 0600, WAL, schema version, stocked inventory', () => {
    const env = testEnv();
    const rows = licenses(env);
    const path = join(env.home, 'cssm.sqlite');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
    expect(rows.map((r) => [r.license, r.purchased, r.inUse, r.reserved, r.balance])).toEqual([
      ['Expressway Rich Media Session', 100, 0, 0, 100],
      ['Expressway Room Registration', 50, 0, 0, 50],
      ['Expressway Desktop Registration', 50, 0, 0, 50],
      ['Expressway PLR without Export Control', 10, 0, 0, 10],
      ['Expressway PLR with Export Control', 10, 0, 0, 10],
      ['Expressway Advanced Account Security', 10, 0, 0, 10],
      ['UC Manager Enhanced License (12.x)', 25, 0, 0, 25],
      ['UC Manager Enhanced Plus License (12.x)', 25, 0, 0, 25],
      ['UC Manager Enhanced License (14.x)', 25, 0, 0, 25],
      ['UC Manager Enhanced Plus License (14.x)', 25, 0, 0, 25],
      ['Expressway Rich Media Session (Term)', 60, 0, 0, 60],
      ['Expressway Room Registration (Term)', 20, 0, 0, 20],
      ['Expressway Desktop Registration (Term)', 20, 0, 0, 20],
      ['Expressway Advanced Account Security (Term)', 5, 0, 0, 5],
      ['UC Manager Enhanced License (12.x) (Term)', 10, 0, 0, 10],
      ['UC Manager Enhanced Plus License (12.x) (Term)', 10, 0, 0, 10],
      ['UC Manager Enhanced License (14.x) (Term)', 10, 0, 0, 10],
      ['UC Manager Enhanced Plus License (14.x) (Term)', 10, 0, 0, 10],
    ]);
    expect(instances(env)).toEqual([]);
  });

  it('drops term lines from the pool once their end day is over', () => {
    const env = testEnv();
    licenses(env);
    env.at.set(new Date('2025-05-01T23:59:59Z'));
    expect(balance(env, 'Expressway Advanced Account Security (Term)')).toBe(5);
    env.at.set(new Date('2025-05-02T00:00:00Z'));
    expect(balance(env, 'Expressway Advanced Account Security (Term)')).toBe(0);
    expect(balance(env, 'Expressway Rich Media Session (Term)')).toBe(40);
    expectCode(
      () => reserve({ ...env, request: request(udi('AA000001')).code, licenses: [{ name: 'Expressway Advanced Account Security (Term)', qty: 1 }] }),
      'cssm.insufficientBalance',
    );
  });
});

describe('catalogue', () => {
  it('has every §6.6 licence with a well-formed tag and a kind', () => {
    const names = loadCatalogue().entitlements.map((e) => e.displayName);
    for (const n of [
      'Expressway Rich Media Session',
      'Expressway Room Registration',
      'Expressway Desktop Registration',
      'Expressway PLR without Export Control',
      'Expressway PLR with Export Control',
      'Expressway Advanced Account Security',
      'UC Manager Enhanced License (12.x)',
      'UC Manager Enhanced Plus License (12.x)',
      'UC Manager Enhanced License (14.x)',
      'UC Manager Enhanced Plus License (14.x)',
    ]) {
      expect(names).toContain(n);
      if (!n.startsWith('Expressway PLR')) expect(names).toContain(`${n} (Term)`);
    }
  });

  it.each([
    ['exact tag', loadCatalogue().entitlements[1]!.tag, 'Expressway Room Registration'],
    ['display name, any case', 'EXPRESSWAY RICH MEDIA SESSION', RMS],
    ['unique prefix', 'expressway desktop registration (', 'Expressway Desktop Registration (Term)'],
    ['unique prefix, PLR', 'Expressway PLR witho', 'Expressway PLR without Export Control'],
    ['exact name beats its (Term) variant', 'Expressway Advanced Account Security', 'Expressway Advanced Account Security'],
    ['prefix of a term name', 'Expressway Room Registration (', 'Expressway Room Registration (Term)'],
  ])('resolves a licence by %s', (_how, name, displayName) => {
    expect(resolveLicence(name).displayName).toBe(displayName);
  });

  it('rejects an ambiguous prefix, listing the candidates', () => {
    const e = expectCode(() => resolveLicence('UC Manager Enhanced Plus'), 'cssm.ambiguousLicence');
    expect(e.message).toContain('"UC Manager Enhanced Plus License (12.x)"');
    expect(e.message).toContain('"UC Manager Enhanced Plus License (14.x) (Term)"');
  });

  it('rejects an unknown licence', () => {
    expectCode(() => resolveLicence('Expressway Teleportation'), 'cssm.unknownLicence');
  });
});

describe('reserve', () => {
  it('PLR: one Expressway PLR without Export Control, a signed code bound to the UDI and request', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const req = request(u);
    const code = reserve({ ...env, request: req.code, plr: true }).code;
    const parsed = parseAuthorizationCode(code);
    expect(parsed.type).toBe('PLR');
    if (parsed.type !== 'PLR') return;
    expect(parsed.payload).toEqual({ version: 1, exportControl: false, timestamp: T0.getTime(), piid: derivePiid(u, req.nonce) });
    expect(verifySignature(parsed, u, [demoKey()])).toBe(true);
    expect(verifySignature(parsed, udi('08F8FF3D'), [demoKey()])).toBe(false);
    expect(balance(env, 'Expressway PLR without Export Control')).toBe(9);
    expect(balance(env, 'Expressway PLR with Export Control')).toBe(10);
    const [pi] = instances(env);
    expect(pi).toMatchObject({
      serial: '08F8FF3C',
      udi: formatUdi(u),
      piid: derivePiid(u, req.nonce),
      productType: 'EXPY',
      reservationType: 'PLR',
      exportControl: false,
      status: 'Reserved Licenses',
      virtualAccount: 'Default',
      lastContact: T0.toISOString(),
      licenses: [{ license: 'Expressway PLR without Export Control', reserved: 1 }],
    });
  });

  it('PLR with export control reserves the export-control variant', () => {
    const env = testEnv();
    const code = reserve({ ...env, request: request(udi('08F8FF3C')).code, plr: true, exportControl: true }).code;
    const parsed = parseAuthorizationCode(code);
    expect(parsed.type === 'PLR' && parsed.payload.exportControl).toBe(true);
    expect(balance(env, 'Expressway PLR with Export Control')).toBe(9);
    expect(balance(env, 'Expressway PLR without Export Control')).toBe(10);
  });

  it('SLR: exactly the requested entitlements, perpetual without dates and term with them', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const req = request(u);
    const code = reserve({
      ...env,
      request: req.code,
      licenses: [
        { name: 'expressway room registration (term)', qty: 2 },
        { name: RMS, qty: 4 },
      ],
    }).code;
    expect(code).not.toContain('\n');
    const parsed = slr(code);
    expect(parsed.udi).toBe(formatUdi(u));
    expect(verifySignature(parsed, u, [demoKey()])).toBe(true);
    const rms = resolveLicence(RMS);
    const room = resolveLicence('Expressway Room Registration (Term)');
    expect(parsed.payload).toEqual({
      flag: 'A',
      version: 'C',
      piid: derivePiid(u, req.nonce),
      timestamp: T0.getTime(),
      entitlements: [
        {
          tag: rms.tag,
          count: 4,
          startDate: '',
          endDate: '',
          licenseType: 'PERPETUAL',
          displayName: RMS,
          tagDescription: rms.description,
          subscriptionId: '',
        },
        {
          tag: room.tag,
          count: 2,
          startDate: '2024-May-01 UTC',
          endDate: '2027-May-01 UTC',
          licenseType: 'TERM',
          displayName: room.displayName,
          tagDescription: room.description,
          subscriptionId: '',
        },
      ],
    });
    expect(balance(env, RMS)).toBe(96);
    expect(balance(env, 'Expressway Room Registration (Term)')).toBe(18);
    const row = licenses(env).find((r) => r.license === RMS)!;
    expect([row.purchased, row.reserved, row.balance]).toEqual([100, 4, 96]);
  });

  it('takes term units from the longest-lasting line first, one entitlement per date range', () => {
    const env = testEnv();
    const code = reserve({ ...env, request: request(udi('08F8FF3C')).code, licenses: [{ name: `${RMS} (Term)`, qty: 45 }] }).code;
    expect(slr(code).payload.entitlements.map((e) => [e.count, e.startDate, e.endDate])).toEqual([
      [5, '2024-May-01 UTC', '2025-May-01 UTC'],
      [40, '2024-May-01 UTC', '2027-May-01 UTC'],
    ]);
    expect(balance(env, `${RMS} (Term)`)).toBe(15);
  });

  it('accepts the exact tag', () => {
    const env = testEnv();
    const tag = resolveLicence('Expressway Desktop Registration').tag;
    const code = reserve({ ...env, request: request(udi('08F8FF3C')).code, licenses: [{ name: tag, qty: 3 }] }).code;
    expect(slr(code).payload.entitlements[0]).toMatchObject({ tag, count: 3 });
  });

  it('returns the code with what it was issued for', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const req = request(u);
    const r = reserve({ ...env, request: req.code, licenses: [{ name: RMS, qty: 4 }] });
    expect(r).toEqual({
      code: r.code,
      instance: '08F8FF3C',
      udi: 'UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0',
      piid: derivePiid(u, req.nonce),
      reservationType: 'SLR',
      virtualAccount: 'Default',
      status: 'Reserved Licenses',
      timestamp: T0.toISOString(),
      licenses: [{ license: RMS, tag: resolveLicence(RMS).tag, count: 4 }],
    });
    const p = reserve({ ...env, request: request(udi('A1')).code, plr: true });
    expect(p).toMatchObject({ instance: 'A1', reservationType: 'PLR', licenses: [{ license: 'Expressway PLR without Export Control', count: 1 }] });
  });

  describe('refuses, changing nothing', () => {
    function unchanged(env: CssmEnv, fn: () => unknown, code: string, exitCode = 1): Error {
      const before = JSON.stringify([licenses(env), instances(env)]);
      const e = expectCode(fn, code, exitCode);
      expect(JSON.stringify([licenses(env), instances(env)])).toBe(before);
      return e;
    }

    it('a mistyped request code', () => {
      const env = testEnv();
      const good = request(udi('08F8FF3C')).code;
      const bad = good.slice(0, -2) + (good.endsWith('00') ? '01' : '00');
      const e = unchanged(env, () => reserve({ ...env, request: bad, plr: true }), 'cssm.requestMistyped');
      expect(e.message).toMatch(/mistyped/);
      unchanged(env, () => reserve({ ...env, request: 'hello', plr: true }), 'cssm.requestMistyped');
    });

    it('an unknown or ambiguous licence', () => {
      const env = testEnv();
      const req = request(udi('08F8FF3C')).code;
      unchanged(env, () => reserve({ ...env, request: req, licenses: [{ name: 'Expressway Warp Drive', qty: 1 }] }), 'cssm.unknownLicence');
      unchanged(env, () => reserve({ ...env, request: req, licenses: [{ name: 'Expressway R', qty: 1 }] }), 'cssm.ambiguousLicence');
    });

    it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('a quantity of %s', (qty) => {
      const env = testEnv();
      unchanged(env, () => reserve({ ...env, request: request(udi('08F8FF3C')).code, licenses: [{ name: RMS, qty }] }), 'cssm.badQuantity');
    });

    it('more than the balance, with a message about keeping a surplus', () => {
      const env = testEnv();
      const e = unchanged(
        env,
        () =>
          reserve({
            ...env,
            request: request(udi('08F8FF3C')).code,
            licenses: [
              { name: RMS, qty: 4 },
              { name: 'Expressway Advanced Account Security', qty: 11 },
            ],
          }),
        'cssm.insufficientBalance',
      );
      expect(e.message).toBe(
        'Cannot reserve 11 Expressway Advanced Account Security in virtual account Default: only 10 available; ensure that you have a surplus of licences before reserving.',
      );
    });

    it('the eleventh PLR', () => {
      const env = testEnv();
      for (let i = 0; i < 10; i++) reserve({ ...env, request: request(udi(`PLR${i}`)).code, plr: true });
      unchanged(env, () => reserve({ ...env, request: request(udi('PLR10')).code, plr: true }), 'cssm.insufficientBalance');
    });

    it('an instance that already holds a reservation (even with a new request)', () => {
      const env = testEnv();
      const u = udi('08F8FF3C');
      const first = request(u).code;
      reserve({ ...env, request: first, plr: true });
      const e = unchanged(env, () => reserve({ ...env, request: first, plr: true }), 'cssm.alreadyReserved');
      expect(e.message).toBe(
        'The product instance with serial number 08F8FF3C already holds a PLR reservation in virtual account Default: show its code with exsh cssm code --instance 08F8FF3C, or release it first (xCommand License Smart Reservation Return on the device if the code is installed, or ReturnAuthorization with the code if it never was, e.g. after a Cancel), then exsh cssm remove --return-code <code>.',
      );
      unchanged(env, () => reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty: 1 }] }), 'cssm.alreadyReserved');
    });

    it('the same licence named twice', () => {
      const env = testEnv();
      unchanged(
        env,
        () =>
          reserve({
            ...env,
            request: request(udi('X1')).code,
            licenses: [
              { name: RMS, qty: 1 },
              { name: RMS.toUpperCase(), qty: 2 },
            ],
          }),
        'cssm.duplicateLicence',
      );
    });

    it('a PLR licence named as a specific licence', () => {
      const env = testEnv();
      unchanged(
        env,
        () => reserve({ ...env, request: request(udi('X1')).code, licenses: [{ name: 'expressway plr with export control', qty: 1 }] }),
        'cssm.plrOnly',
      );
    });

    it('an unknown virtual account', () => {
      const env = testEnv();
      unchanged(env, () => reserve({ ...env, request: request(udi('X1')).code, plr: true, virtualAccount: 'Lab' }), 'cssm.unknownVirtualAccount');
    });

    it('a request code whose serial number is not 1 to 16 letters and digits', () => {
      const env = testEnv();
      for (const serial of ['08F8FF3C\x1b[2J', 'A'.repeat(17), 'AB_CD', 'AB\u009bCD']) {
        const e = unchanged(env, () => reserve({ ...env, request: request(udi(serial)).code, plr: true }), 'cssm.requestBadSerial');
        expect(e.message).toBe(
          `The reservation request code's serial number '${serial}' is not one this CSSM accepts: a serial number is 1 to 16 letters and digits.`,
        );
      }
      reserve({ ...env, request: request(udi('abcDEF0123456789')).code, plr: true });
      expect(instances(env).map((i) => i.serial)).toEqual(['abcDEF0123456789']);
    });

    it('conflicting or missing choices, as usage errors', () => {
      const env = testEnv();
      const req = request(udi('X1')).code;
      unchanged(env, () => reserve({ ...env, request: req, plr: true, licenses: [{ name: RMS, qty: 1 }] }), 'cssm.conflictingOptions', 2);
      unchanged(env, () => reserve({ ...env, request: req, exportControl: true, licenses: [{ name: RMS, qty: 1 }] }), 'cssm.conflictingOptions', 2);
      unchanged(env, () => reserve({ ...env, request: req }), 'cssm.missingOption', 2);
    });
  });
});

describe('update and confirm', () => {
  function reserved(env: CssmEnv, serial = '08F8FF3C', qty = 4) {
    const u = udi(serial);
    const first = reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty }] }).code;
    return { u, first };
  }

  it('puts the instance in transit holding the larger count, and confirm completes it', () => {
    const env = testEnv();
    const { u, first } = reserved(env);
    env.at.advance(60_000);
    const next = update({
      ...env,
      instance: '08F8FF3C',
      licenses: [
        { name: RMS, qty: 6 },
        { name: 'Expressway Room Registration', qty: 2 },
      ],
    }).code;
    const parsed = slr(next);
    expect(parsed.payload.piid).toBe(slr(first).payload.piid);
    expect(parsed.payload.timestamp).toBe(T0.getTime() + 60_000);
    expect(parsed.payload.entitlements.map((e) => [e.displayName, e.count])).toEqual([
      [RMS, 6],
      ['Expressway Room Registration', 2],
    ]);
    expect(instances(env)[0]).toMatchObject({
      status: 'In Transit',
      lastContact: new Date(T0.getTime() + 60_000).toISOString(),
      licenses: [
        { license: RMS, reserved: 4, pending: 6 },
        { license: 'Expressway Room Registration', reserved: 0, pending: 2 },
      ],
    });
    expect(balance(env, RMS)).toBe(94);

    expectCode(
      () => confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, parsed.payload.piid, signatureBytes(slr(first))) }),
      'cssm.wrongConfirmationCode',
    );
    expectCode(() => confirm({ ...env, instance: '08F8FF3C', code: 'deadbeef' }), 'cssm.wrongConfirmationCode');
    expect(instances(env)[0]!.status).toBe('In Transit');

    const r = confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, parsed.payload.piid, signatureBytes(parsed)).toUpperCase() });
    expect(r).toEqual({
      instance: '08F8FF3C',
      completed: true,
      licenses: [
        { license: RMS, tag: resolveLicence(RMS).tag, reserved: 6 },
        { license: 'Expressway Room Registration', tag: resolveLicence('Expressway Room Registration').tag, reserved: 2 },
      ],
    });
    expect(instances(env)[0]).toMatchObject({
      status: 'Reserved Licenses',
      licenses: [
        { license: RMS, reserved: 6 },
        { license: 'Expressway Room Registration', reserved: 2 },
      ],
    });
    expect(instances(env)[0]!.licenses[0]).not.toHaveProperty('pending');
    expect(balance(env, RMS)).toBe(94);
    expect(balance(env, 'Expressway Room Registration')).toBe(48);
  });

  it('a decrease releases units only once confirmed; licences not named keep their counts', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    reserve({
      ...env,
      request: request(u).code,
      licenses: [
        { name: RMS, qty: 6 },
        { name: 'Expressway Desktop Registration', qty: 3 },
      ],
    });
    const next = slr(update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 2 }] }).code);
    expect(next.payload.entitlements.map((e) => [e.displayName, e.count])).toEqual([
      [RMS, 2],
      ['Expressway Desktop Registration', 3],
    ]);
    expect(next.payload.timestamp).toBe(T0.getTime() + 1); // pinned clock: still newer
    expect(balance(env, RMS)).toBe(94);
    confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, next.payload.piid, signatureBytes(next)) });
    expect(balance(env, RMS)).toBe(98);
    expect(balance(env, 'Expressway Desktop Registration')).toBe(47);
  });

  it('a quantity of 0 releases a licence', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    reserve({
      ...env,
      request: request(u).code,
      licenses: [
        { name: RMS, qty: 6 },
        { name: 'Expressway Desktop Registration', qty: 3 },
      ],
    });
    const next = slr(update({ ...env, instance: '08F8FF3C', licenses: [{ name: 'Expressway Desktop Registration', qty: 0 }] }).code);
    expect(next.payload.entitlements.map((e) => e.displayName)).toEqual([RMS]);
    confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, next.payload.piid, signatureBytes(next)) });
    expect(balance(env, 'Expressway Desktop Registration')).toBe(50);
    expect(instances(env)[0]!.licenses.map((l) => l.license)).toEqual([RMS]);
  });

  it('refuses a second update while one is in transit, keeping its counts reserved', () => {
    const env = testEnv();
    const { u } = reserved(env, '08F8FF3C', 1);
    const a = slr(update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 100 }] }).code);
    expect(balance(env, RMS)).toBe(0);
    const before = JSON.stringify([licenses(env), instances(env)]);
    // The device can still install the first update, so its 100 stay reserved: no second code may hand out 98 more.
    const e = expectCode(() => update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 2 }] }), 'cssm.updateInTransit');
    expect(e.message).toBe(
      'Product instance 08F8FF3C has an update in transit: confirm it first (exsh cssm confirm --instance 08F8FF3C --code <confirmation code>), or return the reservation on the device and remove the instance.',
    );
    expect(JSON.stringify([licenses(env), instances(env)])).toBe(before);
    reserve({ ...env, request: request(udi('B1')).code, licenses: [{ name: `${RMS} (Term)`, qty: 1 }] });
    expectCode(() => reserve({ ...env, request: request(udi('B2')).code, licenses: [{ name: RMS, qty: 1 }] }), 'cssm.insufficientBalance');
    confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, a.payload.piid, signatureBytes(a)) });
    expect(balance(env, RMS)).toBe(0);
    const b = slr(update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 2 }] }).code);
    confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, b.payload.piid, signatureBytes(b)) });
    expect(balance(env, RMS)).toBe(98);
  });

  it("confirm with no update in transit accepts the first code's confirmation", () => {
    const env = testEnv();
    const { u, first } = reserved(env);
    const p = slr(first);
    expect(confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, p.payload.piid, signatureBytes(p)) })).toEqual({
      instance: '08F8FF3C',
      completed: false,
      licenses: [{ license: RMS, tag: resolveLicence(RMS).tag, reserved: 4 }],
    });
    expectCode(() => confirm({ ...env, instance: '08F8FF3C', code: '00000000' }), 'cssm.wrongConfirmationCode');
  });

  it('refuses an update beyond the balance, leaving the instance as it was', () => {
    const env = testEnv();
    reserved(env, 'A1', 90);
    reserved(env, 'A2', 4);
    const e = expectCode(() => update({ ...env, instance: 'A2', licenses: [{ name: RMS, qty: 15 }] }), 'cssm.insufficientBalance');
    expect(e.message).toContain('only 10 available');
    expect(instances(env)[1]!.status).toBe('Reserved Licenses');
    update({ ...env, instance: 'A2', licenses: [{ name: RMS, qty: 10 }] });
    expect(balance(env, RMS)).toBe(0);
  });

  it('refuses unknown instances, PLR instances, empty updates and bad quantities', () => {
    const env = testEnv();
    reserved(env);
    reserve({ ...env, request: request(udi('PLR1')).code, plr: true });
    expectCode(() => update({ ...env, instance: 'NOPE', licenses: [{ name: RMS, qty: 1 }] }), 'cssm.unknownInstance');
    expectCode(() => confirm({ ...env, instance: 'NOPE', code: '00000000' }), 'cssm.unknownInstance');
    expectCode(() => update({ ...env, instance: 'PLR1', licenses: [{ name: RMS, qty: 1 }] }), 'cssm.notSlr');
    expectCode(() => confirm({ ...env, instance: 'PLR1', code: '00000000' }), 'cssm.notSlr');
    expectCode(() => update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 0 }] }), 'cssm.emptyReservation');
    expectCode(() => update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: -2 }] }), 'cssm.badQuantity');
    expectCode(() => update({ ...env, instance: '08F8FF3C', licenses: [] }), 'cssm.missingOption', 2);
    for (const bad of ['08F8\x1b[31mFF3C', '', 'A'.repeat(17), '08F8-FF3C']) {
      const e = expectCode(() => update({ ...env, instance: bad, licenses: [{ name: RMS, qty: 1 }] }), 'cssm.badSerial', 2);
      expect(e.message).toBe(`'${bad}' is not a serial number: a product instance's serial number is 1 to 16 letters and digits, such as 08F8FF3C.`);
      expectCode(() => confirm({ ...env, instance: bad, code: '00000000' }), 'cssm.badSerial', 2);
      expectCode(() => codes({ ...env, instance: bad }), 'cssm.badSerial', 2);
      expectCode(() => remove({ ...env, instance: bad, force: true }), 'cssm.badSerial', 2);
    }
    expect(instances(env).map((i) => i.status)).toEqual(['Reserved Licenses', 'Reserved Licenses']);
  });
});

describe('remove', () => {
  it.each(['installed', 'unused'] as const)('a %s return code releases everything and deletes the instance', (kind) => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const code = reserve({
      ...env,
      request: request(u).code,
      licenses: [
        { name: RMS, qty: 4 },
        { name: 'Expressway Room Registration (Term)', qty: 2 },
      ],
    }).code;
    const p = slr(code);
    reserve({ ...env, request: request(udi('OTHER')).code, licenses: [{ name: RMS, qty: 1 }] });
    expect(balance(env, RMS)).toBe(95);
    const summary = remove({ ...env, returnCode: makeReturnCode(kind, u, p.payload.piid, signatureBytes(p)) });
    expect(summary).toEqual({
      instance: '08F8FF3C',
      udi: 'UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0',
      virtualAccount: 'Default',
      licencesReturned: 6,
      licenses: [
        { license: RMS, tag: resolveLicence(RMS).tag, count: 4 },
        { license: 'Expressway Room Registration (Term)', tag: resolveLicence('Expressway Room Registration (Term)').tag, count: 2 },
      ],
      returnKind: kind,
      forced: false,
      registered: false,
    });
    expect(balance(env, RMS)).toBe(99);
    expect(balance(env, 'Expressway Room Registration (Term)')).toBe(20);
    expect(instances(env).map((i) => i.serial)).toEqual(['OTHER']);
    // The device may then reserve again from scratch.
    reserve({ ...env, request: request(u).code, plr: true });
  });

  it('a PLR return gives back one licence', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const p = parseAuthorizationCode(reserve({ ...env, request: request(u).code, plr: true, exportControl: true }).code);
    const s = remove({ ...env, instance: '08F8FF3C', returnCode: makeReturnCode('installed', u, p.payload.piid, signatureBytes(p)) });
    expect(s.licencesReturned).toBe(1);
    expect(balance(env, 'Expressway PLR with Export Control')).toBe(10);
  });

  it('matches a code of an update still in transit (released with ReturnAuthorization)', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty: 4 }] });
    const pending = slr(update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 9 }] }).code);
    expect(balance(env, RMS)).toBe(91);
    const s = remove({ ...env, returnCode: makeReturnCode('unused', u, pending.payload.piid, signatureBytes(pending)) });
    expect(s.licencesReturned).toBe(9);
    expect(balance(env, RMS)).toBe(100);
    expect(instances(env)).toEqual([]);
  });

  it('matches the superseded first code after an update was confirmed', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const first = slr(reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty: 4 }] }).code);
    const next = slr(update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 5 }] }).code);
    confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, next.payload.piid, signatureBytes(next)) });
    expect(remove({ ...env, returnCode: makeReturnCode('unused', u, first.payload.piid, signatureBytes(first)) }).licencesReturned).toBe(5);
  });

  it('refuses a return code issued to nobody here, or to another instance, changing nothing', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const p = slr(reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty: 4 }] }).code);
    reserve({ ...env, request: request(udi('B2')).code, plr: true });
    const foreign = makeReturnCode('installed', udi('08F8FF3C', 'ffffffff'), p.payload.piid, signatureBytes(p));
    expectCode(() => remove({ ...env, returnCode: foreign }), 'cssm.returnCodeMismatch');
    const good = makeReturnCode('installed', u, p.payload.piid, signatureBytes(p));
    expectCode(() => remove({ ...env, returnCode: good, instance: 'B2' }), 'cssm.returnCodeMismatch');
    expectCode(() => remove({ ...env, returnCode: good, instance: 'ZZ' }), 'cssm.unknownInstance');
    expectCode(() => remove({ ...env, returnCode: good.replace(/.$/, (c) => (c === '2' ? '3' : '2')) }), 'cssm.returnCodeMistyped');
    expectCode(() => remove({ ...env, returnCode: 'C123' }), 'cssm.returnCodeMistyped');
    expect(instances(env)).toHaveLength(2);
    expect(balance(env, RMS)).toBe(96);
  });
});

describe('remove --force', () => {
  it('removes an instance without a return code, releasing everything it held, pending units included', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    reserve({
      ...env,
      request: request(u).code,
      licenses: [
        { name: RMS, qty: 4 },
        { name: 'Expressway Room Registration (Term)', qty: 2 },
      ],
    });
    update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 7 }] });
    reserve({ ...env, request: request(udi('OTHER')).code, plr: true });
    expect(remove({ ...env, instance: '08F8FF3C', force: true })).toEqual({
      instance: '08F8FF3C',
      udi: 'UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0',
      virtualAccount: 'Default',
      licencesReturned: 9,
      licenses: [
        { license: RMS, tag: resolveLicence(RMS).tag, count: 7 },
        { license: 'Expressway Room Registration (Term)', tag: resolveLicence('Expressway Room Registration (Term)').tag, count: 2 },
      ],
      forced: true,
      registered: false,
    });
    expect(balance(env, RMS)).toBe(100);
    expect(balance(env, 'Expressway Room Registration (Term)')).toBe(20);
    expect(instances(env).map((i) => i.serial)).toEqual(['OTHER']);
    reserve({ ...env, request: request(u).code, plr: true });
  });

  it('refuses an unknown instance, and is a usage error without --instance, with a return code, or with neither way', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const p = parseAuthorizationCode(reserve({ ...env, request: request(u).code, plr: true }).code);
    const ret = makeReturnCode('installed', u, p.payload.piid, signatureBytes(p));
    expectCode(() => remove({ ...env, instance: 'NOPE', force: true }), 'cssm.unknownInstance');
    const none = expectCode(() => remove({ ...env, instance: '08F8FF3C' }), 'cssm.missingOption', 2);
    expect(none.message).toBe(
      'cssm remove needs --return-code <code> (the return code from the device), or --instance <serial> --force to remove the instance without one.',
    );
    expectCode(() => remove({ ...env }), 'cssm.missingOption', 2);
    const bare = expectCode(() => remove({ ...env, force: true }), 'cssm.missingOption', 2);
    expect(bare.message).toBe('--force needs --instance <serial>: the product instance to remove without a return code.');
    const both = expectCode(() => remove({ ...env, instance: '08F8FF3C', force: true, returnCode: ret }), 'cssm.conflictingOptions', 2);
    expect(both.message).toBe('Give either --return-code or --force, not both.');
    expect(instances(env)).toHaveLength(1);
  });
});

describe('code', () => {
  it('shows every code issued to an instance: the pending update first, then the current code, then superseded ones', () => {
    const env = testEnv();
    const u = udi('08F8FF3C');
    const first = reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty: 4 }] }).code;
    expect(codes({ ...env, instance: '08F8FF3C' })).toEqual({
      instance: '08F8FF3C',
      reservationType: 'SLR',
      status: 'Reserved Licenses',
      virtualAccount: 'Default',
      codes: [{ state: 'current', kind: 'SLR', code: first, timestamp: T0.toISOString(), issuedAt: T0.toISOString() }],
    });
    env.at.advance(60_000);
    const secondCode = update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 5 }] }).code;
    const second = slr(secondCode);
    env.at.advance(60_000);
    confirm({ ...env, instance: '08F8FF3C', code: confirmationCode(u, second.payload.piid, signatureBytes(second)) });
    env.at.advance(60_000);
    const third = update({ ...env, instance: '08F8FF3C', licenses: [{ name: RMS, qty: 6 }] }).code;
    const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000).toISOString();
    const r = codes({ ...env, instance: ' 08F8FF3C ' });
    expect(r.status).toBe('In Transit');
    expect(r.codes.map((c) => [c.state, c.code, c.issuedAt, c.confirmedAt])).toEqual([
      ['pending', third, at(3), undefined],
      ['current', secondCode, at(1), at(2)],
      ['superseded', first, at(0), undefined],
    ]);
    expect(r.codes[1]!.timestamp).toBe(new Date(second.payload.timestamp).toISOString());
  });

  it('a PLR shows its one code; an unknown instance is refused', () => {
    const env = testEnv();
    const plr = reserve({ ...env, request: request(udi('A1')).code, plr: true }).code;
    expect(codes({ ...env, instance: 'A1' }).codes).toEqual([
      { state: 'current', kind: 'PLR', code: plr, timestamp: T0.toISOString(), issuedAt: T0.toISOString() },
    ]);
    expectCode(() => codes({ ...env, instance: 'A2' }), 'cssm.unknownInstance');
  });
});

describe('virtual accounts and the authority', () => {
  it('init names the account and the stocked virtual account, and is idempotent', () => {
    const env = testEnv();
    const r = init({ ...env, account: 'Acme', virtualAccount: 'Lab' });
    expect(r).toMatchObject({ created: true, account: 'Acme', virtualAccount: 'Lab', virtualAccountCreated: false, authority: 'demo' });
    expect(balance(env, RMS)).toBe(100);
    expect(balance(env, RMS, 'lab')).toBe(100);
    expect(init({ ...env })).toMatchObject({ created: false, account: 'Acme', virtualAccountCreated: false });
    expectCode(() => init({ ...env, account: 'Other' }), 'cssm.alreadyInitialised');
    expect(init({ ...env, virtualAccount: 'Empty' })).toMatchObject({ created: false, virtualAccountCreated: true });
    expect(licenses({ ...env, virtualAccount: 'Empty' })).toEqual([]);
    expectCode(() => reserve({ ...env, request: request(udi('E1')).code, plr: true, virtualAccount: 'Empty' }), 'cssm.insufficientBalance');
    reserve({ ...env, request: request(udi('L1')).code, plr: true });
    expect(instances({ ...env, virtualAccount: 'Empty' })).toEqual([]);
    expect(instances({ ...env, virtualAccount: 'Lab' })[0]!.virtualAccount).toBe('Lab');
    expectCode(() => licenses({ ...env, virtualAccount: 'Nope' }), 'cssm.unknownVirtualAccount');
  });

  it('init --new-key makes a private 0600 authority that signs from then on', () => {
    const env = testEnv();
    expect(authorityPublicKey(env).source).toBe('demo');
    const r = init({ ...env, newKey: true });
    expect(r.authority).toBe('private');
    expect(statSync(r.authorityKeyPath!).mode & 0o777).toBe(0o600);
    expect(readFileSync(r.authorityKeyPath!, 'utf8')).toContain('PRIVATE KEY');
    const pub = authorityPublicKey(env);
    expect(pub).toMatchObject({ source: 'private', fingerprint: r.fingerprint, publicKeyPem: r.publicKeyPem });
    const u = udi('08F8FF3C');
    const p = slr(reserve({ ...env, request: request(u).code, licenses: [{ name: RMS, qty: 1 }] }).code);
    expect(verifySignature(p, u, [demoKey()])).toBe(false);
    expect(verifySignature(p, u, [createPublicKey(pub.publicKeyPem)])).toBe(true);
  });
});
