import type { Scalar } from '../xapi/types.js';

/**
 * The persisted state of one simulated device (§5): one JSON document, versioned. The
 * core fields are here; every subsystem keeps its part in a section of its own, which it
 * declares (defaults, validation, what a reset keeps) in the device model.
 */
export const SCHEMA_VERSION = 1;
/** A device document nests about six levels (a backup two more); deeper is hostile, not a device. */
export const MAX_JSON_DEPTH = 32;
export const SOFTWARE_VERSION = 'X14.2.7';

export type Brand = 'Expressway' | 'VCS';
export type ProductType = 'ExpresswayC' | 'ExpresswayE';

export interface Identity {
  pid: string;
  serial: string;
  vid: string;
  hostId: string;
  productType: string;
}

export interface Alarm {
  id: number;
  title: string;
  severity: string;
  status: string;
  raisedAt: string;
}

export interface DeviceState {
  schemaVersion: number;
  identity: Identity;
  brand: Brand;
  type: ProductType;
  software: string;
  /** ISO time (simulated clock) when the device was created / last booted. */
  createdAt: string;
  bootedAt: string;
  /** Simulated clock offset from the base time (real time, or --now), §5.4. */
  clock: { offsetMs: number };
  /** Advances on every change; seeds per-change randomness under --seed (§5.5). */
  generation: number;
  /** Configuration values by canonical path ("License Smart ReservationEnable"); defaults are not stored. */
  config: Record<string, Scalar>;
  alarms: Alarm[];
  /** Subsystem sections (reservation, option keys, trust, …), each declared by its owner. */
  [section: string]: unknown;
}

/** The core document's own keys; every other key is a declared subsystem section. */
export const CORE_KEYS: ReadonlySet<string> = new Set([
  'schemaVersion',
  'identity',
  'brand',
  'type',
  'software',
  'createdAt',
  'bootedAt',
  'clock',
  'generation',
  'config',
  'alarms',
]);

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTime(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

/** Structural checks of the core fields; the model adds each section's and the configuration's. */
export function coreProblem(s: Record<string, unknown>): string | undefined {
  if (!isObject(s.identity)) return 'identity is missing';
  for (const k of ['pid', 'serial', 'vid', 'hostId', 'productType']) {
    if (typeof s.identity[k] !== 'string') return `identity.${k} is missing`;
  }
  if (s.brand !== 'Expressway' && s.brand !== 'VCS') return 'brand is invalid';
  if (s.type !== 'ExpresswayC' && s.type !== 'ExpresswayE') return 'type is invalid';
  if (typeof s.software !== 'string') return 'software is invalid';
  for (const k of ['createdAt', 'bootedAt']) if (!isTime(s[k])) return `${k} is not a time`;
  if (!isObject(s.clock) || typeof s.clock.offsetMs !== 'number' || !Number.isFinite(s.clock.offsetMs)) {
    return 'clock.offsetMs is invalid';
  }
  if (typeof s.generation !== 'number' || !Number.isSafeInteger(s.generation) || s.generation < 0) return 'generation is invalid';
  if (!isObject(s.config)) return 'config is not an object';
  for (const [k, v] of Object.entries(s.config)) {
    if (typeof v !== 'string' && typeof v !== 'number') return `config '${k}' is not a scalar`;
  }
  if (!Array.isArray(s.alarms)) return 'alarms is not a list';
  for (const [i, a] of s.alarms.entries()) {
    if (
      !isObject(a) ||
      typeof a.id !== 'number' ||
      typeof a.title !== 'string' ||
      typeof a.severity !== 'string' ||
      typeof a.status !== 'string' ||
      !isTime(a.raisedAt)
    ) {
      return `alarm ${i} is invalid`;
    }
  }
  return undefined;
}

/** Freezes a value and everything in it: what is committed is never changed in place. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
