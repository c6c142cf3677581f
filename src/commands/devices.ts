import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatUdi } from '../codes/udi.js';
import { readCluster } from '../device/cluster-state.js';
import type { Device } from '../device/device.js';
import { holdsRegistration } from '../device/registration-state.js';
import { readReservation } from '../device/reservation-state.js';
import type { Brand, DeviceState, ProductType } from '../device/state.js';
import { productName } from '../device/systemunit.js';
import { ExshError, StoreError, usageError } from '../errors.js';
import { formatTable } from '../table.js';
import type { CliContext } from './context.js';

/** `exsh devices list | create | show | remove`. */

interface Listed {
  name: string;
  product: string;
  serial: string;
  hostId: string;
  problem?: string;
}

export async function devicesList(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  const store = await ctx.store();
  const names = await store.names();
  const rows: Listed[] = [];
  let corrupt: StoreError | undefined;
  for (const name of names) {
    try {
      const stored = await store.read(name);
      const s = stored?.doc;
      rows.push({ name, product: s ? productName(s) : '', serial: s?.identity.serial ?? '', hostId: s?.identity.hostId ?? '' });
    } catch (e) {
      // The same validation as every other command: a corrupt device is listed as such, and the run fails.
      if (!(e instanceof StoreError)) throw e;
      corrupt ??= e;
      rows.push({ name, product: '(corrupt)', serial: '', hostId: '', problem: e.message });
    }
  }
  if (opts.json) ctx.io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else if (rows.length === 0) ctx.io.stdout.write(`No devices under ${ctx.home}; one is created on first use.\n`);
  else
    ctx.io.stdout.write(
      `${formatTable(
        ['Name', 'Product', 'Serial', 'HostId'],
        rows.map((r) => [r.name, r.product, r.serial, r.hostId]),
      )}\n`,
    );
  if (corrupt) throw corrupt;
  return 0;
}

export async function devicesCreate(ctx: CliContext, name: string, opts: { brand: Brand; type?: ProductType }): Promise<number> {
  if (opts.brand === 'VCS' && opts.type !== undefined) {
    throw usageError('device.typeNotForVcs', 'A Cisco VCS has no Expressway type: leave out --type, or use --brand Expressway.');
  }
  const device = await ctx.device(name, { brand: opts.brand, type: opts.type ?? 'ExpresswayC' });
  if (await device.exists()) throw new ExshError('device.exists', `Device '${name}' already exists under ${ctx.home}.`);
  const state = await device.read();
  ctx.io.stdout.write(`Created device '${name}': ${productName(state)}, UDI ${formatUdi(state.identity)}.\n`);
  return 0;
}

async function existing(ctx: CliContext, name: string): Promise<Device> {
  const device = await ctx.device(name);
  if (!(await device.exists())) throw new ExshError('device.notFound', `No device '${name}' under ${ctx.home}.`);
  return device;
}

/** The stored document, secrets masked. */
export async function devicesShow(ctx: CliContext, name: string, opts: { json?: boolean }): Promise<number> {
  const device = await existing(ctx, name);
  const state = await device.read();
  const doc = JSON.stringify(ctx.model.masked(state), null, 2);
  if (!opts.json) {
    ctx.io.stdout.write(`Device '${name}': ${productName(state)}, UDI ${formatUdi(state.identity)}, stored in ${device.store.path}.\n`);
  }
  ctx.io.stdout.write(`${doc}\n`);
  return 0;
}

async function clusterOf(device: Device): Promise<string | undefined> {
  try {
    const state = (await device.store.read(device.name))?.doc;
    return state ? readCluster(state)?.name : undefined;
  } catch (e) {
    if (e instanceof StoreError) return undefined;
    throw e;
  }
}

/**
 * What removing a device would strand at the CSSM: an installed reservation or one in
 * progress holds licences there, and a registration an instance.
 */
async function stranded(device: Device): Promise<string | undefined> {
  let state: DeviceState | undefined;
  try {
    state = (await device.store.read(device.name))?.doc;
  } catch (e) {
    // A corrupt device cannot be asked; its message tells to remove it, so that stays possible.
    if (e instanceof StoreError) return undefined;
    throw e;
  }
  if (!state) return undefined;
  const serial = state.identity.serial;
  const { installed, request } = readReservation(state);
  if (installed) {
    const kind = installed.type === 'PLR' ? 'a Permanent License Reservation' : 'a Specific License Reservation';
    return `it holds ${kind} (serial ${serial}): its licences would stay reserved at the CSSM. Return it first (xCommand License Smart Reservation Return, then exsh cssm remove --return-code <code>), or give --force and release them with exsh cssm remove --instance ${serial} --force`;
  }
  if (request) {
    return `a reservation request is in progress (serial ${serial}): if the CSSM has reserved licences for it, they would stay reserved. Cancel it first (xCommand License Smart Reservation Cancel, and ReturnAuthorization for a code that was issued), or give --force and release them with exsh cssm remove --instance ${serial} --force`;
  }
  if (holdsRegistration(state)) {
    return `it is registered to the CSSM (serial ${serial}): the product instance would stay there. Deregister it first (xCommand License Smart Deregister), or give --force and remove the instance with exsh cssm remove --instance ${serial} --force`;
  }
  return undefined;
}

export async function devicesRemove(ctx: CliContext, name: string, opts: { force?: boolean } = {}): Promise<number> {
  const device = await ctx.device(name);
  const cluster = await clusterOf(device);
  if (cluster) {
    throw new ExshError(
      'device.inCluster',
      `Device '${name}' was not removed: it is a peer of cluster '${cluster}'; dissolve the cluster first (exsh cluster remove ${cluster}).`,
    );
  }
  const problem = await stranded(device);
  if (problem && !opts.force) throw new ExshError('device.holdsLicences', `Device '${name}' was not removed: ${problem}.`);
  if (!(await device.remove())) throw new ExshError('device.notFound', `No device '${name}' under ${ctx.home}.`);
  if (problem) ctx.io.stderr.write(`exsh: warning: device '${name}' removed with --force: ${problem.split(':')[0]}.\n`);
  rmSync(join(ctx.home, 'history', `${name}.history`), { force: true });
  ctx.io.stdout.write(`Removed device '${name}'.\n`);
  return 0;
}
