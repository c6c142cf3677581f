import { afterEach, describe, expect, it } from 'vitest';
import type { Entitlement } from '../../src/codes/types.js';
import { cleanHomes } from '../device/helpers.js';
import { connectedDevice, field } from '../registration/helpers.js';
import { piidOf, requestCodeOf, RMS, RMS_TERM, slrCode, testDevice, type TestDevice } from '../reservation/helpers.js';

/** Traffic, consumption, export control and Boot (§10) on a pinned clock. */

afterEach(cleanHomes);

async function traffic(t: { run(line: string): Promise<string> }, params: string): Promise<string> {
  const out = await t.run(`xCommand Simulator Traffic Set ${params}`);
  expect(out).toContain('OK');
  return out;
}

async function alarms(t: { run(line: string): Promise<string> }): Promise<number[]> {
  return [...(await t.run('xStatus Alarm')).matchAll(/Id: (\d+)/g)].map((m) => Number(m[1]));
}

/** A device with an SLR of these entitlements installed. */
async function slrDevice(entitlements: Entitlement[], opts: { home?: string; name?: string } = {}): Promise<TestDevice> {
  const t = await testDevice(opts);
  await t.run('xConfiguration License Smart ReservationEnable: On');
  const request = requestCodeOf(await t.run('xCommand License Smart Reservation Request'));
  const out = await t.run(`xCommand License Smart Reservation Install "${slrCode(t.udi, piidOf(t.udi, request), { entitlements })}"`);
  expect(out).toContain('Authorization code installed.');
  return t;
}

describe('traffic and consumption', () => {
  it('a Rich Media Session per video call and per two audio calls, one per registration; only the types in use are shown', async () => {
    const t = await testDevice();
    expect(await t.run('xStatus License Smart')).not.toContain('Entitlement 1');
    const out = await traffic(t, 'VideoCalls: 3 AudioCalls: 5 DesktopRegistrations: 4');
    expect(out).toBe(
      '*r SimulatorTrafficSetResult (status=OK):\n    VideoCalls: 3\n    AudioCalls: 5\n    RoomRegistrations: 0\n    DesktopRegistrations: 4\n    Refused: 0\n*r/end\n\nOK\n',
    );
    const status = await t.run('xStatus License Smart');
    expect(status).toContain('Entitlement 1:\n        Tag: "regid.2016-07.com.cisco.EXPWY_RMS');
    expect(status).toContain('DisplayName: "Expressway Rich Media Session"\n        Count: 0\n        InUse: 6\n        Status: "Evaluation Mode"');
    expect(status).toContain('DisplayName: "Expressway Desktop Registration"\n        Count: 0\n        InUse: 4');
    expect(status).not.toContain('Room Registration');
    const usage = await t.run('xStatus ResourceUsage');
    expect(usage).toContain('Video:\n        Current: 3\n        Peak: 3\n        Refused: 0');
    expect(usage).toContain('Licenses:\n      RichMediaSession: 6\n      RoomRegistration: 0\n      DesktopRegistration: 4');
    await traffic(t, 'VideoCalls: 1');
    expect(await t.run('xStatus ResourceUsage Calls Video')).toContain('Current: 1\n        Peak: 3');
  });

  it('bad values are parameter errors and change nothing', async () => {
    const t = await testDevice();
    const before = await t.stored();
    for (const line of ['VideoCalls: 10001', 'AudioCalls: -1', 'RoomRegistrations: many']) {
      const out = await t.run(`xCommand Simulator Traffic Set ${line}`);
      expect(out).toContain('ERROR');
      expect(field(out, 'Code')).toMatch(/^xapi\./);
    }
    expect(await t.stored()).toBe(before);
  });

  it('an expired evaluation refuses new calls and registrations until the product is licensed', async () => {
    const t = await testDevice();
    await traffic(t, 'VideoCalls: 1');
    await t.run('xCommand Simulator Clock Advance Days: 90');
    expect(await t.run('xStatus License Smart Authorization Status')).toContain('Evaluation Expired');
    const out = await traffic(t, 'VideoCalls: 5');
    expect(out).toContain('VideoCalls: 1');
    expect(out).toContain('Refused: 4');
    expect(await t.run('xStatus ResourceUsage Calls Video Refused')).toContain('Refused: 4');
  });
});

describe('export control (§10)', () => {
  it('2500: approaching at 2250 (not 2249), reached at 2500, refused beyond, allowed again only below 2475', async () => {
    const t = await testDevice();
    await traffic(t, 'VideoCalls: 2249');
    expect(await alarms(t)).toEqual([]);
    await traffic(t, 'VideoCalls: 2250');
    expect(await alarms(t)).toEqual([30046]);
    expect(await t.run('xStatus ResourceUsage ExportControl')).toContain('Limit: 2500\n      State: "Approaching"\n      AllowedAgainBelow: 2475');
    await traffic(t, 'VideoCalls: 2499');
    expect(await alarms(t)).toEqual([30046]);
    await traffic(t, 'VideoCalls: 2499 RoomRegistrations: 1');
    expect(await alarms(t)).toEqual([30046, 30048]);
    expect(await t.run('xStatus ResourceUsage ExportControl State')).toContain('State: "Reached"');
    const more = await traffic(t, 'DesktopRegistrations: 3');
    expect(more).toContain('DesktopRegistrations: 0\n    Refused: 3');
    // Calls drop to 2475 (99%): still reached, new ones still refused.
    await traffic(t, 'VideoCalls: 2474');
    expect(await t.run('xStatus ResourceUsage Total')).toContain('Total: 2475');
    expect(await traffic(t, 'AudioCalls: 1')).toContain('Refused: 1');
    expect(await alarms(t)).toEqual([30046, 30048]);
    // 2474: below 99%, reached clears and new calls are allowed again.
    await traffic(t, 'VideoCalls: 2473');
    expect(await alarms(t)).toEqual([30046]);
    expect(await traffic(t, 'AudioCalls: 1')).toContain('Refused: 0');
    await traffic(t, 'VideoCalls: 2000 AudioCalls: 0 RoomRegistrations: 0');
    expect(await alarms(t)).toEqual([]);
    expect(await t.run('xStatus ResourceUsage Calls Audio Refused')).toContain('Refused: 1');
  });

  it('with WebRTC on the limit is 2244 at once: approaching from 2020, reached at 2244, allowed again below 2221.56', async () => {
    const t = await testDevice();
    await traffic(t, 'VideoCalls: 2300');
    await t.run('xConfiguration Services WebRTC Mode: On');
    expect(await t.run('xStatus ResourceUsage ExportControl')).toContain('Limit: 2244\n      State: "Reached"\n      AllowedAgainBelow: 2222');
    expect(await alarms(t)).toEqual([30046, 30048]);
    await traffic(t, 'VideoCalls: 2222');
    expect(await alarms(t)).toEqual([30046, 30048]);
    await traffic(t, 'VideoCalls: 2221');
    expect(await alarms(t)).toEqual([30046]);
    await traffic(t, 'VideoCalls: 2019');
    expect(await alarms(t)).toEqual([]);
    await traffic(t, 'VideoCalls: 2020');
    expect(await alarms(t)).toEqual([30046]);
    await t.run('xConfiguration Services WebRTC Mode: Off');
    expect(await alarms(t)).toEqual([]);
    expect(await t.run('xStatus ResourceUsage ExportControl Limit')).toContain('Limit: 2500');
  });

  it('refusals add up without bound: 50,000 refused leave the store readable', async () => {
    const t = await testDevice();
    await traffic(t, 'VideoCalls: 2500');
    for (let i = 0; i < 5; i++) expect(await traffic(t, 'AudioCalls: 10000')).toContain('Refused: 10000');
    expect(await t.run('xStatus ResourceUsage Calls Audio Refused')).toContain('Refused: 50000');
    // What another process reading the store would judge: the document is valid.
    expect(t.model.problem(await t.state())).toBeUndefined();
  });

  it('applies on a Cisco VCS too', async () => {
    const t = await testDevice({ brand: 'VCS' });
    expect(await traffic(t, 'VideoCalls: 2600')).toContain('Refused: 100');
    expect(await alarms(t)).toEqual([30046, 30048]);
  });
});

describe('reservation', () => {
  it('SLR: use beyond the reserved count is Not Authorized', async () => {
    const t = await slrDevice([RMS]);
    await traffic(t, 'VideoCalls: 4');
    expect(await t.run('xStatus License Smart Entitlement 1')).toContain('Count: 4\n        InUse: 4\n        Status: "Authorized"');
    await traffic(t, 'VideoCalls: 6');
    expect(await t.run('xStatus License Smart Entitlement 1')).toContain('Count: 4\n        InUse: 6\n        Status: "Not Authorized"');
    expect(await t.run('xStatus License Smart Evaluation')).toContain('DaysRemaining: 90');
  });

  it('an SLR term licence past its end keeps working until Boot; after Boot it stops, its traffic is refused and an alarm is up', async () => {
    const t = await slrDevice([{ ...RMS_TERM, count: 5 }]);
    await traffic(t, 'VideoCalls: 3');
    await t.run('xCommand Simulator Clock Set Time: "2027-01-05T00:00:00Z"');
    expect(await t.run('xStatus License Smart Entitlement 1 Status')).toContain('Status: "Expired"');
    expect(await traffic(t, 'VideoCalls: 5')).toContain('Refused: 0');
    expect(await alarms(t)).toEqual([]);
    const booted = await t.run('xCommand Boot');
    expect(booted).toContain('Stopped: "Expressway Rich Media Session (Term)"');
    expect(await t.run('xStatus SystemUnit Uptime')).toContain('Uptime: 0');
    expect(await t.run('xStatus ResourceUsage Calls Video Current')).toContain('Current: 0');
    expect(await t.run('xStatus License Smart Entitlement 1 Status')).toContain('Status: "Authorization Expired"');
    expect(await alarms(t)).toEqual([30050]);
    expect(await traffic(t, 'VideoCalls: 2')).toContain('Refused: 2');
  });

  it('Boot with nothing expired: uptime 0, traffic dropped, export alarms cleared', async () => {
    const t = await testDevice();
    await traffic(t, 'VideoCalls: 2400');
    await t.run('xCommand Simulator Clock Advance Hours: 3');
    expect(await alarms(t)).toEqual([30046]);
    await t.run('xCommand Boot');
    expect(await alarms(t)).toEqual([]);
    expect(await t.run('xStatus SystemUnit Uptime')).toContain('Uptime: 0');
  });
});

describe('connected (§10 with §9)', () => {
  it('usage above the pool: Out-of-compliance after the 6-hour report; Usage Update forces it; back under: Authorized', async () => {
    const t = await connectedDevice();
    await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    // The demo virtual account holds 100 perpetual and 60 term Rich Media Sessions; 150 video calls fit...
    await traffic(t, 'VideoCalls: 150');
    expect(await t.run('xStatus License Smart Entitlement 1 Status')).toContain('Status: "Waiting"');
    await t.run('xCommand Simulator Clock Advance Hours: 6');
    const s = await t.status();
    expect(s.authorization).toBe('Out-of-compliance');
    expect(await t.run('xStatus License Smart Entitlement 1')).toContain('Count: 150\n        InUse: 150\n        Status: "Out of compliance"');
    // Out of compliance: the next authorization attempt comes 12 hours after the report.
    expect(field(s.text, 'NextAttempt')).toBe('2026-03-02T04:00:00Z');
    await traffic(t, 'VideoCalls: 50');
    expect(await t.run('xStatus License Smart Entitlement 1 Status')).toContain('Status: "Waiting"');
    const updated = await t.run('xCommand License Smart Usage Update');
    expect(field(updated, 'Authorization')).toBe('Authorized');
    expect(await t.run('xStatus License Smart Entitlement 1 Status')).toContain('Status: "Authorized"');
    const { licenses } = await import('../../src/cssm/service.js');
    const rms = licenses(t.cssm).find((l) => l.license === 'Expressway Rich Media Session');
    expect(rms?.inUse).toBe(50);
  });

  it('Usage Update needs a registration', async () => {
    const t = await connectedDevice();
    expect(field(await t.run('xCommand License Smart Usage Update'), 'Code')).toBe('registration.notRegistered');
  });
});
