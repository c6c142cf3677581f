import { canonicalJson, nestsDeeperThan } from '../text.js';
import { createHash } from 'node:crypto';
import { formatUdi } from '../codes/udi.js';
import { ExshError } from '../errors.js';
import { ALARMS, ALARM_RAISED } from './alarms.js';
import type { DeviceContext } from './context.js';
import type { DeviceModel, RestoreContext } from './model.js';
import { reservationProblem } from './reservation-engine.js';
import { readReservation } from './reservation-state.js';
import { deepFreeze, isObject, SCHEMA_VERSION, type DeviceState, MAX_JSON_DEPTH } from './state.js';
import { productName } from './systemunit.js';
import { trustStoreProblem } from './trust.js';
import { trustStore } from './trust-state.js';

/**
 * Backup and restore (§8.4). A backup is a versioned JSON document carrying the whole
 * device state, identity included, with a SHA-256 digest over the canonical JSON of
 * its payload: a changed byte is caught before anything is restored. (The digest
 * detects damage and hand edits; it is not a signature — anyone can recompute it.)
 *
 * Same system (same UDI): everything comes back, smart licensing registration and
 * reservation included. Different system: configuration comes back but the target
 * keeps its identity, its option keys (they are bound to its serial number) and its
 * evaluation period; registration and reservation are not restored, so the product
 * must register (or reserve) again.
 *
 * Because anyone can recompute the digest, a restore trusts nothing the file says: every
 * value is checked against its value space (the model's validation plus the core checks
 * below), the trust store it would install is checked key by key, and each installed
 * authorization code is verified again, on the state about to be written, as Install
 * verifies it. Any failure refuses the whole restore.
 */

export const BACKUP_FORMAT = 'exsh-backup';
export const BACKUP_VERSION = 1;

export interface BackupPayload {
  createdAt: string;
  deviceName: string;
  udi: string;
  state: DeviceState;
}

export interface BackupDocument {
  format: typeof BACKUP_FORMAT;
  version: number;
  payload: BackupPayload;
  /** SHA-256 (hex) of canonicalJson(payload). */
  sha256: string;
}

export { canonicalJson } from '../text.js';

export function digestOf(payload: BackupPayload): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

export function createBackup(state: DeviceState, deviceName: string, at: Date): BackupDocument {
  const payload: BackupPayload = { createdAt: at.toISOString(), deviceName, udi: formatUdi(state.identity), state };
  return { format: BACKUP_FORMAT, version: BACKUP_VERSION, payload, sha256: digestOf(payload) };
}

export function serializeBackup(doc: BackupDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function corrupt(file: string, detail: string): ExshError {
  return new ExshError('backup.corrupt', `The backup ${file} is corrupt (${detail}); nothing was restored.`);
}

/** Parses and verifies a backup; throws backup.corrupt / backup.newerVersion / backup.tampered. */
export function parseBackup(text: string, file: string, model: DeviceModel): BackupDocument {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw corrupt(file, `it nests deeper than ${MAX_JSON_DEPTH} levels, as no device does`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, `it is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(raw) || raw.format !== BACKUP_FORMAT) throw corrupt(file, 'it is not an exsh backup');
  if (typeof raw.version !== 'number' || !Number.isInteger(raw.version) || raw.version < 1) throw corrupt(file, 'its version is missing');
  if (raw.version > BACKUP_VERSION) {
    throw new ExshError(
      'backup.newerVersion',
      `The backup ${file} was made by a newer exsh (backup version ${raw.version}; this exsh reads up to ${BACKUP_VERSION}); nothing was restored.`,
    );
  }
  if (!isObject(raw.payload) || typeof raw.sha256 !== 'string') throw corrupt(file, 'its payload or digest is missing');
  const payload = raw.payload as unknown as BackupPayload;
  if (digestOf(payload) !== raw.sha256.toLowerCase()) {
    throw new ExshError(
      'backup.tampered',
      `The backup ${file} fails its integrity check (SHA-256 mismatch): it was changed after it was made; nothing was restored.`,
    );
  }
  const state = payload.state as unknown;
  if (isObject(state) && typeof state.schemaVersion === 'number' && state.schemaVersion > SCHEMA_VERSION) {
    throw new ExshError(
      'backup.newerVersion',
      `The backup ${file} holds a device of schema ${state.schemaVersion}, newer than this exsh's ${SCHEMA_VERSION}; nothing was restored.`,
    );
  }
  if (!isObject(state) || state.schemaVersion !== SCHEMA_VERSION) throw corrupt(file, 'its device state has an unknown schema version');
  const err = model.problem(state) ?? coreValueProblem(state as unknown as DeviceState);
  if (err) throw corrupt(file, err);
  if (typeof payload.udi !== 'string' || payload.udi !== formatUdi((state as unknown as DeviceState).identity)) {
    throw corrupt(file, 'its UDI does not match the device state');
  }
  return raw as unknown as BackupDocument;
}

// The identity's value spaces (§5.1): the UDI is built from them, so a comma or colon
// in a field would make another system's UDI.
const IDENTITY: Readonly<Record<string, RegExp>> = {
  pid: /^[A-Za-z0-9-]{1,32}$/,
  serial: /^[0-9A-F]{8}$/,
  vid: /^[A-Za-z0-9.]{1,8}$/,
  hostId: /^[0-9a-f]{8}$/,
  productType: /^[A-Z]{1,8}$/,
};

/**
 * Value checks of the core document beyond the store's structural ones: the identity
 * fields, the software version and the alarms (each one the device defines, as it
 * raises it). A backup is checked with them before anything is restored.
 */
export function coreValueProblem(state: DeviceState): string | undefined {
  for (const [k, re] of Object.entries(IDENTITY)) {
    if (!re.test((state.identity as unknown as Record<string, string>)[k] ?? '')) return `identity.${k} is invalid`;
  }
  if (!/^X\d{1,2}\.\d{1,2}(\.\d{1,3})?$/.test(state.software)) return 'software is invalid';
  const ids = new Set<number>();
  for (const [i, a] of state.alarms.entries()) {
    const def = (ALARMS as Record<number, { title: string; severity: string } | undefined>)[a.id];
    if (!def || def.title !== a.title || def.severity !== a.severity || a.status !== ALARM_RAISED || ids.has(a.id))
      return `alarm ${i} is not an alarm of this device`;
    ids.add(a.id);
  }
  return undefined;
}

/**
 * Refuses a state a restore is about to write when its trust store or its reservation
 * would not hold on this system: nothing is changed, and the sentence says why.
 */
export function checkRestored(next: DeviceState): void {
  const trust = trustStoreProblem(trustStore(next));
  if (trust) throw new ExshError('backup.badTrustStore', `The backup's trust store cannot be restored: ${trust}; nothing was restored.`);
  const reservation = reservationProblem(next);
  if (reservation) {
    throw new ExshError('backup.reservationInvalid', `The backup's license reservation does not hold on this system: ${reservation}; nothing was restored.`);
  }
}

function holdsReservation(state: DeviceState): boolean {
  const r = readReservation(state);
  return r.installed !== null || r.request !== null;
}

export interface RestoreOutcome {
  sameSystem: boolean;
  backupUdi: string;
  targetUdi: string;
  /** Registration / reservation sections that a different system did not take. */
  smartLicensingDropped: boolean;
  /** A different system: the backup held a reservation (installed or requested), which was not restored. */
  reservationDropped: boolean;
  product: string;
  smartLicensing: boolean;
}

/** Restores a verified backup onto the device, as one state change. */
export function restoreBackup(ctx: DeviceContext, model: DeviceModel, doc: BackupDocument): RestoreOutcome {
  const target = ctx.state;
  const source = doc.payload.state;
  const now = ctx.now();
  const sameSystem = formatUdi(target.identity) === formatUdi(source.identity);
  if (target.brand === 'Expressway' && source.brand === 'VCS') {
    throw new ExshError(
      'backup.vcsOntoExpressway',
      'This backup is of a Cisco VCS and this system is an Expressway: only a factory reset returns it to Cisco VCS. Reset it first, then restore.',
    );
  }

  const next: DeviceState = structuredClone(source);
  next.identity = target.identity;
  next.createdAt = target.createdAt;
  next.software = target.software;
  next.clock = target.clock;
  next.generation = target.generation;
  next.bootedAt = now.toISOString();
  const fresh = model.newState(ctx.rng, now, next.brand, next.type);
  let smartLicensingDropped = false;
  for (const section of model.sections.values()) {
    const key = section.key;
    // What survives every reset (this hardware's history) is not rolled back by a restore either.
    const from = section.reset === 'always' ? 'target' : sameSystem ? 'backup' : (section.restoreOntoOther ?? 'backup');
    if (from === 'backup') continue;
    const value = from === 'target' ? target[key] : fresh[key];
    if (from === 'fresh' && section.reset === 'smart-licensing' && JSON.stringify(next[key]) !== JSON.stringify(fresh[key])) smartLicensingDropped = true;
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  const r: RestoreContext = { source, target, next, sameSystem, now, fresh };
  for (const s of model.subsystems) s.restore?.(r);
  checkRestored(next);

  ctx.replace(next);
  return {
    sameSystem,
    backupUdi: doc.payload.udi,
    targetUdi: formatUdi(target.identity),
    smartLicensingDropped,
    reservationDropped: !sameSystem && holdsReservation(source) && !holdsReservation(next),
    product: productName(next),
    smartLicensing: next.brand === 'Expressway',
  };
}

/**
 * The state a restore writes in place of a stored document that cannot be read (a
 * corrupt row). Nothing of the target can be read, so it is the backup's system by
 * definition: its identity, clock, history and reservation come back as they were
 * (checked as any restore is), and the restore counts as a restart and as a change.
 */
export function restoredOverUnreadable(doc: BackupDocument, now: Date): { state: DeviceState; outcome: RestoreOutcome } {
  const next: DeviceState = structuredClone(doc.payload.state);
  next.bootedAt = now.toISOString();
  next.generation = doc.payload.state.generation + 1;
  checkRestored(next);
  return {
    state: deepFreeze(next),
    outcome: {
      sameSystem: true,
      backupUdi: doc.payload.udi,
      targetUdi: doc.payload.udi,
      smartLicensingDropped: false,
      reservationDropped: false,
      product: productName(next),
      smartLicensing: next.brand === 'Expressway',
    },
  };
}
