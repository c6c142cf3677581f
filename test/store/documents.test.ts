import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Device } from '../../src/device/device.js';
import { deviceModel } from '../../src/device/subsystems.js';
import { cleanHomes, NOW, tempHome, testDevice } from '../device/helpers.js';

/** §12: the device store's transactions, in-process. */

afterEach(cleanHomes);

async function open(home: string, name = 'expressway'): Promise<Device> {
  const device = await Device.open({ home, name, model: deviceModel(), now: NOW, seed: '1', lockTimeoutMs: 5000 });
  await device.read();
  return device;
}

const minutes = (d: Device) => d.read().then((s) => s.clock.offsetMs / 60_000);

describe('the write lock', () => {
  it('is waited for without blocking the event loop, and taken once the other transaction ends', async () => {
    const home = tempHome();
    const device = await open(home);
    const other = new Database(join(home, 'exsh.sqlite'));
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const change = device.change((ctx) => {
      ctx.edit('clock').offsetMs += 60_000;
    });
    await new Promise((r) => setTimeout(r, 150));
    const ticksWhileWaiting = ticks;
    other.exec('COMMIT');
    other.close();
    await change;
    clearInterval(timer);
    expect(ticksWhileWaiting).toBeGreaterThan(10);
    expect(await minutes(device)).toBe(1);
  });

  it('two sessions of one process on one device: interleaved changes, none lost', async () => {
    const home = tempHome();
    const a = await open(home);
    const b = await open(home);
    const advance = (d: Device) =>
      d.change(async (ctx) => {
        // An await inside the transaction: the other session must wait, not interleave.
        const before = ctx.state.clock.offsetMs;
        await new Promise((r) => setImmediate(r));
        ctx.edit('clock').offsetMs = before + 60_000;
      });
    await Promise.all([...Array.from({ length: 50 }, () => advance(a)), ...Array.from({ length: 50 }, () => advance(b))]);
    expect(await minutes(a)).toBe(100);
    expect(await minutes(b)).toBe(100);
  });
});

describe('a burst (group commit)', () => {
  it('keeps its changes from other readers until it commits, then shows all of them', async () => {
    const home = tempHome();
    const writer = await open(home);
    const reader = await open(home);
    await writer.burst(async () => {
      for (let i = 0; i < 5; i++) {
        await writer.change((ctx) => {
          ctx.edit('clock').offsetMs += 60_000;
        });
      }
      expect(await minutes(writer)).toBe(5);
      expect(await minutes(reader)).toBe(0);
    });
    expect(await minutes(reader)).toBe(5);
  });

  it('each change advances the generation as a change of its own would; a refused one leaves the draft as it was', async () => {
    const d = await testDevice();
    const g0 = (await d.state()).generation;
    await d.device.burst(async () => {
      await d.device.change((ctx) => ctx.setConfig('SystemUnit Name', 'one'));
      await expect(
        d.device.change((ctx) => {
          ctx.setConfig('SystemUnit Name', 'half-done');
          throw new Error('refused');
        }),
      ).rejects.toThrow('refused');
      await d.device.change((ctx) => ctx.setConfig('SystemUnit Name', 'two'));
      // Nothing changed: no new generation.
      await d.device.change((ctx) => ctx.setConfig('SystemUnit Name', 'two'));
    });
    const s = await d.state();
    expect(s.config['SystemUnit Name']).toBe('two');
    expect(s.generation).toBe(g0 + 2);
  });
});

describe('the committed document', () => {
  it('is frozen: a handler that writes into it without edit() is refused, and nothing is written', async () => {
    const d = await testDevice();
    const before = await d.stored();
    await expect(
      d.mutate((ctx) => {
        (ctx.state.config as Record<string, string>)['SystemUnit Name'] = 'sneaky';
      }),
    ).rejects.toThrow(TypeError);
    expect(await d.stored()).toBe(before);
  });

  it('a change copies only what it touches: the other sections are the same objects as before', async () => {
    const d = await testDevice();
    const before = await d.device.read();
    await d.mutate((ctx) => ctx.setConfig('SystemUnit Name', 'cheap'));
    const after = await d.device.read();
    expect(after).not.toBe(before);
    expect(after.config).not.toBe(before.config);
    for (const key of ['identity', 'alarms', 'clock', 'reservation', 'trustStore', 'optionKeys', 'licensing']) {
      expect({ key, same: after[key] === before[key] }).toEqual({ key, same: true });
    }
  });

  it('a read copies nothing when no catch-up is due', async () => {
    const d = await testDevice();
    const committed = await d.device.read();
    const seen = await d.device.view((ctx) => ctx.state);
    expect(seen).toBe(committed);
  });
});
