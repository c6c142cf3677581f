import { alarms } from './alarms.js';
import { brand } from './brand.js';
import { licensing } from './licensing.js';
import { buildModel, type DeviceModel, type Subsystem } from './model.js';
import { optionKeys } from './optionkeys.js';
import { registration } from './registration.js';
import { reservation } from './reservation.js';
import { factoryReset } from './reset.js';
import { simulator } from './simulator.js';
import { systemUnit } from './systemunit.js';
import { trust } from './trust-state.js';
import { usage } from './usage.js';

/**
 * Every subsystem of the simulated Expressway, in the order help and status list them.
 * Reservation comes before licensing: its ReservationEnable leads the License Smart
 * settings, as in the device's own listing (§3.1). Registration comes before
 * reservation: its status part fills in Registration and Authorization first, and a
 * reservation's part then shows the reservation's states over them. Usage comes last:
 * its part fills in what is in use over every mode's entitlements.
 */
export const SUBSYSTEMS: readonly Subsystem[] = [
  systemUnit,
  registration,
  reservation,
  licensing,
  brand,
  optionKeys,
  trust,
  alarms,
  factoryReset,
  simulator,
  usage,
];

let model: DeviceModel | undefined;

/** The device model built from SUBSYSTEMS (once per process). */
export function deviceModel(): DeviceModel {
  model ??= buildModel(SUBSYSTEMS);
  return model;
}
