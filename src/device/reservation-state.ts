import { parseSlrDate } from '../codes/dates.js';
import type { Entitlement } from '../codes/types.js';
import type { DeviceContext } from './context.js';
import type { SectionSpec } from './model.js';
import { isObject, type DeviceState } from './state.js';

/**
 * The reservation section of a device's state (§6.1). At most one of `request` and
 * `installed` is set: Install consumes the request, and Request is refused while a
 * reservation is installed. A device created before this section existed simply has
 * none, which reads as the defaults (Not Reserved, nothing remembered).
 */

export type ReservationType = 'PLR' | 'SLR';

export type ReservationStatus =
  | 'Not Reserved'
  | 'Reservation In Progress'
  | 'Reserved - Permanent License Reservation'
  | 'Reserved - Specific License Reservation';

export interface PendingRequest {
  nonce: string;
  /** `CB-P…-A<nonce>-<check>`: repeated Requests print this same code. */
  code: string;
  /** The product-instance id CSSM will derive from `code`; Install binds to it (§6.3 step 4). */
  piid: string;
  requestedAt: string;
}

export interface InstalledReservation {
  type: ReservationType;
  /** The code in canonical form, as installed. */
  code: string;
  piid: string;
  /** Epoch ms carried by the code; an SLR update must be newer (§6.3 step 5). */
  timestamp: number;
  /** Base64 of the code's signature bytes; return and confirmation codes digest them. */
  signature: string;
  /** PLR: the variant's flag. SLR: not used (export control follows the entitlements). */
  exportControl: boolean;
  /** SLR: exactly the entitlements in the code. PLR: none. */
  entitlements: Entitlement[];
  installedAt: string;
}

export interface ReservationSection {
  request: PendingRequest | null;
  installed: InstalledReservation | null;
  /** Kept for re-reading after the fact, as devices keep "Last Confirmation code". */
  lastConfirmationCode: string;
  lastReturnCode: string;
}

const SECTION = 'reservation';

export function emptyReservation(): ReservationSection {
  return { request: null, installed: null, lastConfirmationCode: '', lastReturnCode: '' };
}

const EMPTY: Readonly<ReservationSection> = Object.freeze(emptyReservation());

/** The section for reading; never changes the state (reads must not make a write). */
export function readReservation(state: DeviceState): Readonly<ReservationSection> {
  return (state[SECTION] as ReservationSection | undefined) ?? EMPTY;
}

/** The section for changing: this request's copy, created with defaults when missing. */
export function editReservation(ctx: DeviceContext): ReservationSection {
  return ctx.edit(SECTION, emptyReservation);
}

export const RESERVATION_ENABLE_KEY = 'License Smart ReservationEnable';

export function reservationEnabled(state: DeviceState): boolean {
  return state.config[RESERVATION_ENABLE_KEY] === 'On';
}

export function reservationStatus(section: Readonly<ReservationSection>): ReservationStatus {
  if (section.installed) {
    return section.installed.type === 'PLR' ? 'Reserved - Permanent License Reservation' : 'Reserved - Specific License Reservation';
  }
  return section.request ? 'Reservation In Progress' : 'Not Reserved';
}

// ---------------------------------------------------------------------------------------
// validation of a stored section (a failed check makes the store "corrupt", §5.2)

function entitlementProblem(e: unknown, i: number): string | undefined {
  if (!isObject(e)) return `reservation entitlement ${i} is not an object`;
  for (const k of ['tag', 'startDate', 'endDate', 'displayName', 'tagDescription', 'subscriptionId']) {
    if (typeof e[k] !== 'string') return `reservation entitlement ${i} has no ${k}`;
  }
  if (typeof e.count !== 'number' || !Number.isSafeInteger(e.count) || e.count < 0) return `reservation entitlement ${i} has a bad count`;
  if (e.licenseType !== 'PERPETUAL' && e.licenseType !== 'TERM') return `reservation entitlement ${i} has a bad licenseType`;
  return undefined;
}

// The value spaces of the codes the section remembers (docs/codes.md).
const B58 = '[1-9A-HJ-NP-Za-km-z]';
const CONFIRMATION_CODE = /^[0-9a-f]{8}$/;
const RETURN_CODE = new RegExp(`^C${B58}{5}(?:-${B58}{6}){7}-${B58}{3}$`);
const NONCE = new RegExp(`^${B58}{8}$`);
const PIID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function isTime(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

export function validateReservation(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) return 'reservation is not an object';
  if (typeof raw.lastConfirmationCode !== 'string' || typeof raw.lastReturnCode !== 'string') {
    return 'reservation last codes are invalid';
  }
  if (raw.lastConfirmationCode !== '' && !CONFIRMATION_CODE.test(raw.lastConfirmationCode))
    return 'reservation.lastConfirmationCode is not a confirmation code';
  if (raw.lastReturnCode !== '' && !RETURN_CODE.test(raw.lastReturnCode)) return 'reservation.lastReturnCode is not a return code';
  const req = raw.request;
  if (req !== null) {
    if (!isObject(req)) return 'reservation.request is invalid';
    for (const k of ['nonce', 'code', 'piid', 'requestedAt']) if (typeof req[k] !== 'string') return `reservation.request.${k} is invalid`;
    if (!NONCE.test(req.nonce as string) || !PIID.test(req.piid as string) || !isTime(req.requestedAt)) return 'reservation.request is invalid';
  }
  const inst = raw.installed;
  if (inst !== null) {
    if (!isObject(inst)) return 'reservation.installed is invalid';
    if (inst.type !== 'PLR' && inst.type !== 'SLR') return 'reservation.installed.type is invalid';
    for (const k of ['code', 'piid', 'signature', 'installedAt']) if (typeof inst[k] !== 'string') return `reservation.installed.${k} is invalid`;
    if (!PIID.test(inst.piid as string) || !isTime(inst.installedAt)) return 'reservation.installed is invalid';
    if (typeof inst.timestamp !== 'number' || !Number.isSafeInteger(inst.timestamp)) return 'reservation.installed.timestamp is invalid';
    if (typeof inst.exportControl !== 'boolean') return 'reservation.installed.exportControl is invalid';
    if (!Array.isArray(inst.entitlements)) return 'reservation.installed.entitlements is not a list';
    for (let i = 0; i < inst.entitlements.length; i++) {
      const p = entitlementProblem(inst.entitlements[i], i);
      if (p) return p;
    }
  }
  if (req !== null && inst !== null) return 'reservation has both a request in progress and an installed code';
  return undefined;
}

export const reservationSection: SectionSpec = {
  key: SECTION,
  init: emptyReservation,
  validate: validateReservation,
  // A reservation is part of the smart licensing settings a factory reset may keep (§8.1);
  // a different system must reserve again (§8.4).
  reset: 'smart-licensing',
  restoreOntoOther: 'fresh',
};

const DAY_MS = 86_400_000;

export type EntitlementStatus = 'Authorized' | 'Not Authorized' | 'Expired';

/**
 * A term entitlement is valid from the start of its start day to the end of its end day
 * (UTC). Past its end it shows Expired; enforcement waits for a restart (§9, seed).
 */
export function entitlementStatus(e: Entitlement, now: Date): EntitlementStatus {
  if (e.licenseType !== 'TERM') return 'Authorized';
  const start = parseSlrDate(e.startDate);
  const end = parseSlrDate(e.endDate);
  const t = now.getTime();
  if (end && t >= end.getTime() + DAY_MS) return 'Expired';
  if (start && t < start.getTime()) return 'Not Authorized';
  return 'Authorized';
}
