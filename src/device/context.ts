import type { Rng } from '../random.js';
import type { Scalar } from '../xapi/types.js';
import { deepFreeze, type Alarm, type DeviceState } from './state.js';

/**
 * What a handler is given: the device's working state, the simulated clock and the
 * randomness. Handlers are plain functions of this.
 *
 * The committed document is frozen. A handler reads `state` freely and changes it only
 * through `edit` (a section copied on first change), `setConfig` or `replace`, so a
 * change copies what it touches and nothing else (a 50-entitlement reservation is not
 * copied to set the system name), and a refused change leaves nothing behind.
 * Top-level scalars (brand, type, bootedAt) may be assigned directly.
 */
export interface DeviceContext {
  readonly deviceName: string;
  /** The working state: the committed document plus this request's changes so far. */
  readonly state: DeviceState;
  now(): Date;
  readonly rng: Rng;
  /** A private, mutable copy of a section (made on the first call of this request). */
  edit(key: 'config'): Record<string, Scalar>;
  edit(key: 'alarms'): Alarm[];
  edit(key: 'clock'): { offsetMs: number };
  edit<T>(key: string, init?: () => T): T;
  /** Sets (or with undefined, removes) a configuration value. */
  setConfig(key: string, value: Scalar | undefined): void;
  /** Replaces the whole document (factory reset, restore). */
  replace(next: DeviceState): void;
  /**
   * Another device of the home, changed in the same transaction (a cluster's peers,
   * §10): only in a change made with Device.changeWithPeers; undefined if it does not exist.
   */
  peer?(name: string): DeviceContext | undefined;
}

/**
 * One request's working copy of a frozen document: a shallow copy of the top level,
 * sections copied when edited. `finish()` gives the new document (frozen) when anything
 * changed, or the base itself when nothing did.
 */
export class WorkingState {
  readonly state: DeviceState;
  private readonly edited = new Set<string>();

  constructor(private readonly base: DeviceState) {
    this.state = { ...base };
  }

  edit<T>(key: string, init?: () => T): T {
    if (!this.edited.has(key)) {
      const current = this.state[key];
      this.state[key] = current === undefined ? init?.() : structuredClone(current);
      this.edited.add(key);
    }
    return this.state[key] as T;
  }

  setConfig(key: string, value: Scalar | undefined): void {
    const current = this.state.config[key];
    if (current === value) return;
    const config = this.edit<Record<string, Scalar>>('config');
    if (value === undefined) delete config[key];
    else config[key] = value;
  }

  replace(next: DeviceState): void {
    for (const key of Object.keys(this.state)) delete this.state[key];
    Object.assign(this.state, next);
  }

  changed(): boolean {
    const keys = Object.keys(this.state);
    if (keys.length !== Object.keys(this.base).length) return true;
    return keys.some((k) => this.state[k] !== this.base[k]);
  }

  /** The new document, frozen, with the generation advanced; or the base when nothing changed. */
  finish(): DeviceState {
    if (!this.changed()) return this.base;
    for (const key of Object.keys(this.state)) if (this.state[key] !== this.base[key]) deepFreeze(this.state[key]);
    this.state.generation = this.base.generation + 1;
    return Object.freeze(this.state);
  }
}

/** A handler's context on a working copy. */
export function workingContext(
  work: WorkingState,
  deviceName: string,
  now: (state: DeviceState) => Date,
  rng: Rng,
  peer?: (name: string) => DeviceContext | undefined,
): DeviceContext {
  const state = work.state;
  return {
    deviceName,
    state,
    now: () => now(state),
    rng,
    edit: ((key: string, init?: () => unknown) => work.edit(key, init)) as DeviceContext['edit'],
    setConfig: (key: string, value: Scalar | undefined) => work.setConfig(key, value),
    replace: (next: DeviceState) => work.replace(next),
    ...(peer ? { peer } : {}),
  };
}
