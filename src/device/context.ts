import type { Rng } from '../random.js';
import type { DeviceState } from './state.js';

/**
 * What a handler is given: the device's state (a working copy it may change), the
 * simulated clock and the randomness. Handlers are pure functions of this.
 */
export interface DeviceContext {
  readonly deviceName: string;
  readonly state: DeviceState;
  now(): Date;
  readonly rng: Rng;
  /** The home directory, for subsystems that keep files beside the store (trust). */
  readonly home: string;
}
