import { afterEach, describe, expect, it } from 'vitest';
import { selectService } from '../../src/device/brand.js';
import { evaluationDaysRemaining, licensingSection } from '../../src/device/licensing.js';
import { NOW, cleanHomes, errorReply, testDevice } from './helpers.js';

afterEach(cleanHomes);

describe('ServiceSelect (§8.2): every brand transition', () => {
  it('VCS → Expressway: Smart Licensing turns on and a fresh evaluation starts', async () => {
    const d = await testDevice({ brand: 'VCS', now: new Date('2026-03-01T10:00:00Z') });
    expect(await d.run('xstatus License Smart Enabled')).toBe('*s License: /\n    Smart:\n      Enabled: "False"\n*s/end\n\nOK\n');
    expect(await d.run('xcommand ServiceSelect Brand: Expressway')).toBe(
      '*r ServiceSelectResult (status=OK):\n    Brand: "Expressway"\n    Type: "ExpresswayC"\n    Product: "Cisco Expressway-C"\n*r/end\n\nOK\n',
    );
    const s = await d.state();
    expect([s.brand, s.type, licensingSection(s).evaluationStartedAt]).toEqual(['Expressway', 'ExpresswayC', NOW.toISOString()]);
    expect(await d.run('xstatus License Smart Enabled')).toContain('Enabled: "True"');
    expect(await d.mutate((ctx) => evaluationDaysRemaining(ctx))).toBe(90);
    expect(await d.run('xstatus SystemUnit Product')).toBe('*s SystemUnit: /\n    Product: "Cisco Expressway-C"\n*s/end\n\nOK\n');
    expect(await d.run('xstatus License Smart Enabled')).toContain('Enabled: "True"');
  });

  it('VCS → Expressway-E with Type', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.run('xcommand ServiceSelect Brand: Expressway Type: ExpresswayE');
    const s = await d.state();
    expect([s.brand, s.type]).toEqual(['Expressway', 'ExpresswayE']);
    expect(await d.run('xstatus SystemUnit Product')).toContain('"Cisco Expressway-E"');
  });

  it('License Smart is refused on a VCS and answers once it is an Expressway', async () => {
    const d = await testDevice({ brand: 'VCS' });
    expect(await d.run('xconfiguration License Smart Transport Mode: Proxy')).toContain('Code: "license.notAvailableOnVcs"');
    await d.run('xcommand ServiceSelect Brand: Expressway');
    expect(await d.run('xconfiguration License Smart Transport Mode: Proxy')).toBe('\nOK\n');
  });

  it('Expressway → VCS is refused: only a factory reset returns it to Cisco VCS', async () => {
    const d = await testDevice();
    const before = await d.stored();
    expect(await d.run('xcommand ServiceSelect Brand: VCS')).toBe(
      errorReply('ServiceSelect', 'Only a factory reset returns this system to Cisco VCS.', 'serviceSelect.vcsNeedsFactoryReset'),
    );
    expect(await d.stored()).toBe(before);
    expect(await d.refusal((ctx) => selectService(ctx, 'VCS', 'ExpresswayE'))).toBe('serviceSelect.vcsNeedsFactoryReset');
  });

  it('Expressway-C ↔ Expressway-E within Expressway, Smart Licensing untouched', async () => {
    const d = await testDevice();
    const evaluation = licensingSection(await d.state()).evaluationStartedAt;
    await d.run('xcommand ServiceSelect Brand: Expressway Type: ExpresswayE');
    expect((await d.state()).type).toBe('ExpresswayE');
    await d.run('xcommand ServiceSelect Brand: Expressway Type: ExpresswayC');
    expect((await d.state()).type).toBe('ExpresswayC');
    expect((await d.state()).licensing).toEqual({ evaluationStartedAt: evaluation, pausedAt: evaluation });
  });

  it('selecting what the system already is changes nothing (no write)', async () => {
    const d = await testDevice();
    const before = await d.stored();
    await d.run('xcommand ServiceSelect Brand: Expressway');
    await d.run('xcommand ServiceSelect Brand: Expressway Type: ExpresswayC');
    expect(await d.stored()).toBe(before);
    const v = await testDevice({ brand: 'VCS' });
    const vBefore = await v.stored();
    expect(await v.run('xcommand ServiceSelect Brand: VCS')).toContain('Product: "Cisco TelePresence VCS"');
    expect(await v.stored()).toBe(vBefore);
  });

  it('a VCS has no type: Brand: VCS with Type is refused', async () => {
    const d = await testDevice({ brand: 'VCS' });
    expect(await d.refusal((ctx) => selectService(ctx, 'VCS', 'ExpresswayE'))).toBe('serviceSelect.typeNotForVcs');
  });

  it('Brand is required and checked against its value space', async () => {
    const d = await testDevice({ brand: 'VCS' });
    expect(await d.run('xcommand ServiceSelect Brand: Tandberg')).toContain('ERROR');
    expect(await d.run('xcommand ServiceSelect Type: ExpresswayE')).toContain('ERROR');
    expect((await d.state()).brand).toBe('VCS');
  });
});
