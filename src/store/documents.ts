import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError, storeError } from '../errors.js';
import { prepareHome, privateFileProblem, readFileCapped } from '../files.js';
import { Mutex, sleep } from './mutex.js';
import { isBusy, openSqlite, translateSqliteError, tryWal, type Db } from './sqlite.js';

/**
 * The device store (§5.2, §12): one SQLite database per home, one row per device
 * holding its state as one validated JSON document. Writers take SQLite's write lock
 * with BEGIN IMMEDIATE, polled asynchronously so the event loop never blocks; the
 * kernel drops a dead process's lock; a commit is durable before it returns. The store
 * knows nothing of devices: the codec it is given parses, validates and serialises.
 *
 * Devices kept by earlier versions as `<home>/devices/<name>.json` are imported the
 * first time each is used, and the JSON files are left as they were.
 */

export const DATABASE_FILE = 'exsh.sqlite';
const SCHEMA_VERSION = 1;
const MAX_LEGACY_BYTES = 64 * 1024 * 1024;

/** A document's problem, as a sentence fragment ("clock.offsetMs is invalid"). */
export class DocumentProblem extends Error {
  /** Set when the document is of a newer schema than this exsh reads. */
  readonly newerSchema: number | undefined;

  constructor(message: string, newerSchema?: number) {
    super(message);
    this.newerSchema = newerSchema;
  }
}

function newerVersion(where: string, schema: number): StoreError {
  return storeError(
    'store.newerVersion',
    `The device store ${where} was written by a newer exsh (schema ${schema}); upgrade exsh to use it. It was left untouched.`,
  );
}

export interface DocumentCodec<T> {
  /** Parses, migrates and validates; throws DocumentProblem (or StoreError) when it cannot. */
  decode(text: string): T;
  encode(doc: T): string;
}

export interface Stored<T> {
  doc: T;
  /** Changes on every write of the row; with the row id it keys the read cache. */
  revision: number;
}

export interface StoreOptions {
  /** How long a writer waits for another process's transaction before giving up (exit 3). */
  lockTimeoutMs?: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

const SCHEMA = `
  CREATE TABLE device (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    revision INTEGER NOT NULL,
    document TEXT NOT NULL
  );
  -- Legacy JSON stores already imported: a device removed later is not imported again.
  CREATE TABLE legacy_import (
    name TEXT PRIMARY KEY,
    file TEXT NOT NULL
  );
`;

interface Row {
  id: number;
  revision: number;
  document: string | null;
}

/** One open write transaction. Every call is synchronous: nothing can interleave. */
export interface WriteTx<T> {
  get(name: string): Stored<T> | undefined;
  put(name: string, doc: T): void;
  remove(name: string): boolean;
  /** How many documents the store holds. */
  count(): number;
  /** A document's stored text, not decoded (a corrupt one being replaced), or undefined. */
  raw(name: string): string | undefined;
}

const open = new Map<string, DocumentStore<unknown>>();

export class DocumentStore<T> {
  readonly path: string;
  readonly home: string;
  private readonly db: Db;
  private readonly codec: DocumentCodec<T>;
  private readonly lockTimeoutMs: number;
  private readonly mutex = new Mutex();
  private readonly cache = new Map<string, { id: number; stored: Stored<T> }>();
  private readonly statements: ReturnType<DocumentStore<T>['prepare']>;

  private constructor(home: string, db: Db, codec: DocumentCodec<T>, lockTimeoutMs: number) {
    this.home = home;
    this.path = join(home, DATABASE_FILE);
    this.db = db;
    this.codec = codec;
    this.lockTimeoutMs = lockTimeoutMs;
    this.statements = this.prepare();
  }

  /**
   * The store of a home, opened (and created, with the home, if missing) once per
   * process. The home must be the current user's and private (files.ts).
   */
  static async open<T>(home: string, codec: DocumentCodec<T>, opts: StoreOptions = {}): Promise<DocumentStore<T>> {
    const path = join(home, DATABASE_FILE);
    const cached = open.get(path);
    if (cached) return cached as DocumentStore<T>;
    prepareHome(home);
    const lockTimeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    const db = openSqlite(path, { busyTimeoutMs: 0, openTimeoutMs: lockTimeoutMs, what: 'The device store' });
    try {
      const deadline = Date.now() + lockTimeoutMs;
      while (!tryWal(db)) await waitOrGiveUp(path, deadline, lockTimeoutMs);
      await initialise(db, path, deadline, lockTimeoutMs);
      // From here on no call waits inside SQLite: writers poll for the lock (begin()).
      db.pragma('busy_timeout = 0');
    } catch (e) {
      db.close();
      throw translateSqliteError(path, e, 'The device store');
    }
    const store = new DocumentStore(home, db, codec, lockTimeoutMs);
    open.set(path, store as DocumentStore<unknown>);
    return store;
  }

  /** Closes every store this process opened (tests). */
  static closeAll(): void {
    for (const s of open.values()) s.db.close();
    open.clear();
  }

  private prepare() {
    return {
      read: this.db.prepare<[number, number, string], Row>(
        'SELECT id, revision, CASE WHEN id = ? AND revision = ? THEN NULL ELSE document END AS document FROM device WHERE name = ?',
      ),
      insert: this.db.prepare<[string, string]>('INSERT INTO device (name, revision, document) VALUES (?, 1, ?)'),
      update: this.db.prepare<[string, string]>('UPDATE device SET revision = revision + 1, document = ? WHERE name = ?'),
      identify: this.db.prepare<[string], { id: number; revision: number }>('SELECT id, revision FROM device WHERE name = ?'),
      remove: this.db.prepare<[string]>('DELETE FROM device WHERE name = ?'),
      names: this.db.prepare<[], { name: string }>('SELECT name FROM device ORDER BY name'),
      count: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM device'),
      raw: this.db.prepare<[string], { document: string }>('SELECT document FROM device WHERE name = ?'),
      imported: this.db.prepare<[string], { file: string }>('SELECT file FROM legacy_import WHERE name = ?'),
      recordImport: this.db.prepare<[string, string]>('INSERT OR REPLACE INTO legacy_import (name, file) VALUES (?, ?)'),
    };
  }

  /** The committed document of a device, or undefined when there is none. Decoded once per revision. */
  async read(name: string): Promise<Stored<T> | undefined> {
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      try {
        const found = this.readRow(name);
        if (found !== undefined) return found;
        break;
      } catch (e) {
        if (!isBusy(e)) throw this.translate(e);
        await waitOrGiveUp(this.path, deadline, this.lockTimeoutMs);
      }
    }
    return this.importLegacy(name);
  }

  /**
   * The committed document, read synchronously and without waiting (undefined when there
   * is none, or the database is busy): for what cannot wait, such as Tab completion.
   */
  peek(name: string): Stored<T> | undefined {
    try {
      return this.readRow(name);
    } catch (e) {
      if (isBusy(e)) return undefined;
      throw this.translate(e);
    }
  }

  private readRow(name: string): Stored<T> | undefined {
    const hit = this.cache.get(name);
    const row = this.statements.read.get(hit?.id ?? 0, hit?.stored.revision ?? 0, name);
    if (!row) {
      this.cache.delete(name);
      return undefined;
    }
    if (row.document === null && hit) return hit.stored;
    const stored = { doc: this.decodeRow(name, row.document ?? ''), revision: row.revision };
    this.cache.set(name, { id: row.id, stored });
    return stored;
  }

  private decodeRow(name: string, text: string): T {
    try {
      return this.codec.decode(text);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      if (e instanceof DocumentProblem) {
        if (e.newerSchema !== undefined) throw newerVersion(`${this.path} (device '${name}')`, e.newerSchema);
        throw storeError(
          'store.corrupt',
          `The device store ${this.path} holds a corrupt document for device '${name}' (${e.message}). It was left untouched: remove the device (exsh devices remove ${name}) to start it afresh, or restore it from a backup.`,
        );
      }
      throw e;
    }
  }

  /** Names of every device: those in the database and those still to import. */
  async names(): Promise<string[]> {
    for (const name of this.legacyNames()) await this.importLegacy(name);
    return this.retryRead(() => this.statements.names.all().map((r) => r.name));
  }

  private async retryRead<R>(fn: () => R): Promise<R> {
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      try {
        return fn();
      } catch (e) {
        if (!isBusy(e)) throw this.translate(e);
        await waitOrGiveUp(this.path, deadline, this.lockTimeoutMs);
      }
    }
  }

  /**
   * Runs fn inside one write transaction: the in-process mutex, then SQLite's write lock
   * (BEGIN IMMEDIATE, retried without blocking until the lock timeout). fn may await
   * local work; it must not await the network (§12). The transaction commits when fn
   * returns, and rolls back when it throws.
   */
  async transaction<R>(fn: (tx: WriteTx<T>) => R | Promise<R>): Promise<R> {
    const tx = await this.begin();
    let result: R;
    try {
      result = await fn(tx.access);
    } catch (e) {
      tx.rollback();
      throw e;
    }
    tx.commit();
    return result;
  }

  /** An open transaction held across several requests (group commit); see transaction(). */
  async begin(): Promise<OpenTransaction<T>> {
    const release = await this.mutex.lock();
    try {
      const deadline = Date.now() + this.lockTimeoutMs;
      for (;;) {
        try {
          this.db.exec('BEGIN IMMEDIATE');
          break;
        } catch (e) {
          if (!isBusy(e)) throw this.translate(e);
          await waitOrGiveUp(this.path, deadline, this.lockTimeoutMs);
        }
      }
    } catch (e) {
      release();
      throw e;
    }
    return new OpenTransaction(this, release);
  }

  /** @internal */
  txGet(name: string): Stored<T> | undefined {
    try {
      return this.readRow(name);
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** @internal */
  txPut(name: string, doc: T): void {
    const text = this.codec.encode(doc);
    try {
      if (this.statements.update.run(text, name).changes === 0) this.statements.insert.run(name, text);
      // The writer keeps what it wrote: the next read needs no decode (a rollback clears this).
      const row = this.statements.identify.get(name);
      if (row) this.cache.set(name, { id: row.id, stored: { doc, revision: row.revision } });
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** @internal */
  txRemove(name: string): boolean {
    try {
      const gone = this.statements.remove.run(name).changes > 0;
      if (gone) this.cache.delete(name);
      return gone;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** @internal */
  txRaw(name: string): string | undefined {
    try {
      return this.statements.raw.get(name)?.document;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** @internal */
  txCount(): number {
    try {
      return this.statements.count.get()?.n ?? 0;
    } catch (e) {
      throw this.translate(e);
    }
  }

  /** @internal */
  commitNow(): void {
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      this.rollbackNow();
      throw this.translate(e);
    }
  }

  /** @internal */
  rollbackNow(): void {
    this.cache.clear();
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // SQLite has rolled back on its own (an I/O error or a full disk ends the transaction).
    }
  }

  private translate(e: unknown): unknown {
    return translateSqliteError(this.path, e, 'The device store');
  }

  // ---------------------------------------------------------------------------------
  // legacy JSON stores (<home>/devices/<name>.json)

  private legacyFile(name: string): string {
    return join(this.home, 'devices', `${name}.json`);
  }

  private legacyNames(): string[] {
    try {
      return readdirSync(join(this.home, 'devices'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.slice(0, -'.json'.length))
        .filter((n) => !this.statements.imported.get(n));
    } catch {
      return [];
    }
  }

  /**
   * Imports `<home>/devices/<name>.json` into the database the first time the device is
   * used. A file that cannot be read or is corrupt stops the command (exit 3) and is
   * left as it is; it is tried again next time.
   */
  private async importLegacy(name: string): Promise<Stored<T> | undefined> {
    const file = this.legacyFile(name);
    if (!existsSync(file)) return undefined;
    if (await this.retryRead(() => this.statements.imported.get(name))) return undefined;
    const problem = privateFileProblem(file);
    if (problem) throw storeError('store.unreadable', `The device store ${file} cannot be imported: ${problem}. It was left untouched.`);
    let text: string;
    try {
      const bytes = readFileCapped(file, MAX_LEGACY_BYTES, true);
      if (bytes === undefined) throw new DocumentProblem(`it is larger than ${MAX_LEGACY_BYTES} bytes`);
      text = bytes.toString('utf8');
    } catch (e) {
      if (e instanceof DocumentProblem) throw legacyCorrupt(file, e.message);
      throw storeError('store.unreadable', `The device store ${file} cannot be read: ${(e as Error).message}.`);
    }
    let doc: T;
    try {
      doc = this.codec.decode(text);
    } catch (e) {
      if (e instanceof DocumentProblem && e.newerSchema !== undefined) throw newerVersion(file, e.newerSchema);
      if (e instanceof DocumentProblem) throw legacyCorrupt(file, e.message);
      throw e;
    }
    return this.transaction((tx) => {
      const existing = tx.get(name);
      if (existing || this.statements.imported.get(name)) return existing;
      tx.put(name, doc);
      this.statements.recordImport.run(name, file);
      return tx.get(name);
    });
  }
}

export class OpenTransaction<T> {
  private done = false;
  readonly access: WriteTx<T>;

  constructor(
    private readonly store: DocumentStore<T>,
    private readonly release: () => void,
  ) {
    this.access = {
      get: (name) => this.live().txGet(name),
      put: (name, doc) => this.live().txPut(name, doc),
      remove: (name) => this.live().txRemove(name),
      count: () => this.live().txCount(),
      raw: (name) => this.live().txRaw(name),
    };
  }

  private live(): DocumentStore<T> {
    if (this.done) throw new Error('the transaction has ended');
    return this.store;
  }

  commit(): void {
    if (this.done) return;
    this.done = true;
    try {
      this.store.commitNow();
    } finally {
      this.release();
    }
  }

  rollback(): void {
    if (this.done) return;
    this.done = true;
    try {
      this.store.rollbackNow();
    } finally {
      this.release();
    }
  }
}

function legacyCorrupt(file: string, detail: string): StoreError {
  return storeError(
    'store.corrupt',
    `The device store ${file} is corrupt (${detail}). It was left untouched: move it aside to start this device afresh, or restore it from a backup.`,
  );
}

async function waitOrGiveUp(path: string, deadline: number, timeoutMs: number): Promise<void> {
  const left = deadline - Date.now();
  if (left <= 0) {
    throw storeError(
      'store.locked',
      `The device store ${path} is locked by another process; gave up after ${timeoutMs} ms. Try again when the other exsh has finished.`,
    );
  }
  await sleep(Math.min(left, 1 + Math.random() * 15));
}

async function initialise(db: Db, path: string, deadline: number, timeoutMs: number): Promise<void> {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  const check = (v: number) => {
    if (v > SCHEMA_VERSION) {
      throw storeError(
        'store.newerVersion',
        `The device store ${path} was written by a newer exsh (schema ${v}); upgrade exsh to use it. It was left untouched.`,
      );
    }
  };
  for (;;) {
    try {
      const v = version();
      check(v);
      if (v === SCHEMA_VERSION) return;
      db.exec('BEGIN IMMEDIATE');
      try {
        const again = version();
        check(again);
        if (again < 1) db.exec(SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
        db.exec('COMMIT');
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
      return;
    } catch (e) {
      if (!isBusy(e)) throw e;
      await waitOrGiveUp(path, deadline, timeoutMs);
    }
  }
}
