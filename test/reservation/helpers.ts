import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  buildPlrCode,
  buildSlrCode,
  derivePiid,
  loadDemoAuthority,
  makeNonce,
  PLR_VERSION,
  SLR_FLAG,
  SLR_VERSION,
  type Entitlement,
  type Udi,
} from '../../src/codes/index.js';
import { readReservation, type ReservationSection } from '../../src/device/reservation-state.js';
import { seededRng } from '../../src/random.js';
import {
  cleanHomes as cleanDeviceHomes,
  type TestDevice as DeviceTestDevice,
  type TestDeviceOptions as DeviceTestDeviceOptions,
  testDevice as deviceTestDevice,
  tempHome as deviceTempHome,
} from '../device/helpers.js';

/** In-process fixtures: a device on a temporary home with a pinned clock and seed, and code signers. */

export const NOW = new Date('2026-03-01T10:00:00.000Z');
export const T_ISSUED = Date.parse('2026-03-01T09:00:00.000Z');

export function tempHome(): string {
  return deviceTempHome('exsh-resv-');
}

/** Closes the device stores (DocumentStore.closeAll) and the CSSM databases (closeDatabases), then removes the homes. */
export function cleanHomes(): void {
  cleanDeviceHomes();
}

export interface TestDevice extends DeviceTestDevice {
  udi: Udi;
  /** The committed reservation section (its defaults when the device has none). */
  reservation(): Promise<Readonly<ReservationSection>>;
}

export type TestDeviceOptions = Omit<DeviceTestDeviceOptions, 'now'>;

/** A device of test/device/helpers.ts at NOW, plus its UDI and reservation section. */
export async function testDevice(opts: TestDeviceOptions = {}): Promise<TestDevice> {
  const d = await deviceTestDevice({ ...opts, now: NOW });
  const { pid, serial, vid, hostId } = (await d.state()).identity;
  return { ...d, udi: { pid, serial, vid, hostId }, reservation: async () => readReservation(await d.state()) };
}

export const OK = '\nOK\n';

/** The terminal reply of a refused command (§3.1), with its stable code. */
export function errorReply(command: string, reason: string, code: string): string {
  return `*r ${command}Result (status=Error):\n    Reason: ${JSON.stringify(reason)}\n    Code: "${code}"\n*r/end\n\nERROR\n`;
}

/** The request code a device printed: a blank line, the seed's sentence, then the code (the seed's layout). */
export function requestCodeOf(reply: string): string {
  const m = /^\nEnter the following reservation request code into the CSSM:\n(CB-\S+)\n\nOK\n$/.exec(reply);
  if (!m) throw new Error(`not a Request reply: ${reply}`);
  return m[1]!;
}

export function returnCodeOf(reply: string): string {
  const m = /^\nEnter the following return code into the CSSM:\n(C\S+)\n\nOK\n$/.exec(reply);
  if (!m) throw new Error(`not a return reply: ${reply}`);
  return m[1]!;
}

// ---------------------------------------------------------------------------------------
// signing codes as CSSM would (the demo authority unless a key is given)

export const demoKey = (): KeyObject => loadDemoAuthority().privateKey;

export function otherAuthority(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export const RMS: Entitlement = {
  tag: 'regid.2016-07.com.cisco.EXPWY_RMS,14.0_9cd40609-ea62-454f-a74d-2fc0a1d41cc0',
  count: 4,
  startDate: '',
  endDate: '',
  licenseType: 'PERPETUAL',
  displayName: 'Expressway Rich Media Session',
  tagDescription: 'Expressway Rich Media Session',
  subscriptionId: '',
};

export const AAS: Entitlement = {
  tag: 'regid.2016-07.com.cisco.EXPWY_AAS,14.0_cd0b1c2a-31ca-4705-897b-50937dfe9211',
  count: 0,
  startDate: '',
  endDate: '',
  licenseType: 'PERPETUAL',
  displayName: 'Expressway Advanced Account Security',
  tagDescription: 'Expressway Advanced Account Security',
  subscriptionId: '',
};

export const RMS_TERM: Entitlement = {
  tag: 'regid.2019-11.com.cisco.EXPWY_RMS_TERM,14.0_265196c5-474f-44d5-9d6e-205ed4c214b0',
  count: 2,
  startDate: '2025-Jan-01 UTC',
  endDate: '2026-Dec-31 UTC',
  licenseType: 'TERM',
  displayName: 'Expressway Rich Media Session (Term)',
  tagDescription: 'Expressway Rich Media Session (Term)',
  subscriptionId: 'Sub123',
};

export function slrCode(udi: Udi, piid: string, opts: { timestamp?: number; entitlements?: Entitlement[]; key?: KeyObject } = {}): string {
  return buildSlrCode(
    { flag: SLR_FLAG, version: SLR_VERSION, piid, timestamp: opts.timestamp ?? T_ISSUED, entitlements: opts.entitlements ?? [RMS] },
    udi,
    opts.key ?? demoKey(),
  );
}

export function plrCode(udi: Udi, piid: string, opts: { timestamp?: number; exportControl?: boolean; key?: KeyObject } = {}): string {
  return buildPlrCode(
    { version: PLR_VERSION, exportControl: opts.exportControl ?? false, timestamp: opts.timestamp ?? T_ISSUED, piid },
    udi,
    opts.key ?? demoKey(),
  );
}

/** The piid CSSM derives from a request code. */
export function piidOf(udi: Udi, requestCode: string): string {
  const nonce = /-A([1-9A-HJ-NP-Za-km-z]{8})-[0-9A-F]{2}$/.exec(requestCode)![1]!;
  return derivePiid(udi, nonce);
}

/** A piid for a request this device never made (another nonce). */
export function strangerPiid(udi: Udi, label = 'x'): string {
  return derivePiid(udi, makeNonce(seededRng(label, 'stranger')));
}

export const ANOTHER_DEVICE: Udi = { pid: 'Expressway', serial: '0B070519', vid: '1.0', hostId: '320ac19c' };
