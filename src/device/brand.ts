import { ExshError } from '../errors.js';
import { enumSpace } from '../xapi/schema.js';
import type { DeviceContext } from './context.js';
import { restartEvaluation } from './licensing.js';
import type { Subsystem } from './model.js';
import { keepOnlyRetainedKeys } from './optionkeys.js';
import type { Brand, ProductType } from './state.js';
import { productName } from './systemunit.js';

/**
 * Brands (§5.3, §8.2). `xCommand ServiceSelect` turns a Cisco VCS into an Expressway
 * (Smart Licensing switches on and its evaluation period starts); nothing but a
 * factory reset turns an Expressway back into a VCS. Within Expressway the type
 * (C or E) may change: X14.2's service selection offers both, and the UDI — hence
 * registration and reservation — does not depend on it.
 */

export const VCS_NEEDS_FACTORY_RESET = 'Only a factory reset returns this system to Cisco VCS.';

export function selectService(ctx: DeviceContext, brand: Brand, type: ProductType | undefined): void {
  const state = ctx.state;
  if (brand === 'VCS') {
    if (state.brand === 'Expressway') throw new ExshError('serviceSelect.vcsNeedsFactoryReset', VCS_NEEDS_FACTORY_RESET);
    if (type !== undefined) {
      throw new ExshError('serviceSelect.typeNotForVcs', 'Type applies to Expressway only: a Cisco VCS has no Expressway-C or Expressway-E type.');
    }
    return;
  }
  if (state.brand === 'VCS') {
    state.brand = 'Expressway';
    if (type !== undefined) state.type = type;
    // §8.2: Smart Licensing turns on by itself, and with it a fresh evaluation period.
    restartEvaluation(ctx);
    keepOnlyRetainedKeys(ctx);
    return;
  }
  if (type !== undefined) state.type = type;
}

export const brand: Subsystem = {
  name: 'brand',
  commands: [
    {
      path: ['ServiceSelect'],
      help: 'Selects the product: Cisco VCS to Expressway (Smart Licensing turns on), or the Expressway type. Only a factory reset returns an Expressway to Cisco VCS.',
      mutates: true,
      params: [
        { name: 'Brand', space: enumSpace('Expressway', 'VCS'), required: true },
        { name: 'Type', space: enumSpace('ExpresswayC', 'ExpresswayE') },
      ],
      handler: (ctx, p) => {
        selectService(ctx, p.Brand as Brand, p.Type as ProductType | undefined);
        const s = ctx.state;
        return { fields: { Brand: s.brand, ...(s.brand === 'Expressway' ? { Type: s.type } : {}), Product: productName(s) } };
      },
    },
  ],
};
