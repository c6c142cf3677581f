import {
  confirmationCode,
  derivePiid,
  formatUdi,
  makeNonce,
  makeRequestCode,
  makeReturnCode,
  parseAuthorizationCode,
  parseUdi,
  udiEquals,
  verifySignature,
  type AuthorizationCode,
  type Udi,
} from '../codes/index.js';
import { isDeepStrictEqual } from 'node:util';
import { ExshError, isExshError } from '../errors.js';
import type { DeviceContext } from './context.js';
import { editReservation, readReservation, reservationEnabled, type InstalledReservation, type ReservationType } from './reservation-state.js';
import { isoSeconds } from '../clock.js';
import type { DeviceState } from './state.js';
import { trustedKeys } from './trust.js';
import { trustStore } from './trust-state.js';

/**
 * The reservation state machine (§6.1) and the verification of an authorization code
 * (§6.3), as pure functions of a device context. Every refusal is an ExshError with a
 * stable `reservation.*` code, thrown before anything is changed; the session writes the
 * working copy only when a handler returns.
 */

const CMD = 'xCommand License Smart Reservation';
const TYPE_NAMES: Record<ReservationType, string> = {
  PLR: 'Permanent License Reservation',
  SLR: 'Specific License Reservation',
};

export function deviceUdi(state: DeviceState): Udi {
  const { pid, serial, vid, hostId } = state.identity;
  return { pid, serial, vid, hostId };
}

function requireEnabled(ctx: DeviceContext): void {
  if (!reservationEnabled(ctx.state)) {
    throw new ExshError(
      'reservation.notEnabled',
      'License reservation is not enabled; enable it first with xConfiguration License Smart ReservationEnable: On.',
    );
  }
}

// ---------------------------------------------------------------------------------------
// Request, Cancel

export interface RequestOutcome {
  requestCode: string;
  /** False when the request in progress was repeated (the same code, §6.1). */
  created: boolean;
}

export function requestReservation(ctx: DeviceContext): RequestOutcome {
  requireEnabled(ctx);
  const current = readReservation(ctx.state);
  if (current.installed) {
    throw new ExshError('reservation.alreadyReserved', `A ${TYPE_NAMES[current.installed.type]} is already installed; return it first with ${CMD} Return.`);
  }
  if (current.request) return { requestCode: current.request.code, created: false };
  const udi = deviceUdi(ctx.state);
  const nonce = makeNonce(ctx.rng);
  const code = makeRequestCode(udi, nonce);
  editReservation(ctx).request = {
    nonce,
    code,
    piid: derivePiid(udi, nonce),
    requestedAt: isoSeconds(ctx.now()),
  };
  return { requestCode: code, created: true };
}

export function cancelReservation(ctx: DeviceContext): void {
  requireEnabled(ctx);
  const current = readReservation(ctx.state);
  if (current.installed) {
    throw new ExshError(
      'reservation.alreadyReserved',
      `No request is in progress: a ${TYPE_NAMES[current.installed.type]} is installed. Use ${CMD} Return to release it.`,
    );
  }
  if (!current.request) {
    throw new ExshError('reservation.noRequest', 'There is no reservation request in progress to cancel.');
  }
  editReservation(ctx).request = null;
}

// ---------------------------------------------------------------------------------------
// Verification (§6.3 steps 1–3; steps 4–5 depend on the command)

/**
 * Parses the code and checks its signature and UDI. `expectedPiids` are the product
 * instances this device could be waiting for: a PLR code does not carry its UDI, so one
 * issued for another device fails the signature check; when its piid is none of the
 * expected ones, that is reported as "not for this product instance" (docs/codes.md).
 */
export function verifyForDevice(ctx: DeviceContext, text: string, expectedPiids: readonly string[]): AuthorizationCode {
  let code: AuthorizationCode;
  try {
    code = parseAuthorizationCode(text);
  } catch (e) {
    if (isExshError(e)) throw new ExshError('reservation.parse', e.message);
    throw e;
  }
  const udi = deviceUdi(ctx.state);
  if (!verifySignature(code, udi, trustedKeys(ctx.state))) {
    if (code.type === 'PLR' && expectedPiids.length > 0 && !expectedPiids.includes(code.payload.piid)) {
      throw new ExshError(
        'reservation.udiMismatch',
        `The authorization code does not match this product instance (UDI ${formatUdi(udi)}): it was issued for another product instance.`,
      );
    }
    throw badSignature(ctx, code.type);
  }
  if (code.type === 'SLR') {
    let codeUdi: Udi;
    try {
      codeUdi = parseUdi(code.udi);
    } catch (e) {
      if (isExshError(e)) throw new ExshError('reservation.parse', `The authorization code's <udi> is malformed: ${e.message}`);
      throw e;
    }
    if (!udiEquals(codeUdi, udi)) {
      throw new ExshError(
        'reservation.udiMismatch',
        `The authorization code does not match this product instance (UDI ${formatUdi(udi)}): it was issued for UDI ${code.udi}.`,
      );
    }
  }
  return code;
}

function badSignature(ctx: DeviceContext, type: ReservationType): ExshError {
  if (trustStore(ctx.state).length === 0) {
    return new ExshError(
      'reservation.badSignature',
      'The authorization code cannot be verified: this system trusts no authority (the trust store is empty; see exsh trust add).',
    );
  }
  return new ExshError(
    'reservation.badSignature',
    type === 'SLR'
      ? 'The authorization code signature is not valid: the code was altered, or it was signed by an authority this system does not trust (see exsh trust list).'
      : 'The authorization code signature is not valid for this product instance: the code was altered, or it was signed by an authority this system does not trust (see exsh trust list).',
  );
}

function installedRecord(code: AuthorizationCode, at: Date): InstalledReservation {
  return {
    type: code.type,
    code: code.canonical,
    piid: code.payload.piid,
    timestamp: code.payload.timestamp,
    signature: code.signature.toString('base64'),
    exportControl: code.type === 'PLR' ? code.payload.exportControl : false,
    entitlements: code.type === 'SLR' ? code.payload.entitlements.map((e) => ({ ...e })) : [],
    installedAt: isoSeconds(at),
  };
}

// ---------------------------------------------------------------------------------------
// Install

export interface InstallOutcome {
  type: ReservationType;
  /** SLR only: printed on every install, first or update. */
  confirmationCode?: string;
  update: boolean;
}

export function installReservation(ctx: DeviceContext, text: string): InstallOutcome {
  requireEnabled(ctx);
  const current = readReservation(ctx.state);
  const { installed, request } = current;
  if (!installed && !request) {
    throw new ExshError(
      'reservation.noRequest',
      'Cannot install the authorization code: no reservation request in progress; use ReturnAuthorization to release a code that will not be installed.',
    );
  }
  const expected = installed ? installed.piid : (request as NonNullable<typeof request>).piid;
  const code = verifyForDevice(ctx, text, [expected]);

  if (installed) {
    if (code.type !== installed.type) {
      throw new ExshError(
        'reservation.typeMismatch',
        `${code.type === 'SLR' ? 'An' : 'A'} ${code.type} authorization code cannot update the ${TYPE_NAMES[installed.type]} installed on this system; return it first with ${CMD} Return.`,
      );
    }
    if (installed.type === 'PLR') {
      throw new ExshError(
        'reservation.alreadyReserved',
        `A Permanent License Reservation is already installed and cannot be updated; return it first with ${CMD} Return.`,
      );
    }
    if (code.payload.piid !== installed.piid) {
      throw new ExshError(
        'reservation.requestMismatch',
        `The authorization code is for product instance ${code.payload.piid}, not for the reservation installed on this system (${installed.piid}).`,
      );
    }
    if (code.payload.timestamp <= installed.timestamp) {
      throw new ExshError(
        'reservation.stale',
        code.signature.toString('base64') === installed.signature
          ? 'This authorization code is already installed.'
          : `The authorization code is not newer than the one installed (issued ${isoMs(code.payload.timestamp)}, installed code issued ${isoMs(installed.timestamp)}); install the latest code from CSSM.`,
      );
    }
  } else if (code.payload.piid !== (request as NonNullable<typeof request>).piid) {
    throw new ExshError(
      'reservation.requestMismatch',
      `The authorization code does not match the reservation request code in progress (${(request as NonNullable<typeof request>).code}); it was generated from another request code.`,
    );
  }

  const section = editReservation(ctx);
  section.installed = installedRecord(code, ctx.now());
  section.request = null;
  if (code.type === 'PLR') return { type: 'PLR', update: false };
  const confirmation = confirmationCode(deviceUdi(ctx.state), code.payload.piid, code.signature);
  section.lastConfirmationCode = confirmation;
  return { type: 'SLR', confirmationCode: confirmation, update: installed !== null };
}

function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------
// A reservation that arrives from outside (a restored backup)

/**
 * Why the reservation section of a state would not hold on the device it describes
 * (§6.3 run again), or undefined when it holds. A restore calls it on the state it is
 * about to write: the installed code must parse, verify against that state's trust
 * store for that state's UDI (a PLR's signature covers the UDI, an SLR carries it), and
 * be exactly what the section records (type, piid, timestamp, signature, export
 * control, entitlements and counts); a request in progress must be this UDI's.
 */
export function reservationProblem(state: DeviceState): string | undefined {
  const { installed, request } = readReservation(state);
  if (!installed && !request) return undefined;
  const udi = deviceUdi(state);
  const mine = formatUdi(udi);
  if (state.brand !== 'Expressway') return 'a Cisco VCS holds no reservation';
  if (request && (request.code !== makeRequestCode(udi, request.nonce) || request.piid !== derivePiid(udi, request.nonce))) {
    return `the reservation request in progress (${request.code}) is not this system's (UDI ${mine})`;
  }
  if (!installed) return undefined;
  let code: AuthorizationCode;
  try {
    code = parseAuthorizationCode(installed.code);
  } catch (e) {
    if (isExshError(e)) return `its authorization code cannot be read (${e.message.replace(/\.$/, '')})`;
    throw e;
  }
  if (!verifySignature(code, udi, trustedKeys(state))) {
    return `its authorization code was not issued for this system (UDI ${mine}) by an authority in its trust store`;
  }
  if (code.type === 'SLR') {
    let codeUdi: Udi | undefined;
    try {
      codeUdi = parseUdi(code.udi);
    } catch {
      codeUdi = undefined;
    }
    if (!codeUdi || !udiEquals(codeUdi, udi)) return `its authorization code was issued for UDI ${code.udi}, not for this system (UDI ${mine})`;
  }
  const { installedAt: _, ...recorded } = installed;
  const { installedAt: __, ...fromCode } = installedRecord(code, new Date(0));
  if (!isDeepStrictEqual(recorded, fromCode)) return 'what it records (type, product instance, entitlements or counts) is not what its authorization code says';
  return undefined;
}

// ---------------------------------------------------------------------------------------
// Return, ReturnAuthorization

export function returnReservation(ctx: DeviceContext): string {
  requireEnabled(ctx);
  const { installed, request } = readReservation(ctx.state);
  if (!installed) {
    throw new ExshError(
      'reservation.notReserved',
      request
        ? `No authorization code is installed to return: a request is in progress. Use ${CMD} Cancel to forget it, or ReturnAuthorization to release a code that will not be installed.`
        : 'No authorization code is installed to return.',
    );
  }
  const returnCode = makeReturnCode('installed', deviceUdi(ctx.state), installed.piid, Buffer.from(installed.signature, 'base64'));
  const section = editReservation(ctx);
  section.installed = null;
  section.lastReturnCode = returnCode;
  return returnCode;
}

export function returnAuthorization(ctx: DeviceContext, text: string): string {
  requireEnabled(ctx);
  const { installed, request } = readReservation(ctx.state);
  const expected = [request?.piid, installed?.piid].filter((p): p is string => p !== undefined);
  const code = verifyForDevice(ctx, text, expected);
  if (installed && code.payload.piid === installed.piid) {
    throw new ExshError(
      'reservation.installedCode',
      `This authorization code belongs to the ${TYPE_NAMES[installed.type]} installed on this system; use ${CMD} Return to release it.`,
    );
  }
  const returnCode = makeReturnCode('unused', deviceUdi(ctx.state), code.payload.piid, code.signature);
  const section = editReservation(ctx);
  if (request && request.piid === code.payload.piid) section.request = null;
  section.lastReturnCode = returnCode;
  return returnCode;
}
