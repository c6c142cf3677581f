import { statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, storeError } from '../errors.js';
import { createPrivateFile, privateFileProblem } from '../files.js';

/**
 * Opening exsh's SQLite databases (the device store and the CSSM): the file is created
 * by exsh itself (0600, O_EXCL, never through a symlink), checked when it exists, and
 * opened in WAL mode with synchronous=FULL so that a commit is on disk before a command
 * prints its result. SQLite's errors become StoreErrors that name the file.
 */

export type Db = Database.Database;

let addonPath: string | undefined;
/**
 * The native addon, found directly: better-sqlite3's own lookup (the `bindings`
 * package) probes a dozen paths and costs ~5 ms of every start.
 */
function nativeBinding(): string | undefined {
  if (addonPath === undefined) {
    try {
      addonPath = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      addonPath = '';
    }
  }
  return addonPath === '' ? undefined : addonPath;
}

export function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

export function isBusy(e: unknown): boolean {
  const code = sqliteCode(e);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/**
 * SQLite reports a full disk as SQLITE_FULL when a page does not fit, but as a plain I/O
 * error when its shared-memory index cannot grow: then the file system says which it is.
 */
function diskFull(path: string): boolean {
  try {
    const st = statfsSync(dirname(path));
    return Math.min(st.bavail, st.bfree) * st.bsize < 256 * 1024;
  } catch {
    return false;
  }
}

/** What went wrong with a database, as one sentence a user can act on. */
export function translateSqliteError(path: string, e: unknown, what = 'The database'): unknown {
  if (e instanceof StoreError) return e;
  const code = sqliteCode(e);
  if (code === undefined) return e;
  const message = (e as Error).message;
  if (code === 'SQLITE_FULL' || (code.startsWith('SQLITE_IOERR') && diskFull(path))) {
    return storeError('store.full', `${what} ${path} could not be written: the disk is full. Nothing was changed; free some space and try again.`);
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return storeError(
      'store.corrupt',
      `${what} ${path} is corrupt (${message}). It was left untouched: move it aside to start afresh, or restore it from a copy.`,
    );
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) {
    return storeError('store.unwritable', `${what} ${path} cannot be opened for writing: ${message}.`);
  }
  if (isBusy(e)) return storeError('store.locked', `${what} ${path} is locked by another process.`);
  return storeError('store.unusable', `${what} ${path} cannot be used: ${message}.`);
}

export interface OpenOptions {
  /** How long SQLite itself waits for a lock inside one call (0: return SQLITE_BUSY at once). */
  busyTimeoutMs: number;
  /**
   * How long opening may wait: the first statements of a connection read the schema,
   * which waits while another process creates the file or recovers it after a crash.
   */
  openTimeoutMs?: number;
  /** Names the database in sentences ("The device store"). */
  what: string;
}

/**
 * Opens (creating 0600 if needed) a database file in WAL mode with synchronous=FULL.
 * A file that is a symlink, another user's, or not SQLite is refused, never replaced.
 */
export function openSqlite(path: string, opts: OpenOptions): Db {
  try {
    createPrivateFile(path);
  } catch (e) {
    throw storeError('store.unwritable', `${opts.what} ${path} cannot be created: ${(e as Error).message}.`);
  }
  const problem = privateFileProblem(path);
  if (problem) throw storeError('store.unsafe', `${opts.what} ${path} cannot be used: ${problem}. It was left untouched.`);
  let db: Db;
  try {
    const binding = nativeBinding();
    db = new Database(path, binding === undefined ? {} : { nativeBinding: binding });
  } catch (e) {
    throw translateSqliteError(path, e, opts.what);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(opts.busyTimeoutMs, opts.openTimeoutMs ?? 0)}`);
    // FULL: a commit is on disk (the WAL fsync'd) before the command prints its result.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('schema_version');
  } catch (e) {
    db.close();
    throw translateSqliteError(path, e, opts.what);
  }
  return db;
}

/** Switches a connection to WAL; `false` when another connection held the lock it needs. */
export function tryWal(db: Db): boolean {
  try {
    if (db.pragma('journal_mode', { simple: true }) === 'wal') return true;
    return db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
  } catch (e) {
    if (isBusy(e)) return false;
    throw e;
  }
}
