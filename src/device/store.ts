import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExshError, storeError } from '../errors.js';
import { SCHEMA_VERSION, type DeviceState } from './state.js';

/**
 * One JSON store per device (§5.2): versioned, validated on every read, written
 * atomically (temp file, fsync, rename) before the command's OK is printed, guarded
 * by a cross-process lock, and never overwritten when it cannot be read.
 *
 * conf was measured first (import plus its ajv schema compile took ~90 ms, twice
 * `node -e 0` on its own, which breaks §11's one-shot bar), so this module does the
 * same job without it; the default home directory is still conf's (env-paths).
 */

export interface StoreOptions {
  /** How long to wait for another process's lock before giving up (exit 3). */
  lockTimeoutMs?: number;
}

type Validator = (state: DeviceState) => string | undefined;
type Migration = (state: Record<string, unknown>) => Record<string, unknown>;

const validators: Validator[] = [];
/** migrations[n] turns a version-n document into version n+1. */
const migrations: Record<number, Migration> = {};

/** Subsystems add checks for their own sections; a failed check means "corrupt". */
export function registerStateValidator(v: Validator): void {
  validators.push(v);
}

export function registerMigration(fromVersion: number, m: Migration): void {
  migrations[fromVersion] = m;
}

/**
 * mkdir -p with a mode, one level at a time. Node 20's `mkdirSync(…, {recursive: true})`
 * spins forever when a parent cannot be created on some file systems (/proc); a hang is
 * the one failure exsh must never have.
 */
export function ensureDir(dir: string, mode = 0o700): void {
  try {
    mkdirSync(dir, { mode });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw e;
    const parent = dirname(dir);
    if (parent === dir) throw e;
    ensureDir(parent, mode);
    try {
      mkdirSync(dir, { mode });
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
    }
  }
}

/**
 * Writes a file so that readers see the old or the new content, never a mix: a 0600
 * temp file beside it, fsync, rename. Used for stores, keys and backups.
 */
export function writePrivateFile(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}

export function deviceFile(home: string, name: string): string {
  return join(home, 'devices', `${name}.json`);
}

export function validateDeviceName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new ExshError(
      'device.badName',
      `Invalid device name '${name}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
      2,
    );
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural checks of the core document; subsystems add their own. */
export function validateState(raw: unknown): string | undefined {
  if (!isObject(raw)) return 'the document is not an object';
  const s = raw as Partial<DeviceState>;
  if (!isObject(s.identity)) return 'identity is missing';
  const id = s.identity as unknown as Record<string, unknown>;
  for (const k of ['pid', 'serial', 'vid', 'hostId', 'productType']) {
    if (typeof id[k] !== 'string') return `identity.${k} is missing`;
  }
  if (s.brand !== 'Expressway' && s.brand !== 'VCS') return 'brand is invalid';
  if (s.type !== 'ExpresswayC' && s.type !== 'ExpresswayE') return 'type is invalid';
  if (typeof s.software !== 'string') return 'software is invalid';
  for (const k of ['createdAt', 'bootedAt'] as const) {
    if (typeof s[k] !== 'string' || Number.isNaN(Date.parse(s[k] as string))) return `${k} is not a time`;
  }
  if (!isObject(s.clock) || typeof s.clock.offsetMs !== 'number' || !Number.isFinite(s.clock.offsetMs)) {
    return 'clock.offsetMs is invalid';
  }
  if (typeof s.generation !== 'number') return 'generation is invalid';
  if (!isObject(s.config)) return 'config is not an object';
  for (const [k, v] of Object.entries(s.config)) {
    if (typeof v !== 'string' && typeof v !== 'number') return `config '${k}' is not a scalar`;
  }
  if (!isObject(s.licensing) || typeof s.licensing.evaluationStartedAt !== 'string') return 'licensing is invalid';
  if (!Array.isArray(s.alarms)) return 'alarms is not a list';
  for (const v of validators) {
    const err = v(s as DeviceState);
    if (err) return err;
  }
  return undefined;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DeviceStore {
  readonly file: string;
  readonly lockFile: string;
  private readonly lockTimeoutMs: number;
  private cache: { key: string; state: DeviceState } | undefined;
  private lockDepth = 0;

  constructor(home: string, name: string, opts: StoreOptions = {}) {
    validateDeviceName(name);
    this.file = deviceFile(home, name);
    this.lockFile = `${this.file}.lock`;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 10_000;
  }

  exists(): boolean {
    return statSync(this.file, { throwIfNoEntry: false }) !== undefined;
  }

  /**
   * The current state, re-read only when the file changed (inode, size, mtime).
   * The returned object is shared: treat it as read-only.
   */
  read(): DeviceState | undefined {
    let st: BigIntStats | undefined;
    try {
      st = statSync(this.file, { bigint: true, throwIfNoEntry: false });
    } catch (e) {
      throw this.unreadable(e);
    }
    if (!st) {
      this.cache = undefined;
      return undefined;
    }
    const key = `${st.ino}:${st.size}:${st.mtimeNs}`;
    if (this.cache?.key === key) return this.cache.state;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw this.unreadable(e);
    }
    const state = this.parse(text);
    this.cache = { key, state };
    return state;
  }

  private parse(text: string): DeviceState {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw this.corrupt(`it is not valid JSON: ${(e as Error).message}`);
    }
    if (!isObject(raw) || typeof raw.schemaVersion !== 'number') throw this.corrupt('schemaVersion is missing');
    let doc = raw;
    if ((doc.schemaVersion as number) > SCHEMA_VERSION) {
      throw storeError(
        'store.newerVersion',
        `The device store ${this.file} was written by a newer exsh (schema ${String(doc.schemaVersion)}); upgrade exsh to use it. The file was left untouched.`,
      );
    }
    while ((doc.schemaVersion as number) < SCHEMA_VERSION) {
      const from = doc.schemaVersion as number;
      const m = migrations[from];
      if (!m) throw this.corrupt(`no migration from schema version ${from}`);
      doc = { ...m(doc), schemaVersion: from + 1 };
    }
    const err = validateState(doc);
    if (err) throw this.corrupt(err);
    return doc as DeviceState;
  }

  private corrupt(detail: string): ExshError {
    return storeError(
      'store.corrupt',
      `The device store ${this.file} is corrupt (${detail}). It was left untouched: move it aside to start this device afresh, or restore it from a backup.`,
    );
  }

  private unreadable(e: unknown): ExshError {
    return storeError('store.unreadable', `The device store ${this.file} cannot be read: ${(e as Error).message}.`);
  }

  /** Runs fn holding the cross-process lock (re-entrant within this process). */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Takes the cross-process lock (re-entrant); pair every call with unlock(). */
  lock(): void {
    if (this.lockDepth === 0) this.acquire();
    this.lockDepth++;
  }

  unlock(): void {
    if (this.lockDepth === 0) return;
    this.lockDepth--;
    if (this.lockDepth === 0) this.release();
  }

  private acquire(): void {
    try {
      ensureDir(dirname(this.file));
    } catch (e) {
      throw this.unreadable(e);
    }
    const deadline = Date.now() + this.lockTimeoutMs;
    let delay = 1;
    for (;;) {
      try {
        const fd = openSync(this.lockFile, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw this.unreadable(e);
      }
      const holder = this.lockHolder();
      if (holder !== undefined && !pidAlive(holder)) {
        // A crashed process left its lock behind: its pid is gone, so nobody holds it.
        try {
          unlinkSync(this.lockFile);
        } catch {
          /* another process removed it first */
        }
        continue;
      }
      if (Date.now() >= deadline) {
        throw storeError(
          'store.locked',
          `The device store ${this.file} is locked by another exsh process${holder ? ` (pid ${holder})` : ''}; gave up after ${this.lockTimeoutMs} ms. If no exsh is running, remove ${this.lockFile}.`,
        );
      }
      sleepMs(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 20);
    }
  }

  private lockHolder(): number | undefined {
    try {
      const pid = Number(readFileSync(this.lockFile, 'utf8'));
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private release(): void {
    try {
      unlinkSync(this.lockFile);
    } catch {
      /* already gone */
    }
  }

  /** Atomic write of the whole state. Call under the lock. */
  write(state: DeviceState): void {
    ensureDir(dirname(this.file));
    writePrivateFile(this.file, `${JSON.stringify(state, null, 2)}\n`);
    this.cache = undefined;
  }

  /** Removes the store (under the lock). */
  remove(): boolean {
    return this.withLock(() => {
      try {
        unlinkSync(this.file);
        this.cache = undefined;
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw this.unreadable(e);
      }
    });
  }
}
