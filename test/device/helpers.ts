import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { closeDatabases } from '../../src/cssm/db.js';
import type { DeviceContext } from '../../src/device/context.js';
import { Device } from '../../src/device/device.js';
import type { DeviceModel } from '../../src/device/model.js';
import type { Brand, DeviceState, ProductType } from '../../src/device/state.js';
import { deviceModel } from '../../src/device/subsystems.js';
import { isExshError } from '../../src/errors.js';
import { Session } from '../../src/shell/session.js';
import { DocumentStore } from '../../src/store/documents.js';
import type { OutputMode } from '../../src/xapi/types.js';

/** In-process devices on temporary homes, with a pinned clock and seed. */

export const NOW = new Date('2026-03-01T10:00:00.000Z');

const homes: string[] = [];
export function tempHome(prefix = 'exsh-dev-'): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  homes.push(home);
  return home;
}
export function cleanHomes(): void {
  DocumentStore.closeAll();
  closeDatabases();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}

export interface TestDevice {
  home: string;
  device: Device;
  model: DeviceModel;
  session: Session;
  /** Runs one line (and optional multi-line body) and returns exactly what the session prints. */
  run(line: string, body?: string): Promise<string>;
  /** The committed state, as a mutable copy. */
  state(): Promise<DeviceState>;
  /** The whole stored document, to assert that a refused change wrote nothing. */
  stored(): Promise<string>;
  mutate<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<T>;
  /** Runs fn as a state change and returns the ExshError code it threw (asserting nothing was written). */
  refusal(fn: (ctx: DeviceContext) => unknown): Promise<string>;
}

export interface TestDeviceOptions {
  brand?: Brand;
  type?: ProductType;
  home?: string;
  name?: string;
  seed?: string;
  now?: Date;
  mode?: OutputMode;
  /** The device model (default: the product's, deviceModel()); the first device opened on a home fixes it for that home. */
  model?: DeviceModel;
}

export async function testDevice(opts: TestDeviceOptions = {}): Promise<TestDevice> {
  const home = opts.home ?? tempHome();
  const model = opts.model ?? deviceModel();
  const device = await Device.open({
    home,
    name: opts.name ?? 'expressway',
    model,
    now: opts.now ?? NOW,
    seed: opts.seed ?? '1',
    createAs: { brand: opts.brand, type: opts.type },
  });
  await device.read();
  const session = new Session({ device, mode: opts.mode });
  const stored = async () => JSON.stringify((await device.store.read(device.name))?.doc);
  return {
    home,
    device,
    model,
    session,
    run: (line, body) => session.text(body === undefined ? { line } : { line, body }),
    state: async () => structuredClone((await device.store.read(device.name))?.doc as DeviceState),
    stored,
    mutate: async (fn) => (await device.change(fn)).result,
    async refusal(fn) {
      const before = await stored();
      try {
        await device.change(fn);
      } catch (e) {
        if (!isExshError(e)) throw e;
        if ((await stored()) !== before) throw new Error(`${e.code}: the refused change was written`);
        return e.code;
      }
      throw new Error('expected a refusal');
    },
  };
}

/** A writable stream that keeps what is written (in-process CLI runs). */
export function sink(): Writable & { text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return Object.assign(w, { text: () => text });
}

/** The terminal reply of a refused command (§3.1). */
export function errorReply(command: string, reason: string, code: string): string {
  return `*r ${command}Result (status=Error):\n    Reason: ${JSON.stringify(reason)}\n    Code: "${code}"\n*r/end\n\nERROR\n`;
}

/** The stable code of the ExshError `fn` throws, or 'no error' (any other throw propagates). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isExshError(e)) return e.code;
    throw e;
  }
  return 'no error';
}

/** The code and message of the ExshError a promise rejects with (any other rejection propagates). */
export async function rejectionOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isExshError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}
