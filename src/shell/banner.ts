import { productName, systemName } from '../device/systemunit.js';
import type { Device } from '../device/device.js';

/** The login banner (§2.7); jsxapi waits for the line `OK`, so no "\r" and nothing after it. */
export function banner(device: Device): string {
  const state = device.ensure();
  const product = state.brand === 'VCS' ? productName(state) : 'Cisco Expressway';
  return `Welcome to ${systemName(state, device.name)}\n${product} ${state.software}\n*r Login successful\n\nOK\n\n`;
}
