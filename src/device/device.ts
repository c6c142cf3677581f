import { ExshError } from '../errors.js';
import { seededRng, systemRng, type Rng } from '../random.js';
import type { DeviceContext } from './context.js';
import { DeviceStore } from './store.js';
import { SCHEMA_VERSION, SOFTWARE_VERSION, type Brand, type DeviceState, type ProductType } from './state.js';

export interface DeviceOptions {
  home: string;
  name: string;
  /** --now: the pinned base time; the stored offset is added to it (§5.4). */
  now?: Date;
  /** --seed: deterministic identities and nonces (§5.5). */
  seed?: string;
  lockTimeoutMs?: number;
  /** The real clock, injectable for tests. */
  realClock?: () => number;
  /** Brand and type of a device created on first use. */
  createAs?: { brand?: Brand; type?: ProductType };
}

type CatchUp = (ctx: DeviceContext) => void;
const catchUps: CatchUp[] = [];

/**
 * Lazy evaluation (§5.4): before any command runs, the device catches up with what
 * became due (renewals, expiries, alarms). Subsystems register one function each;
 * they run in registration order on the working copy.
 */
export function registerCatchUp(fn: CatchUp): void {
  catchUps.push(fn);
}

type Initialiser = (state: DeviceState) => void;
const initialisers: Initialiser[] = [];
/** Subsystems add their section's defaults to a new device (and after a factory reset). */
export function registerInitialiser(fn: Initialiser): void {
  initialisers.push(fn);
}

export function hex(bytes: Buffer, upper: boolean): string {
  const h = bytes.toString('hex');
  return upper ? h.toUpperCase() : h;
}

/** A brand-new device state: identity drawn from rng, factory defaults everywhere else. */
export function newDeviceState(rng: Rng, at: Date, brand: Brand = 'Expressway', type: ProductType = 'ExpresswayC'): DeviceState {
  const iso = at.toISOString();
  const state: DeviceState = {
    schemaVersion: SCHEMA_VERSION,
    identity: {
      pid: 'Expressway',
      serial: hex(rng.bytes(4), true),
      vid: '1.0',
      hostId: hex(rng.bytes(4), false),
      productType: 'EXPY',
    },
    brand,
    type,
    software: SOFTWARE_VERSION,
    createdAt: iso,
    bootedAt: iso,
    clock: { offsetMs: 0 },
    generation: 0,
    config: {},
    licensing: { evaluationStartedAt: iso },
    alarms: [],
  };
  for (const init of initialisers) init(state);
  return state;
}

export class Device {
  readonly name: string;
  readonly home: string;
  readonly store: DeviceStore;
  private readonly pinned?: Date;
  private readonly seed?: string;
  private readonly realClock: () => number;
  private readonly createAs: { brand?: Brand; type?: ProductType };

  constructor(opts: DeviceOptions) {
    this.name = opts.name;
    this.home = opts.home;
    this.store = new DeviceStore(opts.home, opts.name, { lockTimeoutMs: opts.lockTimeoutMs });
    this.pinned = opts.now;
    this.seed = opts.seed;
    this.realClock = opts.realClock ?? Date.now;
    this.createAs = opts.createAs ?? {};
  }

  /** The base of the simulated clock: --now if given, else real time. */
  baseTime(): number {
    return this.pinned ? this.pinned.getTime() : this.realClock();
  }

  nowFor(state: DeviceState): Date {
    return new Date(this.baseTime() + state.clock.offsetMs);
  }

  private rngFor(state: DeviceState, purpose: string): Rng {
    return this.seed === undefined ? systemRng : seededRng(this.seed, `${this.name}/${purpose}/${state.generation}`);
  }

  /** Creates the device on first use (§5.1), under the lock. */
  ensure(): DeviceState {
    const existing = this.store.read();
    if (existing) return existing;
    return this.store.withLock(() => {
      const again = this.store.read();
      if (again) return again;
      const rng = this.seed === undefined ? systemRng : seededRng(this.seed, `identity/${this.name}`);
      const state = newDeviceState(rng, new Date(this.baseTime()), this.createAs.brand, this.createAs.type);
      this.store.write(state);
      return state;
    });
  }

  private context(state: DeviceState, purpose: string): DeviceContext {
    return {
      deviceName: this.name,
      home: this.home,
      state,
      now: () => this.nowFor(state),
      rng: this.rngFor(state, purpose),
    };
  }

  /**
   * A read-only view: a working copy caught up to now, never written. Reads stay
   * lock-free; what became due is persisted by the next write.
   */
  view<T>(fn: (ctx: DeviceContext) => T): T {
    const base = this.tx ? this.tx.draft : this.ensure();
    if (catchUps.length === 0) return fn(this.context(base, 'read'));
    const ctx = this.context(structuredClone(base), 'read');
    for (const c of catchUps) c(ctx);
    return fn(ctx);
  }

  /**
   * Runs a state change under the lock on a fresh working copy and writes it before
   * returning. If fn throws, nothing is written.
   */
  mutate<T>(fn: (ctx: DeviceContext) => T): T {
    if (this.batching) {
      const tx = this.tx ?? this.begin();
      const before = JSON.stringify(tx.draft);
      const draft = structuredClone(tx.draft);
      const result = this.apply(draft, fn);
      if (JSON.stringify(draft) !== before) {
        draft.generation += 1;
        tx.draft = draft;
        tx.dirty = true;
      }
      return result;
    }
    this.ensure();
    return this.store.withLock(() => {
      const current = this.load();
      const before = JSON.stringify(current);
      const draft = structuredClone(current);
      const result = this.apply(draft, fn);
      if (JSON.stringify(draft) !== before) {
        draft.generation = current.generation + 1;
        this.store.write(draft);
      }
      return result;
    });
  }

  private apply<T>(draft: DeviceState, fn: (ctx: DeviceContext) => T): T {
    const ctx = this.context(draft, 'write');
    for (const c of catchUps) c(ctx);
    const result = fn(ctx);
    // Again after the change, so what it made due (an alarm cleared by setting the DNS
    // domain) is written now rather than by the next write.
    for (const c of catchUps) c(ctx);
    return result;
  }

  private load(): DeviceState {
    const current = this.store.read();
    if (!current) throw new ExshError('device.gone', `Device '${this.name}' was removed by another process.`, 3);
    return current;
  }

  private batching = false;
  private tx: { draft: DeviceState; dirty: boolean } | undefined;

  private begin(): { draft: DeviceState; dirty: boolean } {
    this.ensure();
    this.store.lock();
    try {
      this.tx = { draft: structuredClone(this.load()), dirty: false };
    } catch (e) {
      this.store.unlock();
      throw e;
    }
    return this.tx;
  }

  /**
   * Group commit for a burst of requests (one chunk of batch input): the first state
   * change takes the lock, later ones in the burst apply to the same working copy
   * (each still all-or-nothing, each advancing the generation exactly as single
   * writes would), and one atomic write lands before any of the burst's replies is
   * printed. Other processes wait on the lock meanwhile, so no update is lost.
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    if (this.batching) return fn();
    this.batching = true;
    try {
      return await fn();
    } finally {
      this.batching = false;
      const tx = this.tx;
      this.tx = undefined;
      if (tx) {
        try {
          if (tx.dirty) this.store.write(tx.draft);
        } finally {
          this.store.unlock();
        }
      }
    }
  }
}
