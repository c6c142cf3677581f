import { productName, systemName } from '../device/systemunit.js';
import type { DeviceState } from '../device/state.js';

/** The login banner (§2.7); jsxapi waits for the line `OK`, so no "\r" and nothing after it. */
export function banner(state: DeviceState, deviceName: string): string {
  const product = state.brand === 'VCS' ? productName(state) : 'Cisco Expressway';
  return `Welcome to ${systemName(state, deviceName)}\n${product} ${state.software}\n*r Login successful\n\nOK\n\n`;
}
