import type { Rng } from '../random.js';
import { CommandTree, checkValue, type CommandSpecInput, type ConfigLeafSpec, type StatusProviderSpec } from '../xapi/schema.js';
import type { StatusObject } from '../xapi/types.js';
import type { DeviceContext } from './context.js';
import type { Retention } from './reset-items.js';
import { CORE_KEYS, coreProblem, isObject, SCHEMA_VERSION, SOFTWARE_VERSION, type Brand, type DeviceState, type ProductType } from './state.js';

/**
 * The device model (§12): one ordered list of subsystems, each a plain value declaring
 * its state sections, its part of the command tree, its catch-up step, its status parts
 * and what a restore does with its state. `buildModel` turns the list into what
 * `Device`, `Session`, backup and reset receive. Nothing is registered by importing a
 * module, so whatever the program loads, validation and catch-up are the same.
 */

/** What a new section's defaults may depend on. */
export interface InitContext {
  readonly createdAt: string;
  readonly brand: Brand;
  readonly type: ProductType;
}

export interface SectionSpec {
  /** The top-level key of the document (`reservation`, `trustStore`). */
  readonly key: string;
  /** The section of a new device, and after a factory reset that does not keep it; undefined leaves it out. */
  init?(init: InitContext): unknown;
  /** Why a stored value is not valid (undefined: the section is absent), or undefined when it is. */
  validate(value: unknown): string | undefined;
  /** The factory-reset answer that keeps it. */
  readonly reset: Retention;
  /** Restored onto a different system (§8.4): the backup's, the target's own, or a new device's. Default: the backup's. */
  readonly restoreOntoOther?: 'backup' | 'target' | 'fresh';
  /** What `exsh devices show` prints instead of a secret. */
  mask?(value: unknown): unknown;
}

/**
 * Lazy evaluation (§5.4): before a command runs, what became due happens. `due` is a
 * cheap test on the committed state; only then is a working copy made and `run` called,
 * so a read that has nothing to catch up copies nothing.
 */
export interface CatchUpStep {
  due(state: DeviceState, now: Date): boolean;
  run(ctx: DeviceContext): void;
}

/** Refuses a request before it runs (License Smart on a Cisco VCS, §5.3); throws ExshError. */
export type Guard = (ctx: DeviceContext, target: { kind: 'config' | 'command'; path: readonly string[] }) => void;

/** What a remote step is given (§12): short reads and changes of the device, and the outside world. */
export interface RemoteIo {
  /** What the front end provides for talking to the CSSM (a RemoteEnv); undefined when nothing can be reached. */
  readonly services: unknown;
  read<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<T>;
  change<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<T>;
}

/**
 * A catch-up step that talks to the CSSM (§9.3): before a request runs, every attempt
 * that fell due is made in time order, each at its own simulated time, with no lock held
 * while it is on the wire.
 */
export interface RemoteStep {
  /** Whether an attempt is due by `now` (a cheap test on the committed state). */
  due(state: DeviceState, now: Date): boolean;
  /** Makes the earliest due attempt (plan on a read, carry, settle in a change that re-checks). */
  run(io: RemoteIo): Promise<void>;
}

export interface StatusPart {
  /** The status node it adds to (`License`). */
  readonly node: string;
  build(ctx: DeviceContext, built: StatusObject): void;
}

/** A restore being built (§8.4): `next` starts as the backup's state with the target's identity. */
export interface RestoreContext {
  readonly source: DeviceState;
  readonly target: DeviceState;
  readonly next: DeviceState;
  readonly sameSystem: boolean;
  readonly now: Date;
  /** A new device's state for this target (the defaults a fresh section takes). */
  readonly fresh: DeviceState;
}

export interface Subsystem {
  readonly name: string;
  readonly sections?: readonly SectionSpec[];
  readonly config?: readonly ConfigLeafSpec<DeviceContext>[];
  /** Which reset answer keeps the configuration under a path prefix ('IP', 'License Smart'). */
  readonly configRetention?: readonly (readonly [prefix: string, retention: Retention])[];
  readonly commands?: readonly CommandSpecInput<DeviceContext>[];
  readonly status?: readonly StatusProviderSpec<DeviceContext>[];
  readonly statusParts?: readonly StatusPart[];
  readonly catchUp?: CatchUpStep;
  readonly remote?: RemoteStep;
  readonly guard?: Guard;
  /** Rules of a restore beyond each section's restoreOntoOther. */
  restore?(r: RestoreContext): void;
}

export interface DeviceModel {
  readonly subsystems: readonly Subsystem[];
  readonly tree: CommandTree<DeviceContext>;
  readonly sections: ReadonlyMap<string, SectionSpec>;
  readonly catchUps: readonly CatchUpStep[];
  readonly remoteSteps: readonly RemoteStep[];
  readonly guards: readonly Guard[];
  /** A brand-new device: identity drawn from rng, factory defaults everywhere else. */
  newState(rng: Rng, at: Date, brand?: Brand, type?: ProductType): DeviceState;
  /** Why a document is not a valid device state, or undefined. */
  problem(raw: unknown): string | undefined;
  /** The reset answer that keeps a section or a configuration key. */
  sectionRetention(key: string): Retention;
  configRetention(key: string): Retention;
  /** The document with every secret replaced by "********". */
  masked(state: DeviceState): Record<string, unknown>;
}

function hex(bytes: Buffer, upper: boolean): string {
  const h = bytes.toString('hex');
  return upper ? h.toUpperCase() : h;
}

export const MASK = '********';

export function buildModel(subsystems: readonly Subsystem[]): DeviceModel {
  const tree = new CommandTree<DeviceContext>();
  const sections = new Map<string, SectionSpec>();
  const configRetention: [string, Retention][] = [];
  const parts: StatusPart[] = subsystems.flatMap((s) => s.statusParts ?? []);
  for (const s of subsystems) {
    for (const section of s.sections ?? []) {
      if (CORE_KEYS.has(section.key) || sections.has(section.key)) throw new Error(`section ${section.key} is declared twice`);
      sections.set(section.key, section);
    }
    for (const leaf of s.config ?? []) tree.addConfig(leaf);
    for (const r of s.configRetention ?? []) configRetention.push([r[0], r[1]]);
    for (const c of s.commands ?? []) tree.addCommand(c);
    for (const p of s.status ?? []) {
      const mine = parts.filter((x) => x.node === p.name);
      tree.addStatus(
        mine.length === 0
          ? p
          : {
              ...p,
              build: (ctx) => {
                const built = p.build(ctx);
                if (!Array.isArray(built)) for (const part of mine) part.build(ctx, built);
                return built;
              },
            },
      );
    }
  }
  for (const part of parts) {
    if (!tree.status.has(part.node.toLowerCase())) throw new Error(`status part for unknown node ${part.node}`);
  }
  const secretKeys = tree
    .configLeaves()
    .filter((l) => l.secret)
    .map((l) => l.path.join(' '));

  const newState = (rng: Rng, at: Date, brand: Brand = 'Expressway', type: ProductType = 'ExpresswayC'): DeviceState => {
    const iso = at.toISOString();
    const state: DeviceState = {
      schemaVersion: SCHEMA_VERSION,
      identity: { pid: 'Expressway', serial: hex(rng.bytes(4), true), vid: '1.0', hostId: hex(rng.bytes(4), false), productType: 'EXPY' },
      brand,
      type,
      software: SOFTWARE_VERSION,
      createdAt: iso,
      bootedAt: iso,
      clock: { offsetMs: 0 },
      generation: 0,
      config: {},
      alarms: [],
    };
    for (const section of sections.values()) {
      const value = section.init?.({ createdAt: iso, brand, type });
      if (value !== undefined) state[section.key] = value;
    }
    return state;
  };

  const problem = (raw: unknown): string | undefined => {
    if (!isObject(raw)) return 'the document is not an object';
    const core = coreProblem(raw);
    if (core) return core;
    for (const key of Object.keys(raw)) {
      if (!CORE_KEYS.has(key) && !sections.has(key)) return `it has an unknown section '${key}'`;
    }
    for (const section of sections.values()) {
      const p = section.validate(raw[section.key]);
      if (p) return p;
    }
    for (const [key, value] of Object.entries(raw.config as Record<string, unknown>)) {
      const leaf = tree.configLeafByKey(key);
      if (!leaf) return `config '${key}' is not a setting`;
      const checked = checkValue(leaf.space, String(value));
      if ('error' in checked || checked.value !== value) return `config '${key}' is invalid`;
      if (leaf.validate?.(checked.value)) return `config '${key}' is invalid`;
    }
    return undefined;
  };

  return {
    subsystems,
    tree,
    sections,
    catchUps: subsystems.flatMap((s) => (s.catchUp ? [s.catchUp] : [])),
    remoteSteps: subsystems.flatMap((s) => (s.remote ? [s.remote] : [])),
    guards: subsystems.flatMap((s) => (s.guard ? [s.guard] : [])),
    newState,
    problem,
    sectionRetention: (key) => sections.get(key)?.reset ?? 'never',
    configRetention: (key) => {
      let best: [string, Retention] | undefined;
      for (const entry of configRetention) {
        const [prefix] = entry;
        if ((key === prefix || key.startsWith(`${prefix} `)) && (!best || prefix.length > best[0].length)) best = entry;
      }
      return best?.[1] ?? 'never';
    },
    masked: (state) => {
      const out: Record<string, unknown> = { ...state, config: { ...state.config } };
      const config = out.config as Record<string, unknown>;
      for (const key of secretKeys) if (config[key] !== undefined && config[key] !== '') config[key] = MASK;
      for (const section of sections.values()) {
        if (section.mask && out[section.key] !== undefined) out[section.key] = section.mask(out[section.key]);
      }
      return out;
    },
  };
}
