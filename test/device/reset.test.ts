import { afterEach, describe, expect, it } from 'vitest';
import { readReservation } from '../../src/device/reservation-state.js';
import { applyFactoryReset, missingAnswers, outcomeLines, planReset, RESET_NAMES, type ResetAnswers, type ResetRequest } from '../../src/device/reset.js';
import { deviceModel } from '../../src/device/subsystems.js';
import { exitStatusOf, isExshError } from '../../src/errors.js';
import { piidOf, plrCode, requestCodeOf } from '../reservation/helpers.js';
import { cleanHomes, testDevice, type TestDevice } from './helpers.js';

afterEach(cleanHomes);

const ALL_QUESTIONS = [
  'Keep brand and type of the device',
  'Keep smart licensing settings',
  'Keep FIPS 140 configuration',
  'Keep IP configuration',
  'Keep dedicated management interface configuration',
  'Keep ssh keys',
  'Keep server certificate, associated key and CA trust store',
  'Keep root and admin passwords',
  'Save log files',
];

function usageCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isExshError(e) && exitStatusOf(e) === 2) return e.code;
    throw e;
  }
  throw new Error('expected a usage error');
}

describe('planReset: flags and lists → the questions asked (§8.1)', () => {
  const asked = (brand: 'Expressway' | 'VCS', req: ResetRequest) => missingAnswers(planReset(brand, req));
  it.each<[string, 'Expressway' | 'VCS', ResetRequest, string[]]>([
    ['no flags: the nine questions, then the final one', 'Expressway', {}, [...ALL_QUESTIONS, 'Are you sure you want to continue']],
    // A Cisco VCS's reset is unchanged from earlier releases: neither -v's nor -t's question.
    ['a VCS has no brand/type nor smart licensing question', 'VCS', {}, [...ALL_QUESTIONS.slice(2), 'Are you sure you want to continue']],
    [
      '-o on a VCS keeps its option keys and asks the same questions',
      'VCS',
      { optionKeys: true },
      [...ALL_QUESTIONS.slice(2), 'Are you sure you want to continue'],
    ],
    ['-v asks only brand and type', 'Expressway', { brandType: true }, ['Keep brand and type of the device', 'Are you sure you want to continue']],
    ['-t asks only smart licensing', 'Expressway', { smartLicensing: true }, ['Keep smart licensing settings', 'Are you sure you want to continue']],
    [
      '-v -t asks both, in order',
      'Expressway',
      { smartLicensing: true, brandType: true },
      ALL_QUESTIONS.slice(0, 2).concat('Are you sure you want to continue'),
    ],
    ['-t --keep smart-licensing --yes asks nothing', 'Expressway', { smartLicensing: true, keep: ['smart-licensing'], yes: true }, []],
    ['--keep all --yes asks nothing', 'Expressway', { keep: ['all'], yes: true }, []],
    [
      '--keep ip,logs --discard fips asks the other six',
      'Expressway',
      { keep: ['ip,logs'], discard: ['fips'] },
      ALL_QUESTIONS.filter((q) => !/IP|log|FIPS/.test(q)).concat('Are you sure you want to continue'),
    ],
    ['--yes alone still asks the nine', 'Expressway', { yes: true }, ALL_QUESTIONS],
  ])('%s', (_what, brand, req, expected) => {
    expect(asked(brand, req)).toEqual(expected);
  });

  it('a name beats all on the other side: --keep all --discard ip', () => {
    const plan = planReset('Expressway', { keep: ['all'], discard: ['ip'], yes: true });
    expect(Object.fromEntries(plan.steps.map((s) => [s.item.name, s.answer]))).toEqual({
      'brand-type': true,
      'smart-licensing': true,
      fips: true,
      ip: false,
      management: true,
      'ssh-keys': true,
      certificates: true,
      passwords: true,
      logs: true,
    });
  });

  it('with -v, a name given by --keep or --discard joins the scope; every question not asked about is kept', () => {
    const plan = planReset('Expressway', { brandType: true, keep: ['ip'], discard: ['logs'] });
    // [name, answer, implied]: implied answers are neither asked nor printed.
    expect(plan.steps.map((s) => [s.item.name, s.answer, s.implied === true])).toEqual([
      ['brand-type', undefined, false],
      ['smart-licensing', true, true],
      ['fips', true, true],
      ['ip', true, false],
      ['management', true, true],
      ['ssh-keys', true, true],
      ['certificates', true, true],
      ['passwords', true, true],
      ['logs', false, false],
    ]);
  });

  it('with -t, all answers only the questions in scope: --discard all discards smart licensing and keeps the rest', () => {
    const plan = planReset('Expressway', { smartLicensing: true, discard: ['all'], yes: true });
    expect(plan.steps.filter((s) => !s.implied).map((s) => [s.item.name, s.answer])).toEqual([['smart-licensing', false]]);
    expect(plan.steps.filter((s) => s.implied).map((s) => s.answer)).toEqual(Array(8).fill(true));
  });

  it('without -v/-t nothing is implied: every question is asked or answered by a list', () => {
    const plan = planReset('Expressway', { keep: ['ip'] });
    expect(plan.steps.some((s) => s.implied)).toBe(false);
    expect(plan.steps).toHaveLength(9);
  });

  it('-o keeps option keys on a Cisco VCS only', () => {
    expect(planReset('VCS', { optionKeys: true, keep: ['all'], yes: true }).keepOptionKeys).toBe(true);
    expect(planReset('VCS', { keep: ['all'], yes: true }).keepOptionKeys).toBe(false);
  });

  it.each<[string, 'Expressway' | 'VCS', ResetRequest, string]>([
    ['-o was removed', 'Expressway', { optionKeys: true }, 'reset.optionKeysFlagRemoved'],
    ['-t on a VCS', 'VCS', { smartLicensing: true }, 'reset.noSmartLicensingOnVcs'],
    ['-v on a VCS', 'VCS', { brandType: true }, 'reset.noBrandTypeOnVcs'],
    ['an unknown name', 'Expressway', { keep: ['ipp'] }, 'reset.unknownName'],
    ['an empty name', 'Expressway', { keep: ['ip,,fips'] }, 'reset.badList'],
    ['a name on both sides', 'Expressway', { keep: ['ip'], discard: ['fips,ip'] }, 'reset.conflictingAnswers'],
    ['all on both sides', 'Expressway', { keep: ['all'], discard: ['all'] }, 'reset.conflictingAnswers'],
  ])('refuses %s (exit 2)', (_what, brand, req, code) => {
    expect(usageCode(() => planReset(brand, req))).toBe(code);
  });

  it('suggests the name meant', () => {
    expect(() => planReset('Expressway', { keep: ['ssh'] })).toThrow("Did you mean 'ssh-keys'?");
  });
});

describe('what each subsystem declares a reset keeps', () => {
  // Each subsystem declares it in the device model.
  const model = deviceModel();
  it.each([
    ['License Smart Transport Mode', 'smart-licensing'],
    ['License Smart ReservationEnable', 'smart-licensing'],
    ['IP DNS Domain Name', 'ip'],
    ['IPX Something', 'never'],
    ['SystemUnit Name', 'never'],
    ['Services WebRTC Mode', 'never'],
  ])('config %s → %s', (key, r) => expect(model.configRetention(key)).toBe(r));
  it.each([
    ['reservation', 'smart-licensing'],
    ['optionKeys', 'never'],
    ['trustStore', 'certificates'],
    ['somethingNew', 'never'],
  ])('section %s → %s', (key, r) => expect(model.sectionRetention(key)).toBe(r));
});

const ALL_NO: ResetAnswers = {};
const allYes = (): ResetAnswers => Object.fromEntries(RESET_NAMES.map((n) => [n, true]));

async function reserved(d: TestDevice): Promise<void> {
  expect(await d.run('xconfiguration License Smart ReservationEnable: On')).toBe('\nOK\n');
  const code = requestCodeOf(await d.run('xcommand License Smart Reservation Request'));
  const { pid, serial, vid, hostId } = (await d.state()).identity;
  const udi = { pid, serial, vid, hostId };
  expect(await d.run(`xcommand License Smart Reservation Install "${plrCode(udi, piidOf(udi, code))}"`)).toContain('Authorization code installed.');
  expect(readReservation(await d.state()).installed).not.toBeNull();
}

async function configured(d: TestDevice): Promise<void> {
  for (const line of [
    'xconfiguration License Smart Transport Mode: Proxy',
    'xconfiguration License Smart Transport Proxy Address: proxy.example.com',
    'xconfiguration IP DNS Domain Name: example.com',
    'xconfiguration IP DNS Hostname: expe1',
    'xconfiguration SystemUnit Name: "Lab Expressway"',
  ]) {
    expect(await d.run(line)).toBe('\nOK\n');
  }
}

describe('applyFactoryReset: what each answer keeps (§8.1)', () => {
  it('all NO on an Expressway: brand Cisco VCS (type Expressway-C), everything default, identity kept', async () => {
    const d = await testDevice({ type: 'ExpresswayE' });
    await configured(d);
    await reserved(d);
    const before = await d.state();
    const outcome = await d.mutate((ctx) => applyFactoryReset(ctx, d.model, ALL_NO));
    const s = await d.state();
    expect(s.identity).toEqual(before.identity);
    expect(s.createdAt).toBe(before.createdAt);
    expect([s.brand, s.type]).toEqual(['VCS', 'ExpresswayC']);
    expect(s.config).toEqual({});
    expect(readReservation(s)).toEqual({ request: null, installed: null, lastConfirmationCode: '', lastReturnCode: '' });
    expect(s.alarms).toEqual([]);
    expect(outcome).toEqual({
      kept: [],
      optionKeysKept: false,
      product: 'Cisco TelePresence VCS',
      brandChanged: true,
      offline: false,
      smartLicensingLost: false,
    });
    expect(outcomeLines(outcome)).toEqual([
      'Factory reset done: everything was returned to factory default settings.',
      'The system restarted as Cisco TelePresence VCS.',
    ]);
  });

  it('smart licensing NO while still an Expressway: transport back to Direct, reservation gone', async () => {
    const d = await testDevice();
    await configured(d);
    await reserved(d);
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true, ip: true }));
    const s = await d.state();
    expect([s.brand, s.type]).toEqual(['Expressway', 'ExpresswayC']);
    expect(s.config).toEqual({ 'IP DNS Domain Name': 'example.com', 'IP DNS Hostname': 'expe1' });
    expect(await d.run('xconfiguration License Smart Transport Mode')).toBe('*c xConfiguration License Smart Transport Mode: Direct\n\nOK\n');
    expect(readReservation(s).installed).toBeNull();
    expect(s.alarms).toEqual([]);
  });

  it('smart licensing YES: configuration and reservation survive; offline with 30042 and 30044 until the DNS domain is set', async () => {
    const d = await testDevice();
    await configured(d);
    await reserved(d);
    const licensing = (await d.state()).licensing;
    const outcome = await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true, 'smart-licensing': true }));
    expect(outcome.offline).toBe(true);
    const s = await d.state();
    expect(s.licensing).toEqual(licensing);
    expect(s.config).toEqual({
      'License Smart Transport Mode': 'Proxy',
      'License Smart Transport Proxy Address': 'proxy.example.com',
      'License Smart ReservationEnable': 'On',
    });
    expect(readReservation(s).installed).not.toBeNull();
    expect(await d.run('xstatus Alarm')).toBe(
      [
        '*s Alarm 1: /',
        '    Id: 30042',
        '    Title: "Smart Licensing registration is not working"',
        '    Severity: "Warning"',
        '    Status: "Active"',
        '    RaisedAt: "2026-03-01T10:00:00Z"',
        '*s/end',
        '*s Alarm 2: /',
        '    Id: 30044',
        '    Title: "Smart Licensing authorization is not working"',
        '    Severity: "Warning"',
        '    Status: "Active"',
        '    RaisedAt: "2026-03-01T10:00:00Z"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
    expect(outcomeLines(outcome)[2]).toBe(
      'Smart Licensing is offline until the DNS domain is configured (alarms 30042 and 30044: Smart Licensing registration is not working; Smart Licensing authorization is not working).',
    );
    // Other configuration does not bring it online; the domain does.
    await d.run('xconfiguration IP DNS Hostname: expe1');
    expect((await d.state()).alarms.map((a) => a.id)).toEqual([30042, 30044]);
    expect(await d.run('xconfiguration IP DNS Domain Name: example.com')).toBe('\nOK\n');
    expect(await d.run('xstatus FactoryReset SmartLicensingOffline')).toBe('*s FactoryReset: /\n    SmartLicensingOffline: "False"\n*s/end\n\nOK\n');
    expect(await d.run('xstatus Alarm')).toBe('\nOK\n');
    expect(await d.device.view((ctx) => [ctx.state.alarms, ctx.state.smartLicensingOffline])).toEqual([[], undefined]);
    // Catch-ups run before and after every change, so the store has the clearing already; a later write keeps it.
    await d.run('xconfiguration SystemUnit Name: "Lab"');
    const after = await d.state();
    expect(after.alarms).toEqual([]);
    expect(after.smartLicensingOffline).toBeUndefined();
    expect(readReservation(after).installed).not.toBeNull();
  });

  it('smart licensing and IP both kept: the domain is still configured, so it is online at once', async () => {
    const d = await testDevice();
    await configured(d);
    const outcome = await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true, 'smart-licensing': true, ip: true }));
    expect(outcome.offline).toBe(false);
    expect((await d.state()).alarms).toEqual([]);
  });

  it('smart licensing YES but brand not kept: the VCS keeps nothing of it', async () => {
    const d = await testDevice();
    await configured(d);
    await reserved(d);
    const outcome = await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'smart-licensing': true }));
    const s = await d.state();
    expect(s.brand).toBe('VCS');
    expect(s.config).toEqual({});
    expect(readReservation(s).installed).toBeNull();
    expect(s.alarms).toEqual([]);
    expect(outcome.smartLicensingLost).toBe(true);
    expect(outcomeLines(outcome)).toContain('Smart licensing settings were not kept: brand and type were not kept, so the system is no longer an Expressway.');
  });

  it('a Cisco VCS reset is unchanged: no brand/type nor smart licensing answer, option keys gone without -o', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.run('xcommand OptionKey Add Key: 116341T00-1-AB12CD34');
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, allYes()));
    const s = await d.state();
    expect(s.brand).toBe('VCS');
    expect(s.optionKeys).toEqual({ keys: [] });
    expect(s.lastReset).toMatchObject({ answers: { 'smart-licensing': null, 'brand-type': null } });
    expect(await d.run('xstatus FactoryReset SmartLicensing')).toBe('*s FactoryReset: /\n    SmartLicensing: "Not applicable"\n*s/end\n\nOK\n');
    expect(await d.run('xstatus FactoryReset BrandAndType')).toBe('*s FactoryReset: /\n    BrandAndType: "Not applicable"\n*s/end\n\nOK\n');
  });

  it('a Cisco VCS stays a Cisco VCS whatever the answers', async () => {
    const d = await testDevice({ brand: 'VCS' });
    const outcome = await d.mutate((ctx) => applyFactoryReset(ctx, d.model, ALL_NO));
    expect(outcome).toMatchObject({ product: 'Cisco TelePresence VCS', brandChanged: false, smartLicensingLost: false });
  });

  it('-o on a Cisco VCS keeps its option keys', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.run('xcommand OptionKey Add Key: 116341T00-1-AB12CD34');
    const keys = (await d.state()).optionKeys;
    const outcome = await d.mutate((ctx) => applyFactoryReset(ctx, d.model, ALL_NO, { keepOptionKeys: true }));
    expect((await d.state()).optionKeys).toEqual(keys);
    expect(outcomeLines(outcome)[0]).toBe('Factory reset done: kept option keys; everything else was returned to factory default settings.');
  });

  it('every answer is observable in xStatus FactoryReset, and resets are counted', async () => {
    const d = await testDevice();
    expect(await d.run('xstatus FactoryReset')).toBe('*s FactoryReset: /\n    Count: 0\n*s/end\n\nOK\n');
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true, fips: true, 'ssh-keys': true, passwords: false, logs: true }));
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true, management: true, certificates: true }));
    expect(await d.run('xstatus FactoryReset')).toBe(
      [
        '*s FactoryReset: /',
        '    Count: 2',
        '    Time: "2026-03-01T10:00:00Z"',
        '    BrandAndType: "Kept"',
        '    SmartLicensing: "Reset"',
        '    Fips: "Reset"',
        '    IP: "Reset"',
        '    ManagementInterface: "Kept"',
        '    SshKeys: "Reset"',
        '    Certificates: "Kept"',
        '    Passwords: "Reset"',
        '    LogFiles: "Deleted"',
        '    SmartLicensingOffline: "False"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
  });

  it('the uptime restarts and the simulated clock offset survives', async () => {
    const d = await testDevice();
    await d.run('xcommand Simulator Clock Advance Days: 3');
    const offset = (await d.state()).clock.offsetMs;
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true }));
    expect((await d.state()).clock.offsetMs).toBe(offset);
    expect(await d.run('xstatus SystemUnit Uptime')).toBe('*s SystemUnit: /\n    Uptime: 0\n*s/end\n\nOK\n');
  });
});
