import type { Scalar } from '../xapi/schema.js';

/**
 * The persisted state of one simulated device (§5). One JSON document per device,
 * versioned; every subsystem keeps its part in its own section.
 */
export const SCHEMA_VERSION = 1;
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
  /** Advances on every write; seeds per-write randomness under --seed (§5.5). */
  generation: number;
  /** Configuration values by canonical path ("License Smart ReservationEnable"). */
  config: Record<string, Scalar>;
  /** Smart Licensing is on exactly when the brand is Expressway (§5.3). */
  licensing: {
    evaluationStartedAt: string;
  };
  alarms: Alarm[];
  /** Subsystem sections (reservation, option keys, trust, …), each validated by its owner. */
  [section: string]: unknown;
}
