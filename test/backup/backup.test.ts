import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../src/codes/authority.js';
import { canonicalJson, createBackup, digestOf, parseBackup, restoreBackup, serializeBackup, type BackupDocument } from '../../src/device/backup.js';
import { formatUdi } from '../../src/codes/udi.js';
import { addOptionKey, deleteOptionKey } from '../../src/device/optionkeys.js';
import { readReservation } from '../../src/device/reservation-state.js';
import { applyFactoryReset } from '../../src/device/reset.js';
import { addTrustedKey, readAuthorityKey, removeTrustedKey } from '../../src/device/trust.js';
import { cleanHomes as cleanE2eHomes, NOW, runExsh, tempHome as e2eHome } from '../helpers/exsh.js';
import { piidOf, plrCode, requestCodeOf, slrCode } from '../reservation/helpers.js';
import { cleanHomes, codeOf, testDevice, type TestDevice } from '../device/helpers.js';

afterEach(() => {
  cleanHomes();
  cleanE2eHomes();
});

const MS_INTEROP = '116341M00-1-0BADF00D';

function backupOf(d: TestDevice): Promise<BackupDocument> {
  return d.device.view((ctx) => createBackup(ctx.state, d.device.name, ctx.now()));
}

async function reserve(d: TestDevice): Promise<void> {
  await d.run('xconfiguration License Smart ReservationEnable: On');
  const code = requestCodeOf(await d.run('xcommand License Smart Reservation Request'));
  const { pid, serial, vid, hostId } = (await d.state()).identity;
  const udi = { pid, serial, vid, hostId };
  expect(await d.run(`xcommand License Smart Reservation Install "${plrCode(udi, piidOf(udi, code))}"`)).toContain('installed');
}

describe('backup file format', () => {
  it('canonical JSON sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 'x', c: null }], e: undefined })).toBe('{"a":[{"c":null,"d":"x"}],"b":1}');
  });

  it('round-trips through its text, digest over the canonical payload', async () => {
    const d = await testDevice();
    const doc = await backupOf(d);
    expect(doc).toMatchObject({ format: 'exsh-backup', version: 1, payload: { udi: formatUdi((await d.state()).identity), deviceName: 'expressway' } });
    expect(doc.sha256).toBe(digestOf(doc.payload));
    expect(parseBackup(serializeBackup(doc), 'b.json', d.model)).toEqual(doc);
  });

  it.each<[string, (text: string) => string, string]>([
    ['a changed value', (t) => t.replace('"brand": "Expressway"', '"brand": "VCS"'), 'backup.tampered'],
    ['a changed digest', (t) => t.replace(/"sha256": "[0-9a-f]/, '"sha256": "z'), 'backup.tampered'],
    ['a newer backup version', (t) => t.replace('"version": 1', '"version": 2'), 'backup.newerVersion'],
    ['truncated text', (t) => t.slice(0, 200), 'backup.corrupt'],
    ['another JSON document', () => '{"hello": "world"}', 'backup.corrupt'],
    ['no digest', (t) => t.replace('"sha256"', '"sha1"'), 'backup.corrupt'],
  ])('%s is refused: %s', async (_what, damage, code) => {
    const d = await testDevice();
    const text = serializeBackup(await backupOf(d));
    expect(codeOf(() => parseBackup(damage(text), 'b.json', d.model))).toBe(code);
  });

  it('a device of a newer schema (digest intact) is a newer version; an invalid state is corrupt', async () => {
    const d = await testDevice();
    const doc = await backupOf(d);
    const newer = structuredClone(doc);
    newer.payload.state.schemaVersion = 99;
    newer.sha256 = digestOf(newer.payload);
    expect(codeOf(() => parseBackup(serializeBackup(newer), 'b.json', d.model))).toBe('backup.newerVersion');
    const bad = structuredClone(doc);
    (bad.payload.state as { brand: string }).brand = 'Tandberg';
    bad.sha256 = digestOf(bad.payload);
    expect(codeOf(() => parseBackup(serializeBackup(bad), 'b.json', d.model))).toBe('backup.corrupt');
  });
});

describe('restore (§8.4)', () => {
  it('onto the same system: configuration and the reservation come back', async () => {
    const d = await testDevice();
    await d.run('xconfiguration License Smart Transport Mode: Proxy');
    await reserve(d);
    const doc = await backupOf(d);
    const identity = (await d.state()).identity;
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, {}));
    expect((await d.state()).brand).toBe('VCS');
    const outcome = await d.mutate((ctx) => restoreBackup(ctx, d.model, doc));
    expect(outcome).toMatchObject({ sameSystem: true, smartLicensingDropped: false, product: 'Cisco Expressway-C' });
    const s = await d.state();
    expect(s.identity).toEqual(identity);
    expect(s.brand).toBe('Expressway');
    expect(s.config['License Smart Transport Mode']).toBe('Proxy');
    expect(readReservation(s).installed).toEqual(readReservation(doc.payload.state).installed);
    expect(s.lastReset).toMatchObject({ count: 1 });
  });

  it("onto a different system: configuration comes back, identity and option keys stay the target's, registration/reservation do not", async () => {
    const a = await testDevice({ name: 'a', seed: 'a' });
    await a.run('xconfiguration License Smart Transport Mode: Proxy');
    await reserve(a);
    const doc = await backupOf(a);
    const home = a.home;
    const b = await testDevice({ home, name: 'b', seed: 'b', brand: 'VCS' });
    await b.mutate((ctx) => addOptionKey(ctx, '116341T00-1-AB12CD34'));
    const identity = (await b.state()).identity;
    expect(formatUdi(identity)).not.toBe(doc.payload.udi);
    const outcome = await b.mutate((ctx) => restoreBackup(ctx, b.model, doc));
    expect(outcome).toMatchObject({ sameSystem: false, smartLicensingDropped: true, backupUdi: doc.payload.udi, targetUdi: formatUdi(identity) });
    const s = await b.state();
    expect(s.identity).toEqual(identity);
    expect(s.brand).toBe('Expressway');
    expect(s.config['License Smart Transport Mode']).toBe('Proxy');
    expect(readReservation(s)).toEqual({ request: null, installed: null, lastConfirmationCode: '', lastReturnCode: '' });
    expect(s.optionKeys).toMatchObject({ keys: [{ key: '116341T00-1-AB12CD34' }] });
    expect(await b.run('xstatus License Smart Enabled')).toContain('Enabled: "True"');
  });

  it('a Cisco VCS backup is refused on an Expressway: only a factory reset returns it to VCS', async () => {
    const vcs = await testDevice({ name: 'vcs', brand: 'VCS' });
    const doc = await backupOf(vcs);
    const exp = await testDevice({ home: vcs.home, name: 'exp' });
    expect(await exp.refusal((ctx) => restoreBackup(ctx, exp.model, doc))).toBe('backup.vcsOntoExpressway');
  });

  it('a deleted MS Interop key does not come back from an older backup', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.mutate((ctx) => addOptionKey(ctx, MS_INTEROP));
    await d.mutate((ctx) => {
      ctx.state.brand = 'Expressway';
    });
    const doc = await backupOf(d);
    await d.mutate((ctx) => deleteOptionKey(ctx, MS_INTEROP));
    await d.mutate((ctx) => restoreBackup(ctx, d.model, doc));
    expect((await d.state()).optionKeys).toEqual({ keys: [], msInteropDeleted: true });
  });
});

describe('exsh backup create / restore', () => {
  it('writes a 0600 file, refuses to overwrite without --force, and restores onto the same and a different device', async () => {
    const home = e2eHome();
    const file = join(home, 'exp.backup.json');
    const ex = (...args: string[]) => runExsh(['--home', home, '--now', NOW, ...args], { input: '' });
    await ex('-c', 'xconfiguration License Smart Transport Mode: Proxy');
    const created = await ex('backup', 'create', file);
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(
      /^Backup of device 'expressway' \(UDI P:Expressway,S:[0-9A-F]{8},V:1\.0,H:[0-9a-f]{8}\) written to .*exp\.backup\.json\.\n$/,
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await ex('backup', 'create', file);
    expect([again.exitCode, again.stderr]).toEqual([1, expect.stringContaining('[backup.exists]')]);
    expect((await ex('backup', 'create', '--force', file)).exitCode).toBe(0);

    await ex('factory-reset', '--discard', 'all', '--yes');
    const same = await ex('backup', 'restore', file);
    expect(same.exitCode).toBe(0);
    expect(same.stdout).toMatch(/: the same system \(UDI .*\); smart licensing registration and reservation were restored\.\n$/);
    expect((await ex('-c', 'xconfiguration License Smart Transport Mode')).stdout).toBe('*c xConfiguration License Smart Transport Mode: Proxy\n\nOK\n');

    const other = await ex('--device', 'other', 'backup', 'restore', file);
    expect(other.exitCode).toBe(0);
    expect(other.stdout).toContain('a different system (UDI P:Expressway,S:');
    expect(other.stdout).toContain('Smart Licensing is on, but registration and reservation were not restored: register this product again.\n');
    expect((await ex('--device', 'other', '-c', 'xconfiguration License Smart Transport Mode')).stdout).toContain('Proxy');
  });

  it('a tampered backup is refused (exit 1) with nothing changed', async () => {
    const home = e2eHome();
    const file = join(home, 'b.json');
    const ex = (...args: string[]) => runExsh(['--home', home, '--now', NOW, ...args], { input: '' });
    await ex('backup', 'create', file);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"config": {}', '"config": {"License Smart Transport Mode": "Proxy"}'));
    const stored = async () => {
      const shown = await ex('devices', 'show', 'expressway', '--json');
      expect(shown.exitCode).toBe(0);
      return shown.stdout;
    };
    const before = await stored();
    const r = await ex('backup', 'restore', file);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `exsh: The backup ${file} fails its integrity check (SHA-256 mismatch): it was changed after it was made; nothing was restored. [backup.tampered]\n`,
    );
    expect(await stored()).toBe(before);
    const missing = await ex('backup', 'restore', join(home, 'nope.json'));
    expect([missing.exitCode, missing.stderr]).toEqual([1, expect.stringContaining('no such file. [backup.unreadable]')]);
  });
});

// ---------------------------------------------------------------------------------------
// A backup is only as trustworthy as its digest, and anyone can recompute that: restore
// checks every value, every installed code and the trust store itself.

// biome-ignore lint/suspicious/noExplicitAny: a forger edits whatever field it likes, typed or not
type Forged = Record<string, any>;

/** The backup with its device state edited and the digest recomputed, as a forger would. */
function forged(doc: BackupDocument, edit: (state: Forged) => void): BackupDocument {
  const out = structuredClone(doc);
  edit(out.payload.state as Forged);
  try {
    out.payload.udi = formatUdi(out.payload.state.identity);
  } catch {
    // An identity no UDI can be made of: the forger keeps the old one.
  }
  out.sha256 = digestOf(out.payload);
  return out;
}

async function slrReserve(d: TestDevice): Promise<void> {
  await d.run('xconfiguration License Smart ReservationEnable: On');
  const code = requestCodeOf(await d.run('xcommand License Smart Reservation Request'));
  const { pid, serial, vid, hostId } = (await d.state()).identity;
  const udi = { pid, serial, vid, hostId };
  expect(await d.run(`xcommand License Smart Reservation Install "${slrCode(udi, piidOf(udi, code))}"`)).toContain('installed');
}

describe('restore checks every value against its value space (backup.corrupt, nothing restored)', () => {
  it.each<[string, (s: Forged) => void]>([
    ['a proxy port outside 1..65535', (s) => (s.config['License Smart Transport Proxy Port'] = 99999999)],
    ['an option key that is not one', (s) => s.optionKeys.keys.push({ key: 'garbage', feature: 'x', addedAt: '2026-03-01T10:00:00.000Z' })],
    [
      'an option key whose feature is not its letter',
      (s) => s.optionKeys.keys.push({ key: '116341T00-1-AB12CD34', feature: 'FindMe', addedAt: '2026-03-01T10:00:00.000Z' }),
    ],
    [
      'more option keys than a device holds',
      (s) => {
        for (let i = 0; i < 65; i++)
          s.optionKeys.keys.push({ key: `116341T00-1-AB12CD${String(i).padStart(2, '0')}`, feature: 'Traversal Calls', addedAt: '2026-03-01T10:00:00.000Z' });
      },
    ],
    ['an alarm the device does not have', (s) => s.alarms.push({ id: 1, title: 'x', severity: 'y', status: 'Active', raisedAt: '2026-03-01T10:00:00.000Z' })],
    ['a serial number that is not 8 hex digits', (s) => (s.identity.serial = 'zz')],
    ['a product id that breaks the UDI', (s) => (s.identity.pid = 'Expressway,S:00000000')],
    ['a negative reset count', (s) => (s.lastReset = { at: '2026-03-01T10:00:00.000Z', count: -5, answers: {} })],
    ['a confirmation code that is not one', (s) => (s.reservation.lastConfirmationCode = 'not-a-code')],
    ['a trust store fingerprint that is not one', (s) => (s.trustStore.keys[0].fingerprint = 'xyz')],
  ])('%s', async (_what, edit) => {
    const d = await testDevice();
    const doc = forged(await backupOf(d), edit);
    expect(codeOf(() => parseBackup(serializeBackup(doc), 'b.json', d.model))).toBe('backup.corrupt');
  });
});

describe('restore re-verifies each installed authorization code on the target (backup.reservationInvalid)', () => {
  it.each<[string, (d: TestDevice) => Promise<void>, (s: Forged) => void]>([
    ['a forged SLR count (the code still says 4)', slrReserve, (s) => (s.reservation.installed.entitlements[0].count = 1000)],
    [
      'a forged SLR entitlement list',
      slrReserve,
      (s) => s.reservation.installed.entitlements.push({ ...s.reservation.installed.entitlements[0], tag: 'regid.x' }),
    ],
    ['a PLR made export-controlled', reserve, (s) => (s.reservation.installed.exportControl = true)],
    ['a code that is not one', reserve, (s) => (s.reservation.installed.code = 'CAAAAA')],
    ['a trust store without the key that signed the code', reserve, (s) => (s.trustStore.keys = [])],
  ])('%s is refused, nothing changed', async (_what, setUp, edit) => {
    const d = await testDevice();
    await setUp(d);
    const doc = forged(await backupOf(d), edit);
    const parsed = parseBackup(serializeBackup(doc), 'b.json', d.model);
    expect(await d.refusal((ctx) => restoreBackup(ctx, d.model, parsed))).toBe('backup.reservationInvalid');
  });

  it("another device's reservation cannot come in by giving its backup the target's identity", async () => {
    const a = await testDevice({ name: 'a', seed: 'a' });
    await reserve(a);
    const b = await testDevice({ home: a.home, name: 'b', seed: 'b' });
    const mine = (await b.state()).identity;
    const honest = await backupOf(a);
    const doc = forged(honest, (s) => (s.identity = mine));
    const parsed = parseBackup(serializeBackup(doc), 'b.json', b.model);
    // It claims to be b's own backup, but its PLR code was signed over a's UDI.
    expect(await b.refusal((ctx) => restoreBackup(ctx, b.model, parsed))).toBe('backup.reservationInvalid');
    // The honest backup of a is a different system: its reservation is left behind.
    const outcome = await b.mutate((ctx) => restoreBackup(ctx, b.model, parseBackup(serializeBackup(honest), 'b.json', b.model)));
    expect(outcome).toMatchObject({ sameSystem: false, reservationDropped: true });
    expect(readReservation(await b.state()).installed).toBeNull();
  });

  it('a request in progress for another UDI is refused the same way', async () => {
    const a = await testDevice({ name: 'a', seed: 'a' });
    await a.run('xconfiguration License Smart ReservationEnable: On');
    await a.run('xcommand License Smart Reservation Request');
    const b = await testDevice({ home: a.home, name: 'b', seed: 'b' });
    const mine = (await b.state()).identity;
    const parsed = parseBackup(serializeBackup(forged(await backupOf(a), (s) => (s.identity = mine))), 'b.json', b.model);
    expect(await b.refusal((ctx) => restoreBackup(ctx, b.model, parsed))).toBe('backup.reservationInvalid');
  });

  it('an honest backup of the same system with a reservation still restores', async () => {
    const d = await testDevice();
    await slrReserve(d);
    const doc = await backupOf(d);
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, {}));
    await d.mutate((ctx) => restoreBackup(ctx, d.model, parseBackup(serializeBackup(doc), 'b.json', d.model)));
    expect(readReservation(await d.state()).installed).toEqual(readReservation(doc.payload.state).installed);
  });
});

describe('restore refuses a trust store that claims the built-in name (backup.badTrustStore)', () => {
  const other = () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    return { pem, fingerprint: keyFingerprint(createPublicKey(pem)) };
  };
  it.each<[string, (s: Forged) => void]>([
    [
      "another key named 'demo', marked built-in",
      (s) => {
        const k = other();
        s.trustStore.keys[0] = { ...s.trustStore.keys[0], publicKeyPem: k.pem, fingerprint: k.fingerprint };
      },
    ],
    [
      "another key named 'demo', added",
      (s) => {
        const k = other();
        s.trustStore.keys = [{ name: 'demo', fingerprint: k.fingerprint, publicKeyPem: k.pem, addedAt: '2026-03-01T10:00:00.000Z', builtin: false }];
      },
    ],
    [
      'another key marked built-in under another name',
      (s) => {
        const k = other();
        s.trustStore.keys.push({ name: 'lab', fingerprint: k.fingerprint, publicKeyPem: k.pem, addedAt: '2026-03-01T10:00:00.000Z', builtin: true });
      },
    ],
    ['a fingerprint that is not its key', (s) => (s.trustStore.keys[0].fingerprint = '0123456789abcdef')],
  ])('%s', async (_what, edit) => {
    const d = await testDevice();
    const parsed = parseBackup(serializeBackup(forged(await backupOf(d), edit)), 'b.json', d.model);
    expect(await d.refusal((ctx) => restoreBackup(ctx, d.model, parsed))).toBe('backup.badTrustStore');
  });

  it('exsh trust add refuses the name of the built-in key for another key', async () => {
    const d = await testDevice();
    await d.mutate((ctx) => removeTrustedKey(ctx, 'demo'));
    const k = other();
    expect(await d.refusal((ctx) => addTrustedKey(ctx, readAuthorityKey(k.pem, 'k.pem'), 'demo'))).toBe('trust.nameReserved');
  });
});

describe('restore onto a different system that held a reservation', () => {
  it('says the reservation must be made again', async () => {
    const home = e2eHome();
    const file = join(home, 'exp.backup.json');
    const ex = (...args: string[]) => runExsh(['--home', home, '--now', NOW, ...args], { input: '' });
    const r = await ex('-c', 'xconfiguration License Smart ReservationEnable: On', '-c', 'xcommand License Smart Reservation Request');
    expect(r.exitCode).toBe(0);
    expect((await ex('backup', 'create', file)).exitCode).toBe(0);
    expect((await ex('devices', 'create', 'other')).exitCode).toBe(0);
    const other = await ex('--device', 'other', 'backup', 'restore', file);
    expect(other.exitCode).toBe(0);
    expect(other.stdout).toContain(
      'Smart Licensing is on, but the license reservation was not restored: a reservation belongs to the system it was made for, so make the reservation again on this system (xCommand License Smart Reservation Request).\n',
    );
    expect(other.stdout).not.toContain('register');
  });
});

describe('restore onto a device whose stored document is corrupt', () => {
  it('replaces the corrupt row with the backup, identity and reservation included, and keeps the corrupt document aside', async () => {
    const home = e2eHome();
    const file = join(home, 'exp.backup.json');
    const ex = (...args: string[]) => runExsh(['--home', home, '--now', NOW, ...args], { input: '' });
    const request = await ex('-c', 'xconfiguration License Smart ReservationEnable: On', '-c', 'xcommand License Smart Reservation Request');
    const code = /(CB-\S+)/.exec(request.stdout)![1]!;
    const plr = await ex('cssm', 'reserve', '--request', code, '--plr');
    expect(plr.exitCode).toBe(0);
    expect((await ex('-c', `xcommand License Smart Reservation Install ${plr.stdout.trim()}`)).exitCode).toBe(0);
    const udi = (await ex('-c', 'xstatus SystemUnit UDI')).stdout;
    expect((await ex('backup', 'create', file)).exitCode).toBe(0);

    const db = new Database(join(home, 'exsh.sqlite'));
    db.prepare('UPDATE device SET document = \'{"schemaVersion": 1, "identity": 7}\' WHERE name = \'expressway\'').run();
    db.close();
    expect((await ex('-c', 'xstatus SystemUnit')).exitCode).toBe(3);

    const r = await ex('backup', 'restore', file);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const aside = /kept in (\S+)\)/.exec(r.stdout)?.[1];
    expect(r.stdout).toMatch(
      /^The stored document of device 'expressway' was corrupt \(identity is missing\); it was replaced by the backup \(the corrupt document is kept in .+\)\.\nRestored .+ onto device 'expressway': the same system \(UDI .+\); smart licensing registration and reservation were restored\.\n$/,
    );
    expect(readFileSync(aside!.replace(/\.$/, ''), 'utf8')).toBe('{"schemaVersion": 1, "identity": 7}');
    expect((await ex('-c', 'xstatus SystemUnit UDI')).stdout).toBe(udi);
    expect((await ex('-c', 'xstatus License Smart Reservation Status')).stdout).toContain('Reserved - Permanent License Reservation');
  });

  it('refuses when another device of the home already is that system (no clone of a reservation)', async () => {
    const home = e2eHome();
    const file = join(home, 'a.backup.json');
    const ex = (...args: string[]) => runExsh(['--home', home, '--now', NOW, ...args], { input: '' });
    expect((await ex('backup', 'create', file)).exitCode).toBe(0);
    expect((await ex('devices', 'create', 'b')).exitCode).toBe(0);
    const db = new Database(join(home, 'exsh.sqlite'));
    db.prepare('UPDATE device SET document = \'{"schemaVersion": 1, "identity": 7}\' WHERE name = \'b\'').run();
    db.close();
    const r = await ex('--device', 'b', 'backup', 'restore', file);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/\[backup\.sameSystemExists\]\n$/);
    const check = new Database(join(home, 'exsh.sqlite'), { readonly: true });
    expect(check.prepare("SELECT document FROM device WHERE name = 'b'").get()).toEqual({ document: '{"schemaVersion": 1, "identity": 7}' });
    check.close();
  });
});

describe('hostile backups', () => {
  it('nesting without end is corrupt with a stable code, not an internal error; so is a stored row', async () => {
    const home = e2eHome();
    const file = join(home, 'deep.json');
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    writeFileSync(file, `{"format":"exsh-backup","version":1,"payload":{"x":${deep}},"sha256":"00"}`);
    const r = await runExsh(['--home', home, '--now', NOW, 'backup', 'restore', file]);
    expect(r).toMatchObject({
      exitCode: 1,
      stderr: `exsh: The backup ${file} is corrupt (it nests deeper than 32 levels, as no device does); nothing was restored. [backup.corrupt]\n`,
    });
    expect((await runExsh(['--home', home, '--now', NOW, '-c', 'xStatus SystemUnit Name'])).exitCode).toBe(0);
    const db = new Database(join(home, 'exsh.sqlite'));
    db.prepare("UPDATE device SET document = ? WHERE name = 'expressway'").run(`{"schemaVersion":1,"x":${deep}}`);
    db.close();
    const read = await runExsh(['--home', home, '-c', 'xStatus SystemUnit Name']);
    expect({ exitCode: read.exitCode, code: /\[([\w.]+)\]\n$/.exec(read.stderr)?.[1], deep: read.stderr.includes('nests deeper than 32 levels') }).toEqual({
      exitCode: 3,
      code: 'store.corrupt',
      deep: true,
    });
  });
});
