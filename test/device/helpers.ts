import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceContext } from '../../src/device/context.js';
import { Device } from '../../src/device/device.js';
import { commandTree } from '../../src/device/index.js';
import type { Brand, DeviceState, ProductType } from '../../src/device/state.js';
import { isExshError } from '../../src/errors.js';
import { Session } from '../../src/shell/session.js';

/** In-process devices on temporary homes, with a pinned clock and seed. */

export const NOW = new Date('2026-03-01T10:00:00.000Z');

const homes: string[] = [];
export function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'exsh-dev-'));
  homes.push(home);
  return home;
}
export function cleanHomes(): void {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}

export interface TestDevice {
  home: string;
  device: Device;
  session: Session;
  run(line: string): Promise<string>;
  state(): DeviceState;
  stored(): string;
  mutate<T>(fn: (ctx: DeviceContext) => T): T;
  /** Runs fn as a state change and returns the ExshError code it threw (asserting nothing was written). */
  refusal(fn: (ctx: DeviceContext) => unknown): string;
}

export function testDevice(opts: { brand?: Brand; type?: ProductType; home?: string; name?: string; seed?: string; now?: Date } = {}): TestDevice {
  const home = opts.home ?? tempHome();
  commandTree();
  const device = new Device({
    home,
    name: opts.name ?? 'expressway',
    now: opts.now ?? NOW,
    seed: opts.seed ?? '1',
    createAs: { brand: opts.brand, type: opts.type },
  });
  device.ensure();
  const session = new Session({ device, tree: commandTree() });
  const stored = () => JSON.stringify(device.store.read());
  return {
    home,
    device,
    session,
    run: (line) => session.execute({ line }),
    state: () => structuredClone(device.store.read() as DeviceState),
    stored,
    mutate: (fn) => device.mutate(fn),
    refusal(fn) {
      const before = stored();
      try {
        device.mutate(fn);
      } catch (e) {
        if (!isExshError(e)) throw e;
        if (stored() !== before) throw new Error(`${e.code}: the refused change was written`);
        return e.code;
      }
      throw new Error('expected a refusal');
    },
  };
}

/** The terminal reply of a refused command (§3.1). */
export function errorReply(command: string, reason: string, code: string): string {
  return `*r ${command}Result (status=Error):\n    Reason: ${JSON.stringify(reason)}\n    Code: "${code}"\n*r/end\n\nERROR\n`;
}
