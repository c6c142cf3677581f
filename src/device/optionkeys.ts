import { ExshError } from '../errors.js';
import { stringSpace } from '../xapi/schema.js';
import type { StatusObject } from '../xapi/types.js';
import type { DeviceContext } from './context.js';
import type { Subsystem } from './model.js';
import { isObject, type DeviceState } from './state.js';

/**
 * Legacy option keys (§8.3). A Cisco VCS is licensed by option keys; an Expressway
 * (X14.2) by Smart Licensing only, so it takes no new key. The one exception is the
 * Microsoft Interoperability key: a VCS that had it keeps it, and the feature, when
 * it becomes an Expressway — but once deleted it cannot come back, and a factory
 * reset loses it (the seed's "Smart Licensing restrictions").
 *
 * Key format (exsh's decision; real keys are serial-bound and opaque): a 6-digit
 * product prefix, a feature letter, two digits, '-', a version, '-', 8 hex digits —
 * `116341G00-1-AB12CD34`. Letters are case-insensitive and stored upper-case.
 */

export const OPTION_KEY_FORMAT = /^(\d{6})([A-Z])(\d{2})-(\d{1,2})-([0-9A-F]{8})$/;
export const MAX_OPTION_KEYS = 64;

/** The feature each key letter unlocks. One line per feature. */
export const OPTION_KEY_FEATURES: Readonly<Record<string, string>> = {
  A: 'Advanced Account Security',
  C: 'Non-traversal Calls',
  D: 'Device Provisioning',
  E: 'Expressway Series',
  F: 'FindMe',
  G: 'Advanced Networking',
  H: 'H.323-SIP Interworking',
  M: 'Microsoft Interoperability',
  P: 'TURN Relays',
  R: 'Rich Media Sessions',
  T: 'Traversal Calls',
};
export const MICROSOFT_INTEROP_LETTER = 'M';

export interface OptionKeyRecord {
  key: string;
  feature: string;
  addedAt: string;
  /** Kept through the switch from Cisco VCS to Expressway (MS Interop only). */
  retained?: boolean;
}

export interface OptionKeySection {
  keys: OptionKeyRecord[];
  /** The retained MS Interop key was deleted on this Expressway: it cannot return. */
  msInteropDeleted?: boolean;
}

export const OPTION_KEYS_SECTION = 'optionKeys';

/** This request's copy of the section, created when missing. */
export function editOptionKeys(ctx: DeviceContext): OptionKeySection {
  return ctx.edit<OptionKeySection>(OPTION_KEYS_SECTION, () => ({ keys: [] }));
}

export function keysOf(state: DeviceState): readonly OptionKeyRecord[] {
  return (state[OPTION_KEYS_SECTION] as OptionKeySection | undefined)?.keys ?? [];
}

export function isMicrosoftInteropKey(key: string): boolean {
  return OPTION_KEY_FORMAT.exec(key)?.[2] === MICROSOFT_INTEROP_LETTER;
}

/** True while the device has the Microsoft Interoperability feature (VCS key or retained key). */
export function hasMicrosoftInterop(state: DeviceState): boolean {
  return keysOf(state).some((k) => isMicrosoftInteropKey(k.key));
}

/** Checks a key's format; returns it canonical (upper-case) and the feature it unlocks. */
export function parseOptionKey(raw: string): { key: string; feature: string } {
  const key = raw.trim().toUpperCase();
  const m = OPTION_KEY_FORMAT.exec(key);
  if (!m) {
    throw new ExshError(
      'optionKey.badFormat',
      `Invalid option key '${raw}': expected the form 116341G00-1-AB12CD34 (6 digits, a feature letter, 2 digits, '-', a version, '-', 8 hex digits).`,
    );
  }
  const feature = OPTION_KEY_FEATURES[m[2] as string];
  if (!feature) {
    throw new ExshError('optionKey.badFormat', `Invalid option key '${raw}': '${m[2] as string}' is not a feature of this product.`);
  }
  return { key, feature };
}

export function addOptionKey(ctx: DeviceContext, raw: string): OptionKeyRecord {
  const state = ctx.state;
  if (state.brand === 'Expressway') {
    // Checked before the format so the reason names what the operator tried.
    if (OPTION_KEY_FORMAT.exec(raw.trim().toUpperCase())?.[2] === MICROSOFT_INTEROP_LETTER) {
      throw new ExshError(
        'optionKey.msInteropNotAddable',
        'The Microsoft Interoperability option key cannot be added from X14.2: only a system that had it as a Cisco VCS keeps it.',
      );
    }
    throw new ExshError(
      'optionKey.notOnExpressway',
      'Option keys cannot be added to an Expressway: PAK option keys were removed in X14.2 and this system is licensed by Smart Licensing.',
    );
  }
  const { key, feature } = parseOptionKey(raw);
  if (keysOf(state).some((k) => k.key === key)) {
    throw new ExshError('optionKey.duplicate', `Option key ${key} is already installed.`);
  }
  if (keysOf(state).length >= MAX_OPTION_KEYS) {
    throw new ExshError('optionKey.tooMany', `This system already holds ${MAX_OPTION_KEYS} option keys: delete one first.`);
  }
  const section = editOptionKeys(ctx);
  const record: OptionKeyRecord = { key, feature, addedAt: ctx.now().toISOString() };
  section.keys.push(record);
  return record;
}

export function deleteOptionKey(ctx: DeviceContext, raw: string): OptionKeyRecord {
  const key = raw.trim().toUpperCase();
  if (!keysOf(ctx.state).some((k) => k.key === key)) throw new ExshError('optionKey.notFound', `Option key ${raw.trim()} is not installed on this system.`);
  const section = editOptionKeys(ctx);
  const i = section.keys.findIndex((k) => k.key === key);
  const [removed] = section.keys.splice(i, 1) as [OptionKeyRecord];
  if (ctx.state.brand === 'Expressway' && isMicrosoftInteropKey(removed.key)) section.msInteropDeleted = true;
  return removed;
}

/**
 * The switch from Cisco VCS to Expressway (§8.2, §8.3): Smart Licensing replaces the
 * PAK keys, so every key but Microsoft Interoperability goes; that one is retained.
 * Returns the keys that were removed.
 */
export function keepOnlyRetainedKeys(ctx: DeviceContext): OptionKeyRecord[] {
  const section = editOptionKeys(ctx);
  const removed = section.keys.filter((k) => !isMicrosoftInteropKey(k.key));
  section.keys = section.keys.filter((k) => isMicrosoftInteropKey(k.key)).map((k) => ({ ...k, retained: true }));
  return removed;
}

function statusOf(state: DeviceState): StatusObject[] {
  return keysOf(state).map((k, i) => ({
    id: i + 1,
    Key: k.key,
    Feature: k.feature,
    Status: k.retained ? 'Retained from Cisco VCS' : 'Active',
  }));
}

export function validateOptionKeys(s: unknown): string | undefined {
  if (s === undefined) return undefined;
  if (!isObject(s) || !Array.isArray(s.keys)) return 'optionKeys is invalid';
  if (s.keys.length > MAX_OPTION_KEYS) return `optionKeys holds more than ${MAX_OPTION_KEYS} keys`;
  const seen = new Set<string>();
  for (const [i, k] of (s.keys as unknown[]).entries()) {
    if (!isObject(k) || typeof k.key !== 'string' || typeof k.feature !== 'string' || typeof k.addedAt !== 'string') {
      return 'optionKeys.keys has an invalid entry';
    }
    // The value space of a key is the one Add accepts: the format, and the feature its letter names.
    const letter = OPTION_KEY_FORMAT.exec(k.key)?.[2];
    if (letter === undefined || OPTION_KEY_FEATURES[letter] === undefined) return `option key ${i} is not an option key`;
    if (k.feature !== OPTION_KEY_FEATURES[letter]) return `option key ${i} does not unlock the feature it names`;
    if (Number.isNaN(Date.parse(k.addedAt))) return `option key ${i} has no time it was added`;
    if (k.retained !== undefined && (k.retained !== true || letter !== MICROSOFT_INTEROP_LETTER)) return `option key ${i} is wrongly marked retained`;
    if (seen.has(k.key)) return `option key ${i} is installed twice`;
    seen.add(k.key);
  }
  if (s.msInteropDeleted !== undefined && typeof s.msInteropDeleted !== 'boolean') return 'optionKeys.msInteropDeleted is invalid';
  return undefined;
}

const KEY_PARAMS = [{ name: 'Key', space: stringSpace(1, 90), required: true, positional: true }] as const;

export const optionKeys: Subsystem = {
  name: 'optionKeys',
  sections: [
    {
      key: OPTION_KEYS_SECTION,
      init: () => ({ keys: [] }) satisfies OptionKeySection,
      validate: validateOptionKeys,
      // Option keys, the MS Interop key included, never survive an Expressway's factory
      // reset; a Cisco VCS keeps them with -o (applyFactoryReset's keepOptionKeys).
      reset: 'never',
      // They are bound to the system's serial number: another system keeps its own.
      restoreOntoOther: 'target',
    },
  ],
  // §8.3: a deleted Microsoft Interoperability key cannot come back, not even from a backup.
  restore: (r) => {
    if (!r.sameSystem || r.next.brand !== 'Expressway') return;
    const mine = r.target[OPTION_KEYS_SECTION] as OptionKeySection | undefined;
    const theirs = r.next[OPTION_KEYS_SECTION] as OptionKeySection | undefined;
    if (mine?.msInteropDeleted && theirs) {
      r.next[OPTION_KEYS_SECTION] = { keys: theirs.keys.filter((k) => !isMicrosoftInteropKey(k.key)), msInteropDeleted: true } satisfies OptionKeySection;
    }
  },
  commands: [
    {
      path: ['OptionKey', 'Add'],
      help: 'Adds a legacy option key (Cisco VCS only; an Expressway takes no option keys from X14.2).',
      mutates: true,
      params: KEY_PARAMS,
      handler: (ctx, p) => {
        const added = addOptionKey(ctx, String(p.Key));
        return { fields: { Key: added.key, Feature: added.feature } };
      },
    },
    {
      path: ['OptionKey', 'Delete'],
      help: 'Deletes an option key. A Microsoft Interoperability key retained from Cisco VCS cannot be added again once deleted.',
      mutates: true,
      params: KEY_PARAMS,
      handler: (ctx, p) => {
        const removed = deleteOptionKey(ctx, String(p.Key));
        return { fields: { Key: removed.key, Feature: removed.feature } };
      },
    },
  ],
  status: [{ name: 'OptionKey', help: 'Installed option keys (Key, Feature, Status).', build: (ctx) => statusOf(ctx.state) }],
};
