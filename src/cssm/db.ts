import { join, resolve } from 'node:path';
import { ExshError, storeError } from '../errors.js';
import { prepareHome } from '../files.js';
import { isBusy, openSqlite, translateSqliteError, tryWal, type Db } from '../store/sqlite.js';
import { stockInventory } from './inventory.js';

export type { Db } from '../store/sqlite.js';

export const DB_FILE = 'cssm.sqlite';
/** How long a command waits for another process's transaction before giving up (§1 exit 3). */
export const BUSY_TIMEOUT_MS = 15_000;

/**
 * Schema migrations; `PRAGMA user_version` holds how many have run. Append only:
 * a released migration is never edited.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE smart_account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    default_virtual_account_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE virtual_account (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at INTEGER NOT NULL
  );
  -- A purchased line: so many units of one catalogue tag, term lines with dates (ms, UTC midnight).
  CREATE TABLE licence_line (
    id INTEGER PRIMARY KEY,
    virtual_account_id INTEGER NOT NULL REFERENCES virtual_account(id),
    tag TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    start_date INTEGER,
    end_date INTEGER,
    subscription_id TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX licence_line_va_tag ON licence_line(virtual_account_id, tag);
  CREATE TABLE product_instance (
    id INTEGER PRIMARY KEY,
    virtual_account_id INTEGER NOT NULL REFERENCES virtual_account(id),
    udi_pid TEXT NOT NULL,
    udi_serial TEXT NOT NULL UNIQUE,
    udi_vid TEXT NOT NULL,
    host_id TEXT NOT NULL,
    piid TEXT NOT NULL UNIQUE,
    product_type TEXT NOT NULL DEFAULT 'EXPY',
    reservation_type TEXT NOT NULL CHECK (reservation_type IN ('PLR', 'SLR')),
    export_control INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_contact INTEGER NOT NULL
  );
  -- Units of one line held by one instance: confirmed, and while an update is in transit, pending.
  CREATE TABLE reservation (
    instance_id INTEGER NOT NULL REFERENCES product_instance(id) ON DELETE CASCADE,
    line_id INTEGER NOT NULL REFERENCES licence_line(id),
    confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed >= 0),
    pending INTEGER CHECK (pending >= 0),
    PRIMARY KEY (instance_id, line_id)
  );
  CREATE INDEX reservation_line ON reservation(line_id);
  -- Every authorization code issued to an instance, kept until the instance is removed so
  -- that a return code for any of them (installed or never installed) is recognised.
  CREATE TABLE authorization_code (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES product_instance(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('PLR', 'SLR')),
    code TEXT NOT NULL,
    signature BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('current', 'pending', 'superseded')),
    confirmed_at INTEGER,
    issued_at INTEGER NOT NULL
  );
  CREATE INDEX authorization_code_instance ON authorization_code(instance_id);
  -- An update issued but not yet confirmed: the instance is "In Transit".
  CREATE TABLE pending_update (
    instance_id INTEGER PRIMARY KEY REFERENCES product_instance(id) ON DELETE CASCADE,
    code_id INTEGER NOT NULL REFERENCES authorization_code(id),
    requested_at INTEGER NOT NULL
  );
  `,
  // 2: connected mode (§9). A registered product instance holds no reservation, so
  // product_instance is rebuilt with reservation_type nullable (SQLite cannot change a
  // CHECK in place). foreign_keys is on and cannot be switched off inside the migration's
  // transaction, and dropping a parent would cascade to its children: so every table that
  // references product_instance is copied aside, dropped children first, recreated as it
  // was and refilled, ids kept.
  `
  CREATE TEMP TABLE m2_instance AS SELECT * FROM product_instance;
  CREATE TEMP TABLE m2_reservation AS SELECT * FROM reservation;
  CREATE TEMP TABLE m2_code AS SELECT * FROM authorization_code;
  CREATE TEMP TABLE m2_pending AS SELECT * FROM pending_update;
  DROP TABLE pending_update;
  DROP TABLE authorization_code;
  DROP TABLE reservation;
  DROP TABLE product_instance;
  CREATE TABLE product_instance (
    id INTEGER PRIMARY KEY,
    virtual_account_id INTEGER NOT NULL REFERENCES virtual_account(id),
    udi_pid TEXT NOT NULL,
    udi_serial TEXT NOT NULL UNIQUE,
    udi_vid TEXT NOT NULL,
    host_id TEXT NOT NULL,
    piid TEXT NOT NULL UNIQUE,
    product_type TEXT NOT NULL DEFAULT 'EXPY',
    -- NULL: a registered (connected-mode) instance, whose row in registration says more.
    reservation_type TEXT CHECK (reservation_type IS NULL OR reservation_type IN ('PLR', 'SLR')),
    export_control INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    last_contact INTEGER NOT NULL
  );
  CREATE TABLE reservation (
    instance_id INTEGER NOT NULL REFERENCES product_instance(id) ON DELETE CASCADE,
    line_id INTEGER NOT NULL REFERENCES licence_line(id),
    confirmed INTEGER NOT NULL DEFAULT 0 CHECK (confirmed >= 0),
    pending INTEGER CHECK (pending >= 0),
    PRIMARY KEY (instance_id, line_id)
  );
  CREATE INDEX reservation_line ON reservation(line_id);
  CREATE TABLE authorization_code (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES product_instance(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('PLR', 'SLR')),
    code TEXT NOT NULL,
    signature BLOB NOT NULL,
    timestamp INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('current', 'pending', 'superseded')),
    confirmed_at INTEGER,
    issued_at INTEGER NOT NULL
  );
  CREATE INDEX authorization_code_instance ON authorization_code(instance_id);
  CREATE TABLE pending_update (
    instance_id INTEGER PRIMARY KEY REFERENCES product_instance(id) ON DELETE CASCADE,
    code_id INTEGER NOT NULL REFERENCES authorization_code(id),
    requested_at INTEGER NOT NULL
  );
  INSERT INTO product_instance SELECT * FROM m2_instance;
  INSERT INTO reservation SELECT * FROM m2_reservation;
  INSERT INTO authorization_code SELECT * FROM m2_code;
  INSERT INTO pending_update SELECT * FROM m2_pending;
  DROP TABLE m2_instance;
  DROP TABLE m2_reservation;
  DROP TABLE m2_code;
  DROP TABLE m2_pending;

  -- A product instance registration token (§9.1). max_uses NULL: unlimited. Times in ms.
  CREATE TABLE registration_token (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    virtual_account_id INTEGER NOT NULL REFERENCES virtual_account(id),
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses INTEGER CHECK (max_uses IS NULL OR max_uses >= 1),
    uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
    export_controlled INTEGER NOT NULL CHECK (export_controlled IN (0, 1)),
    revoked_at INTEGER
  );
  CREATE INDEX registration_token_va ON registration_token(virtual_account_id);
  -- What a registered instance holds instead of a reservation: its ID certificate and how it registered.
  CREATE TABLE registration (
    instance_id INTEGER PRIMARY KEY REFERENCES product_instance(id) ON DELETE CASCADE,
    token_id INTEGER REFERENCES registration_token(id),
    via TEXT NOT NULL CHECK (via IN ('cloud', 'onprem')),
    registered_at INTEGER NOT NULL,
    cert_serial TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    cert_not_after INTEGER NOT NULL,
    software TEXT NOT NULL DEFAULT '',
    hostname TEXT,
    address TEXT,
    -- Successful renewals since the registration, for cssm instances.
    id_renewals INTEGER NOT NULL DEFAULT 0,
    auth_renewals INTEGER NOT NULL DEFAULT 0
  );
  -- Units of a licence a registered instance reports in use (renewAuth); not tied to lines.
  CREATE TABLE licence_usage (
    instance_id INTEGER NOT NULL REFERENCES product_instance(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (instance_id, tag)
  );
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export interface SeedOptions {
  account: string;
  virtualAccount: string;
  now: Date;
}

export const DEFAULT_ACCOUNT = 'Demo Smart Account';
export const DEFAULT_VIRTUAL_ACCOUNT = 'Default';

const open = new Map<string, Db>();

export function dbPath(home: string): string {
  return join(resolve(home), DB_FILE);
}

/**
 * The CSSM database of `home`, created (0600, WAL) and seeded on first use. One
 * connection per file per process; `closeDatabases` drops them (tests, bench).
 */
export function openDatabase(home: string, seed: SeedOptions): { db: Db; created: boolean } {
  const path = dbPath(home);
  const cachedDb = open.get(path);
  if (cachedDb) return { db: cachedDb, created: false };
  prepareHome(resolve(home));
  const db = openSqlite(path, { busyTimeoutMs: BUSY_TIMEOUT_MS, what: 'The CSSM database' });
  let created = false;
  try {
    setWal(db);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw storeError('cssm.storeTooNew', `The CSSM database ${path} has schema version ${version}, newer than this exsh understands (${SCHEMA_VERSION}).`);
    }
    if (version < SCHEMA_VERSION) created = migrate(db, seed);
  } catch (e) {
    db.close();
    throw unusable(path, e);
  }
  open.set(path, db);
  return { db, created };
}

export function closeDatabase(home: string): void {
  const path = dbPath(home);
  open.get(path)?.close();
  open.delete(path);
}

export function closeDatabases(): void {
  for (const db of open.values()) db.close();
  open.clear();
}

function setWal(db: Db): void {
  // Switching to WAL needs a moment of exclusive access; on a brand-new file raced by
  // several processes SQLite can report busy without waiting, so retry briefly.
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  while (!tryWal(db)) {
    if (Date.now() > deadline)
      throw storeError('cssm.storeLocked', `The CSSM database stayed locked by another process for more than ${BUSY_TIMEOUT_MS / 1000} s.`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}

/** Runs the missing migrations, and seeds the inventory the first time, in one transaction. */
function migrate(db: Db, seed: SeedOptions): boolean {
  let seeded = false;
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    for (const migration of MIGRATIONS.slice(version)) db.exec(migration);
    if (version < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
    const hasAccount = db.prepare('SELECT 1 FROM smart_account').get();
    if (!hasAccount) {
      seedDatabase(db, seed);
      seeded = true;
    }
  }).immediate();
  return seeded;
}

function seedDatabase(db: Db, seed: SeedOptions): void {
  const at = seed.now.getTime();
  const va = db.prepare('INSERT INTO virtual_account (name, created_at) VALUES (?, ?)').run(seed.virtualAccount, at).lastInsertRowid;
  db.prepare('INSERT INTO smart_account (id, name, default_virtual_account_id, created_at) VALUES (1, ?, ?, ?)').run(seed.account, va, at);
  const insert = db.prepare('INSERT INTO licence_line (virtual_account_id, tag, quantity, start_date, end_date) VALUES (?, ?, ?, ?, ?)');
  for (const line of stockInventory(seed.now)) insert.run(va, line.tag, line.quantity, line.startDate, line.endDate);
}

/** BEGIN IMMEDIATE … COMMIT: the write lock is taken up front so concurrent reservations serialise. */
export function writeTransaction<T>(db: Db, fn: () => T): T {
  try {
    return db.transaction(fn).immediate();
  } catch (e) {
    throw translate(e);
  }
}

export function readTransaction<T>(db: Db, fn: () => T): T {
  try {
    return db.transaction(fn).deferred();
  } catch (e) {
    throw translate(e);
  }
}

function translate(e: unknown): unknown {
  if (e instanceof ExshError) return e;
  if (isBusy(e)) {
    return storeError('cssm.storeLocked', `The CSSM database stayed locked by another process for more than ${BUSY_TIMEOUT_MS / 1000} s.`);
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('SQLITE_')) {
    const t = translateSqliteError('', e, 'The CSSM database');
    if (t instanceof ExshError && t.code === 'store.full') return t;
    return storeError('cssm.storeUnusable', `The CSSM database could not be used: ${(e as Error).message}.`);
  }
  return e;
}

function unusable(path: string, e: unknown): unknown {
  if (e instanceof ExshError) return e;
  if (isBusy(e)) return translate(e);
  return translateSqliteError(path, e, 'The CSSM database');
}
