import { CLOCK_END } from '../clock.js';
import { nestsDeeperThan } from '../text.js';
import { usageError } from '../errors.js';
import { seededRng, systemRng, type Rng } from '../random.js';
import { DocumentProblem, DocumentStore, type OpenTransaction, type StoreOptions, type WriteTx } from '../store/documents.js';
import { WorkingState, workingContext, type DeviceContext } from './context.js';
import type { DeviceModel, RemoteIo } from './model.js';
import { deepFreeze, isObject, SCHEMA_VERSION, type Brand, type DeviceState, type ProductType, MAX_JSON_DEPTH } from './state.js';

export interface DeviceOptions extends StoreOptions {
  home: string;
  name: string;
  model: DeviceModel;
  /** --now: the pinned base time; the stored offset is added to it (§5.4). */
  now?: Date;
  /** --seed: deterministic identities and nonces (§5.5). */
  seed?: string;
  /** The real clock, injectable for tests. */
  realClock?: () => number;
  /** Brand and type of a device created on first use. */
  createAs?: { brand?: Brand; type?: ProductType };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateDeviceName(name: string): void {
  if (!NAME.test(name)) {
    throw usageError('device.badName', `Invalid device name '${name}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`);
  }
}

/** migrations[n] turns a version-n document into version n+1. */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

/** The device store's codec: JSON text ⇄ a validated, frozen DeviceState (§5.2). */
export function deviceCodec(model: DeviceModel) {
  return {
    decode(text: string): DeviceState {
      if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new DocumentProblem(`it nests deeper than ${MAX_JSON_DEPTH} levels, as no device does`);
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (e) {
        throw new DocumentProblem(`it is not valid JSON: ${(e as Error).message}`);
      }
      if (!isObject(raw) || typeof raw.schemaVersion !== 'number') throw new DocumentProblem('schemaVersion is missing');
      if (raw.schemaVersion > SCHEMA_VERSION) {
        throw new DocumentProblem(`it was written by a newer exsh (schema ${raw.schemaVersion})`, raw.schemaVersion);
      }
      let doc = raw;
      while ((doc.schemaVersion as number) < SCHEMA_VERSION) {
        const from = doc.schemaVersion as number;
        const m = MIGRATIONS[from];
        if (!m) throw new DocumentProblem(`no migration from schema version ${from}`);
        doc = { ...m(doc), schemaVersion: from + 1 };
      }
      const problem = model.problem(doc);
      if (problem) throw new DocumentProblem(problem);
      return deepFreeze(doc as DeviceState);
    },
    encode: (doc: DeviceState) => JSON.stringify(doc),
  };
}

export type DeviceStore = DocumentStore<DeviceState>;

/** At most this many remote attempts before one request (a clock moved decades ahead, out of compliance every 12 hours). */
const MAX_REMOTE_ATTEMPTS = 20_000;

export async function openDeviceStore(home: string, model: DeviceModel, opts: StoreOptions = {}): Promise<DeviceStore> {
  return DocumentStore.open(home, deviceCodec(model), opts);
}

/** A change's outcome: the handler's result, and whether the state changed. */
export interface Changed<T> {
  result: T;
  changed: boolean;
}

/**
 * A simulated device: reads and changes of its state through the home's store, with
 * the simulated clock, seeded randomness and the model's catch-up steps.
 *
 * - `view` gives a read a context on the committed state (or the burst's draft); only
 *   when a catch-up step is due is a working copy made, and it is never written.
 * - `change` runs a handler on a working copy inside a write transaction and commits
 *   before returning; a handler that throws leaves nothing behind.
 * - `burst` groups the changes of many requests into one transaction (group commit of
 *   batch input); `flush` commits what the burst has so far, before anything that waits
 *   on the outside world (a question to the operator, the network).
 */
export class Device {
  readonly name: string;
  readonly home: string;
  readonly model: DeviceModel;
  readonly store: DeviceStore;
  private readonly pinned?: Date;
  private readonly seed?: string;
  private readonly realClock: () => number;
  private readonly createAs: { brand?: Brand; type?: ProductType };
  private bursting = false;
  /** What a burst's reads see before its first change: one snapshot for the whole burst. */
  private snapshot: DeviceState | undefined;
  private tx: { open: OpenTransaction<DeviceState>; draft: DeviceState; dirty: boolean } | undefined;
  /** Set when this object created the device on first use. */
  created = false;
  /** Told when the device is created on first use, with how many devices the home held before. */
  onCreate: ((othersInHome: number) => void) | undefined;
  /** The store has been asked for this device once (which imports a legacy JSON store). */
  private settled = false;
  /**
   * What the front end gives the device for the outside world (a RemoteEnv: the link to
   * the CSSM). Without it, attempts that fall due wait for a front end that has one.
   */
  services: unknown;
  private syncing = false;

  private constructor(opts: DeviceOptions, store: DeviceStore) {
    this.name = opts.name;
    this.home = opts.home;
    this.model = opts.model;
    this.store = store;
    this.pinned = opts.now;
    this.seed = opts.seed;
    this.realClock = opts.realClock ?? Date.now;
    this.createAs = opts.createAs ?? {};
  }

  static async open(opts: DeviceOptions): Promise<Device> {
    validateDeviceName(opts.name);
    const store = await openDeviceStore(opts.home, opts.model, opts);
    return new Device(opts, store);
  }

  /** The base of the simulated clock: --now if given, else real time. */
  baseTime(): number {
    return this.pinned ? this.pinned.getTime() : this.realClock();
  }

  /** The simulated clock: the base plus the stored offset, never past the end of year 9999. */
  nowFor(state: DeviceState): Date {
    return new Date(Math.min(this.baseTime() + state.clock.offsetMs, CLOCK_END));
  }

  private rngFor(state: DeviceState, purpose: string): Rng {
    return this.seed === undefined ? systemRng : seededRng(this.seed, `${this.name}/${purpose}/${state.generation}`);
  }

  private fresh(): DeviceState {
    const rng = this.seed === undefined ? systemRng : seededRng(this.seed, `identity/${this.name}`);
    return deepFreeze(this.model.newState(rng, new Date(this.baseTime()), this.createAs.brand, this.createAs.type));
  }

  /** Whether the device exists in the store (it is created on first use otherwise). */
  async exists(): Promise<boolean> {
    return this.tx !== undefined || (await this.store.read(this.name)) !== undefined;
  }

  /** The current state (the burst's draft, or what is committed), creating the device on first use (§5.1). */
  async read(): Promise<DeviceState> {
    if (this.tx) return this.tx.draft;
    if (this.snapshot) return this.snapshot;
    const stored = await this.store.read(this.name);
    this.settled = true;
    if (stored) {
      // A burst runs as of its start: its reads need not ask the database again.
      if (this.bursting) this.snapshot = stored.doc;
      return stored.doc;
    }
    return this.store.transaction((tx) => {
      const again = tx.get(this.name);
      if (again) return again.doc;
      const state = this.fresh();
      this.createdIn(tx);
      tx.put(this.name, state);
      return state;
    });
  }

  private context(work: WorkingState, purpose: string): DeviceContext {
    return workingContext(work, this.name, (state) => this.nowFor(state), this.rngFor(work.state, purpose));
  }

  private readContext(state: DeviceState): DeviceContext {
    const refuse = (): never => {
      throw new Error('a read cannot change the device state');
    };
    return {
      deviceName: this.name,
      state,
      now: () => this.nowFor(state),
      rng: this.rngFor(state, 'read'),
      edit: refuse as DeviceContext['edit'],
      setConfig: refuse,
      replace: refuse,
    };
  }

  private catchUp(ctx: DeviceContext): void {
    for (const step of this.model.catchUps) if (step.due(ctx.state, ctx.now())) step.run(ctx);
  }

  /**
   * Makes every remote attempt that fell due (§9.3), earliest first, before a request
   * runs. A burst's changes are committed first: nothing waits on the network with the
   * lock held. Bounded, so a clock moved years ahead cannot loop for ever. `known` is
   * the state the caller has just read; true when an attempt was made.
   */
  async syncRemote(known?: DeviceState): Promise<boolean> {
    if (this.syncing || this.services === undefined || this.model.remoteSteps.length === 0) return false;
    this.syncing = true;
    let ran = false;
    try {
      const io: RemoteIo = { services: this.services, read: (fn) => this.view(fn), change: async (fn) => (await this.change(fn)).result };
      let base = known ?? (await this.read());
      for (let i = 0; i < MAX_REMOTE_ATTEMPTS; i++) {
        const now = this.nowFor(base);
        const step = this.model.remoteSteps.find((s) => s.due(base, now));
        if (!step) break;
        if (this.bursting) this.flush();
        await step.run(io);
        ran = true;
        base = await this.read();
      }
    } finally {
      this.syncing = false;
    }
    return ran;
  }

  /**
   * Runs a read on the state caught up to now. Reads take no lock; what a catch-up makes
   * due is persisted by the next change.
   */
  async view<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<T> {
    let base = await this.read();
    if (await this.syncRemote(base)) base = await this.read();
    const now = this.nowFor(base);
    if (!this.model.catchUps.some((s) => s.due(base, now))) return fn(this.readContext(base));
    const work = new WorkingState(base);
    const ctx = this.context(work, 'read');
    this.catchUp(ctx);
    return fn(ctx);
  }

  /**
   * A read on the state as it is now, synchronously (Tab completion must answer within
   * the keypress): the burst's draft or the committed document; undefined if there is none yet.
   */
  viewNow<T>(fn: (ctx: DeviceContext) => T): T | undefined {
    const base = this.tx?.draft ?? this.snapshot ?? this.store.peek(this.name)?.doc;
    if (!base) return undefined;
    const now = this.nowFor(base);
    if (!this.model.catchUps.some((s) => s.due(base, now))) return fn(this.readContext(base));
    const ctx = this.context(new WorkingState(base), 'read');
    this.catchUp(ctx);
    return fn(ctx);
  }

  private async apply<T>(base: DeviceState, fn: (ctx: DeviceContext) => T | Promise<T>): Promise<{ result: T; next: DeviceState }> {
    const work = new WorkingState(base);
    const ctx = this.context(work, 'write');
    this.catchUp(ctx);
    const result = await fn(ctx);
    // Again after the change, so what it made due (an alarm cleared by setting the DNS
    // domain) is written now rather than by the next change.
    this.catchUp(ctx);
    return { result, next: work.finish() };
  }

  /**
   * Runs a state change: inside the burst's transaction when one is open, else in a
   * transaction of its own, committed before this returns. If fn throws, nothing changes.
   */
  async change<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<Changed<T>> {
    await this.syncRemote();
    const out = await this.changeNow(fn);
    // What the change made due (the clock moved on) happens before its OK.
    if (out.changed) await this.syncRemote();
    return out;
  }

  private async changeNow<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<Changed<T>> {
    if (this.bursting) {
      const tx = this.tx ?? (await this.beginBurstTx());
      const { result, next } = await this.apply(tx.draft, fn);
      const changed = next !== tx.draft;
      if (changed) {
        tx.draft = next;
        tx.dirty = true;
      }
      return { result, changed };
    }
    await this.settle();
    let changed = false;
    const result = await this.store.transaction(async (tx) => {
      const stored = tx.get(this.name);
      const base = stored?.doc ?? this.fresh();
      const out = await this.apply(base, fn);
      changed = out.next !== base;
      if (!stored) this.createdIn(tx);
      if (changed || !stored) tx.put(this.name, out.next);
      return out.result;
    });
    return { result, changed };
  }

  /**
   * A change of this device and, through `ctx.peer(name)`, of other devices of the home in
   * the same transaction (§10: a cluster's loans, its creation and removal). A burst is
   * committed first; the change is committed on its own before this returns.
   */
  async changeWithPeers<T>(fn: (ctx: DeviceContext) => T | Promise<T>): Promise<Changed<T>> {
    await this.syncRemote();
    if (this.bursting) this.flush();
    await this.settle();
    let changed = false;
    const result = await this.store.transaction(async (tx) => {
      const stored = tx.get(this.name);
      const base = stored?.doc ?? this.fresh();
      const peers = new Map<string, { work: WorkingState; ctx: DeviceContext; base: DeviceState }>();
      const open = (name: string): DeviceContext | undefined => {
        if (name === this.name) return ctx;
        const known = peers.get(name);
        if (known) return known.ctx;
        const doc = tx.get(name)?.doc;
        if (!doc) return undefined;
        const work = new WorkingState(doc);
        const peerCtx = workingContext(work, name, (state) => this.nowFor(state), this.rngFor(doc, `peer/${this.name}`), open);
        this.catchUp(peerCtx);
        peers.set(name, { work, ctx: peerCtx, base: doc });
        return peerCtx;
      };
      const work = new WorkingState(base);
      const ctx = workingContext(work, this.name, (state) => this.nowFor(state), this.rngFor(base, 'write'), open);
      this.catchUp(ctx);
      const out = await fn(ctx);
      this.catchUp(ctx);
      const next = work.finish();
      changed = next !== base;
      if (!stored) this.createdIn(tx);
      if (changed || !stored) tx.put(this.name, next);
      for (const [name, peer] of peers) {
        this.catchUp(peer.ctx);
        const doc = peer.work.finish();
        if (doc !== peer.base) {
          tx.put(name, doc);
          changed = true;
        }
      }
      return out;
    });
    if (changed) await this.syncRemote();
    return { result, changed };
  }

  private createdIn(tx: WriteTx<DeviceState>): void {
    this.created = true;
    this.onCreate?.(tx.count());
  }

  /** Before the first change: a device kept by an earlier version is imported (or refused) first. */
  private async settle(): Promise<void> {
    if (this.settled) return;
    await this.store.read(this.name);
    this.settled = true;
  }

  private async beginBurstTx() {
    await this.settle();
    const open = await this.store.begin();
    try {
      const stored = open.access.get(this.name);
      const draft = stored?.doc ?? this.fresh();
      if (!stored) this.createdIn(open.access);
      this.tx = { open, draft, dirty: !stored };
      return this.tx;
    } catch (e) {
      open.rollback();
      throw e;
    }
  }

  /**
   * Group commit (§12): the changes made while fn runs share one transaction, taken at
   * the first change and committed when fn returns (or at flush()), before the caller
   * prints any of their replies. Each change is still all-or-nothing and advances the
   * generation exactly as a change of its own would.
   */
  async burst<T>(fn: () => Promise<T>): Promise<T> {
    if (this.bursting) return fn();
    this.bursting = true;
    try {
      const result = await fn();
      this.flush();
      return result;
    } catch (e) {
      this.abandon();
      throw e;
    } finally {
      this.bursting = false;
      this.snapshot = undefined;
    }
  }

  /** Commits the burst's changes so far (synchronously) and releases the lock. */
  flush(): void {
    this.snapshot = undefined;
    const tx = this.tx;
    if (!tx) return;
    this.tx = undefined;
    try {
      if (tx.dirty) tx.open.access.put(this.name, tx.draft);
    } catch (e) {
      tx.open.rollback();
      throw e;
    }
    tx.open.commit();
  }

  /** Drops the burst's uncommitted changes. */
  private abandon(): void {
    const tx = this.tx;
    this.tx = undefined;
    tx?.open.rollback();
  }

  /** True while a burst holds changes that are not committed yet. */
  get pending(): boolean {
    return this.tx?.dirty === true;
  }

  /** Removes the device from the store; false when there was none. */
  async remove(): Promise<boolean> {
    if (this.bursting) this.flush();
    return this.store.transaction((tx) => tx.remove(this.name));
  }
}
