import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson, createBackup, digestOf, parseBackup, restoreBackup, serializeBackup, type BackupDocument } from '../../src/device/backup.js';
import { formatUdi } from '../../src/codes/udi.js';
import { addOptionKey, deleteOptionKey } from '../../src/device/optionkeys.js';
import { readReservation } from '../../src/device/reservation-state.js';
import { applyFactoryReset } from '../../src/device/reset.js';
import { isExshError } from '../../src/errors.js';
import { cleanHomes as cleanE2eHomes, NOW, runExsh, tempHome as e2eHome } from '../helpers/exsh.js';
import { piidOf, plrCode, requestCodeOf } from '../reservation/helpers.js';
import { cleanHomes, testDevice, type TestDevice } from '../device/helpers.js';

afterEach(() => {
  cleanHomes();
  cleanE2eHomes();
});

const MS_INTEROP = '116341M00-1-0BADF00D';

function backupOf(d: TestDevice): Promise<BackupDocument> {
  return d.device.view((ctx) => createBackup(ctx.state, d.device.name, ctx.now()));
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isExshError(e)) return e.code;
    throw e;
  }
  throw new Error('expected an error');
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
