import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatUdi } from '../codes/udi.js';
import type { CliContext } from '../context.js';
import { formatTable } from '../table.js';
import { ExshError, usageError } from '../errors.js';
import { Device } from './device.js';
import type { Brand, ProductType } from './state.js';
import { productName } from './systemunit.js';

/** `exsh devices list|create|remove`. */

export function deviceNames(home: string): string[] {
  try {
    return readdirSync(join(home, 'devices'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .sort();
  } catch {
    return [];
  }
}

export function listDevices(ctx: CliContext, opts: { json?: boolean }): void {
  const rows = deviceNames(ctx.home).map((name) => {
    const state = ctx.device(name).store.read();
    return {
      name,
      product: state ? productName(state) : '',
      serial: state?.identity.serial ?? '',
      hostId: state?.identity.hostId ?? '',
    };
  });
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    ctx.io.stdout.write(`No devices under ${ctx.home}; one is created on first use.\n`);
    return;
  }
  const table = formatTable(['Name', 'Product', 'Serial', 'HostId'], rows.map((r) => [r.name, r.product, r.serial, r.hostId]));
  ctx.io.stdout.write(`${table}\n`);
}

export function createDevice(ctx: CliContext, name: string, opts: { brand: Brand; type?: ProductType }): void {
  if (opts.brand === 'VCS' && opts.type !== undefined) {
    throw usageError('device.typeNotForVcs', 'A Cisco VCS has no Expressway type: leave out --type, or use --brand Expressway.');
  }
  const device = new Device({
    home: ctx.home,
    name,
    now: ctx.now,
    seed: ctx.seed,
    lockTimeoutMs: ctx.lockTimeoutMs,
    createAs: { brand: opts.brand, type: opts.type ?? 'ExpresswayC' },
  });
  if (device.store.exists()) throw new ExshError('device.exists', `Device '${name}' already exists under ${ctx.home}.`);
  const state = device.ensure();
  ctx.io.stdout.write(`Created device '${name}': ${productName(state)}, UDI ${formatUdi(state.identity)}.\n`);
}

export function removeDevice(ctx: CliContext, name: string): void {
  const device = ctx.device(name);
  if (!device.store.remove()) throw new ExshError('device.notFound', `No device '${name}' under ${ctx.home}.`);
  rmSync(join(ctx.home, 'history', `${name}.history`), { force: true });
  ctx.io.stdout.write(`Removed device '${name}'.\n`);
}
