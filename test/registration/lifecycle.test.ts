import { afterEach, describe, expect, it } from 'vitest';
import { createBackup, restoreBackup } from '../../src/device/backup.js';
import { readRegistration } from '../../src/device/registration-state.js';
import { applyFactoryReset } from '../../src/device/reset.js';
import { cleanHomes } from '../device/helpers.js';
import { connectedDevice, type ConnectedDevice } from './helpers.js';

/** Registration across backup/restore and factory reset (§8.1, §8.4, §9). */

afterEach(cleanHomes);

async function registered(opts: Parameters<typeof connectedDevice>[0] = {}): Promise<ConnectedDevice> {
  const t = await connectedDevice(opts);
  await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
  expect((await t.status()).registration).toBe('Registered');
  return t;
}

describe('backup and restore', () => {
  it('onto the same system: the registration comes back and keeps renewing', async () => {
    const t = await registered();
    const doc = await t.device.view((ctx) => createBackup(ctx.state, t.device.name, ctx.now()));
    await t.run('xCommand License Smart Deregister');
    await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    const outcome = await t.mutate((ctx) => restoreBackup(ctx, t.model, doc));
    expect(outcome.sameSystem).toBe(true);
    expect(readRegistration(await t.state()).phase).toBe('registered');
    expect((await t.status()).registration).toBe('Registered');
  });

  it('onto a different system: it must register again', async () => {
    const t = await registered();
    const doc = await t.device.view((ctx) => createBackup(ctx.state, t.device.name, ctx.now()));
    const other = await connectedDevice({ home: t.home, name: 'other', seed: '2' });
    const outcome = await other.mutate((ctx) => restoreBackup(ctx, other.model, doc));
    expect(outcome).toMatchObject({ sameSystem: false, smartLicensingDropped: true });
    const s = await other.status();
    expect(s.registration).toBe('Unregistered');
    expect(s.authorization).toBe('Evaluation Mode');
  });
});

describe('factory reset', () => {
  it('-t YES keeps the registration, offline until the DNS domain is configured again', async () => {
    const t = await registered();
    await t.mutate((ctx) => applyFactoryReset(ctx, t.model, { 'brand-type': true, 'smart-licensing': true }));
    expect((await t.status()).registration).toBe('Registered');
    expect(await t.run('xStatus Alarm')).toContain('Id: 30042');
    // Offline: the renewal due in 30 days cannot get through (Direct without DNS).
    await t.run('xCommand Simulator Clock Advance Days: 31');
    expect((await t.status()).text).toContain('FailureReason: "The last attempt to renew the license authorization failed');
    await t.run('xConfiguration IP DNS Domain Name: example.com');
    await t.run('xCommand Simulator Clock Advance Minutes: 15');
    const s = await t.status();
    expect(s.authorization).toBe('Authorized');
    expect(await t.run('xStatus Alarm')).not.toContain('30042');
  });

  it('-t NO drops it', async () => {
    const t = await registered();
    await t.mutate((ctx) => applyFactoryReset(ctx, t.model, { 'brand-type': true, 'smart-licensing': false }));
    expect((await t.status()).registration).toBe('Unregistered');
    expect(await t.run('xStatus License Smart Transport Mode')).toContain('Mode: "Direct"');
  });
});
