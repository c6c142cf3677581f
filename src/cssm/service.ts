import {
  buildPlrCode,
  buildSlrCode,
  confirmationCode,
  derivePiid,
  formatSlrDate,
  formatUdi,
  parseAuthorizationCode,
  parseRequestCode,
  parseReturnCode,
  returnCodeMatches,
  signatureBytes,
  SLR_FLAG,
  SLR_VERSION,
  PLR_VERSION,
  type Entitlement,
  type Udi,
} from '../codes/index.js';
import type { Statement } from 'better-sqlite3';
import { ExshError, isExshError, StoreError, usageError } from '../errors.js';
import type { Rng } from '../random.js';
import { createPrivateAuthority, loadAuthority, authorityKeyPath } from './authority.js';
import { catalogueEntry, loadCatalogue, resolveLicence, type CatalogueEntry, type LicenceKind } from '../catalogue.js';
import { dbPath, DEFAULT_ACCOUNT, DEFAULT_VIRTUAL_ACCOUNT, openDatabase, readTransaction, writeTransaction, type Db } from './db.js';

/** What every CSSM operation is given instead of reaching for globals. */
export interface CssmEnv {
  /** Directory holding `cssm.sqlite` and `authority/`. */
  home: string;
  now: () => Date;
  rng: Rng;
}

/** A licence and quantity as the operator named it (`--license <tag-or-name>=<qty>`). */
export interface LicenceRequest {
  name: string;
  qty: number;
  /** The quantity as the user typed it, for error messages. */
  qtyText?: string;
}

export type InstanceStatus = 'Reserved Licenses' | 'In Transit';

/** Units of one licence: what a code carries, or what a removal released. */
export interface LicenceCount {
  license: string;
  tag: string;
  count: number;
}

/** An authorization code `reserve` or `update` issued, and what it was issued for. */
export interface IssuedCode {
  code: string;
  /** The product instance's serial number. */
  instance: string;
  /** `UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0`, as CSSM names a product instance. */
  udi: string;
  piid: string;
  reservationType: 'PLR' | 'SLR';
  virtualAccount: string;
  /** `In Transit` after an update, until it is confirmed. */
  status: InstanceStatus;
  /** The code's timestamp, ISO 8601. */
  timestamp: string;
  licenses: LicenceCount[];
}

const DAY_MS = 86_400_000;

// ---------------------------------------------------------------------------------------
// init, authority

export interface InitOptions extends CssmEnv {
  newKey?: boolean;
  account?: string;
  virtualAccount?: string;
}

export interface InitResult {
  /** False when the database already existed. */
  created: boolean;
  databasePath: string;
  account: string;
  virtualAccount: string;
  virtualAccountCreated: boolean;
  authority: 'demo' | 'private';
  /** Where the private authority key is, when there is one. */
  authorityKeyPath?: string;
  fingerprint: string;
  publicKeyPem: string;
}

/**
 * Creates the database explicitly. On an existing database it is idempotent: it may add
 * an (empty) virtual account or make a new private key, but never renames the account.
 */
export function init(opts: InitOptions): InitResult {
  const account = opts.account?.trim() || DEFAULT_ACCOUNT;
  const vaName = opts.virtualAccount?.trim() || DEFAULT_VIRTUAL_ACCOUNT;
  if (opts.account !== undefined && opts.account.trim() === '') {
    throw usageError('cssm.badName', 'The smart account name must not be empty.');
  }
  if (opts.virtualAccount !== undefined && opts.virtualAccount.trim() === '') {
    throw usageError('cssm.badName', 'The virtual account name must not be empty.');
  }
  const { db, created } = openDatabase(opts.home, { account, virtualAccount: vaName, now: opts.now() });
  const { virtualAccountCreated, accountName, virtualAccount } = writeTransaction(db, () => {
    const sa = db.prepare('SELECT name FROM smart_account WHERE id = 1').get() as { name: string };
    if (opts.account !== undefined && sa.name !== account) {
      throw new ExshError(
        'cssm.alreadyInitialised',
        `The CSSM database ${dbPath(opts.home)} already belongs to smart account "${sa.name}"; remove it to start again with "${account}".`,
      );
    }
    if (opts.virtualAccount === undefined) {
      return { virtualAccountCreated: false, accountName: sa.name, virtualAccount: findVirtualAccount(db, undefined).name };
    }
    const existing = db.prepare('SELECT id FROM virtual_account WHERE name = ?').get(vaName);
    if (!existing) {
      db.prepare('INSERT INTO virtual_account (name, created_at) VALUES (?, ?)').run(vaName, opts.now().getTime());
    }
    return { virtualAccountCreated: !created && !existing, accountName: sa.name, virtualAccount: vaName };
  });
  const authority = opts.newKey ? createPrivateAuthority(opts.home, opts.rng) : loadAuthority(opts.home);
  return {
    created,
    databasePath: dbPath(opts.home),
    account: accountName,
    virtualAccount,
    virtualAccountCreated,
    authority: authority.source,
    ...(authority.source === 'private' ? { authorityKeyPath: authorityKeyPath(opts.home) } : {}),
    fingerprint: authority.fingerprint,
    publicKeyPem: authority.publicKeyPem,
  };
}

/** The public key devices must trust for codes from this home (§6.7). */
export function authorityPublicKey(opts: Pick<CssmEnv, 'home'>): {
  source: 'demo' | 'private';
  publicKeyPem: string;
  fingerprint: string;
} {
  const a = loadAuthority(opts.home);
  return { source: a.source, publicKeyPem: a.publicKeyPem, fingerprint: a.fingerprint };
}

// ---------------------------------------------------------------------------------------
// licences

export interface LicenceRow {
  license: string;
  tag: string;
  type: 'PERPETUAL' | 'TERM';
  purchased: number;
  /** What registered (connected-mode) product instances of the virtual account report in use. */
  inUse: number;
  reserved: number;
  balance: number;
}

export function licenses(opts: CssmEnv & { virtualAccount?: string }): LicenceRow[] {
  const db = database(opts);
  return readTransaction(db, () => {
    const va = findVirtualAccount(db, opts.virtualAccount);
    const rows = db
      .prepare(
        `SELECT l.tag AS tag, SUM(l.quantity) AS purchased, SUM(COALESCE(h.held, 0)) AS reserved
           FROM licence_line l
           LEFT JOIN (SELECT line_id, SUM(MAX(confirmed, COALESCE(pending, 0))) AS held
                        FROM reservation GROUP BY line_id) h ON h.line_id = l.id
          WHERE l.virtual_account_id = ? AND (l.end_date IS NULL OR l.end_date > ?)
          GROUP BY l.tag`,
      )
      .all(va.id, expiryCutoff(opts)) as Array<{ tag: string; purchased: number; reserved: number }>;
    const used = new Map(
      (
        db
          .prepare(
            `SELECT u.tag AS tag, SUM(u.count) AS n FROM licence_usage u
               JOIN product_instance p ON p.id = u.instance_id WHERE p.virtual_account_id = ? GROUP BY u.tag`,
          )
          .all(va.id) as Array<{ tag: string; n: number }>
      ).map((u) => [u.tag, u.n]),
    );
    // A licence in use with nothing purchased (out of compliance) still shows, with a negative balance.
    const tags = new Set(rows.map((r) => r.tag));
    for (const tag of used.keys()) if (!tags.has(tag)) rows.push({ tag, purchased: 0, reserved: 0 });
    return rows
      .map((r): LicenceRow => {
        const entry = catalogueEntry(r.tag);
        const inUse = used.get(r.tag) ?? 0;
        return {
          license: entry?.displayName ?? r.tag,
          tag: r.tag,
          type: entry?.licenseType ?? 'PERPETUAL',
          purchased: r.purchased,
          inUse,
          reserved: r.reserved,
          balance: r.purchased - inUse - r.reserved,
        };
      })
      .sort((a, b) => catalogueOrder(a.tag) - catalogueOrder(b.tag));
  });
}

// ---------------------------------------------------------------------------------------
// reserve

export interface ReserveOptions extends CssmEnv {
  request: string;
  plr?: boolean;
  exportControl?: boolean;
  licenses?: LicenceRequest[];
  virtualAccount?: string;
}

/**
 * Validates the request code, reserves the licences and returns the authorization code.
 * Delivering it (printing, writing `--out`) is the caller's, once this has committed: a
 * code must never exist outside for a reservation the CSSM does not hold.
 */
export function reserve(opts: ReserveOptions): IssuedCode {
  const requested = opts.licenses ?? [];
  if (opts.plr && requested.length > 0) {
    throw usageError('cssm.conflictingOptions', 'Give either --plr or --license, not both.');
  }
  if (opts.exportControl && !opts.plr) {
    throw usageError('cssm.conflictingOptions', '--export-control applies only to a PLR (--plr).');
  }
  if (!opts.plr && requested.length === 0) {
    throw usageError('cssm.missingOption', 'Give --plr, or at least one --license <tag-or-name>=<qty>.');
  }
  const { udi, nonce } = parseRequest(opts.request);
  const piid = derivePiid(udi, nonce);
  const wanted = opts.plr ? [{ entry: plrEntry(opts.exportControl === true), qty: 1 }] : resolveRequests(requested, { allowZero: false });

  const db = database(opts);
  return writeTransaction(db, () => {
    const va = findVirtualAccount(db, opts.virtualAccount);
    const held = db
      .prepare(
        `SELECT p.reservation_type AS type, v.name AS va FROM product_instance p
           JOIN virtual_account v ON v.id = p.virtual_account_id WHERE p.udi_serial = ? OR p.piid = ?`,
      )
      .get(udi.serial, piid) as { type: 'PLR' | 'SLR' | null; va: string } | undefined;
    if (held?.type === null) {
      throw new ExshError(
        'cssm.alreadyRegistered',
        `The product instance with serial number ${udi.serial} is registered (connected mode) in virtual account ${held.va}; a registered product instance cannot also reserve licences: deregister it on the device (xCommand License Smart Deregister) or remove it with exsh cssm remove --instance ${udi.serial} first.`,
      );
    }
    if (held) {
      // Also what a crash between COMMIT and printing the code looks like: point to the code.
      throw new ExshError(
        'cssm.alreadyReserved',
        `The product instance with serial number ${udi.serial} already holds ${held.type === 'SLR' ? 'an' : 'a'} ${held.type} reservation in virtual account ${held.va}: show its code with exsh cssm code --instance ${udi.serial}, or release it first (xCommand License Smart Reservation Return on the device if the code is installed, or ReturnAuthorization with the code if it never was, e.g. after a Cancel), then exsh cssm remove --return-code <code>.`,
      );
    }
    const allocation = new Map<number, number>();
    for (const { entry, qty } of wanted) {
      for (const [line, n] of allocate(db, opts, va, entry, qty, null)) allocation.set(line, n);
    }
    const at = opts.now().getTime();
    const instanceId = Number(
      db
        .prepare(
          `INSERT INTO product_instance (virtual_account_id, udi_pid, udi_serial, udi_vid, host_id, piid,
             product_type, reservation_type, export_control, created_at, last_contact)
           VALUES (?, ?, ?, ?, ?, ?, 'EXPY', ?, ?, ?, ?)`,
        )
        .run(va.id, udi.pid, udi.serial, udi.vid, udi.hostId, piid, opts.plr ? 'PLR' : 'SLR', opts.exportControl ? 1 : 0, at, at).lastInsertRowid,
    );
    const insert = db.prepare('INSERT INTO reservation (instance_id, line_id, confirmed) VALUES (?, ?, ?)');
    for (const [line, n] of allocation) insert.run(instanceId, line, n);

    const { privateKey } = loadAuthority(opts.home);
    const code = opts.plr
      ? buildPlrCode({ version: PLR_VERSION, exportControl: opts.exportControl === true, timestamp: at, piid }, udi, privateKey)
      : buildSlrCode({ flag: SLR_FLAG, version: SLR_VERSION, piid, timestamp: at, entitlements: entitlements(db, allocation) }, udi, privateKey);
    recordCode(db, instanceId, opts.plr ? 'PLR' : 'SLR', code, at, 'current', at);
    return {
      code,
      instance: udi.serial,
      udi: udiLabel(udi),
      piid,
      reservationType: opts.plr ? 'PLR' : 'SLR',
      virtualAccount: va.name,
      status: 'Reserved Licenses',
      timestamp: new Date(at).toISOString(),
      licenses: licenceCounts(db, allocation),
    };
  });
}

// ---------------------------------------------------------------------------------------
// update, confirm

export interface UpdateOptions extends CssmEnv {
  /** The product instance's serial number. */
  instance: string;
  /** New quantities; licences not named keep theirs, `0` releases one. */
  licenses: LicenceRequest[];
}

/**
 * Issues a new SLR code for a reserved instance. The instance is "In Transit" until the
 * device's confirmation code is entered; meanwhile each line holds the larger of the old
 * and new counts, so neither the installed code nor the new one can be oversubscribed.
 * A second update while in transit is refused: the device may still install the first
 * code, so its counts must stay reserved until it is confirmed or the reservation returned.
 * Delivering the code is the caller's, once this has committed.
 */
export function update(opts: UpdateOptions): IssuedCode {
  const serial = instanceSerial(opts.instance);
  if (opts.licenses.length === 0) {
    throw usageError('cssm.missingOption', 'Give at least one --license <tag-or-name>=<qty>.');
  }
  const wanted = resolveRequests(opts.licenses, { allowZero: true });
  const db = database(opts);
  return writeTransaction(db, () => {
    const pi = findInstance(db, serial);
    requireSlr(pi, 'updated');
    const va = { id: pi.virtual_account_id, name: pi.va };
    if (db.prepare('SELECT 1 FROM pending_update WHERE instance_id = ?').get(pi.id) !== undefined) {
      throw new ExshError(
        'cssm.updateInTransit',
        `Product instance ${pi.udi_serial} has an update in transit: confirm it first (exsh cssm confirm --instance ${pi.udi_serial} --code <confirmation code>), or return the reservation on the device and remove the instance.`,
      );
    }

    const confirmed = new Map<number, number>();
    const rows = db
      .prepare(
        `SELECT r.line_id AS line, r.confirmed AS n, l.tag AS tag FROM reservation r
           JOIN licence_line l ON l.id = r.line_id WHERE r.instance_id = ? AND r.confirmed > 0`,
      )
      .all(pi.id) as Array<{ line: number; n: number; tag: string }>;
    for (const r of rows) confirmed.set(r.line, r.n);
    const retagged = new Set(wanted.map((w) => w.entry.tag));
    const next = new Map<number, number>();
    for (const r of rows) if (!retagged.has(r.tag)) next.set(r.line, r.n);
    for (const { entry, qty } of wanted) {
      for (const [line, n] of allocate(db, opts, va, entry, qty, { id: pi.id, confirmed })) next.set(line, n);
    }
    if ([...next.values()].every((n) => n === 0)) {
      throw new ExshError(
        'cssm.emptyReservation',
        `The update would leave product instance ${pi.udi_serial} with no licences; to release them all, return the reservation on the device and remove the instance.`,
      );
    }

    const upsert = db.prepare(
      `INSERT INTO reservation (instance_id, line_id, confirmed, pending) VALUES (?, ?, 0, ?)
       ON CONFLICT (instance_id, line_id) DO UPDATE SET pending = excluded.pending`,
    );
    for (const line of new Set([...confirmed.keys(), ...next.keys()])) upsert.run(pi.id, line, next.get(line) ?? 0);

    const udi = instanceUdi(pi);
    const last = db.prepare('SELECT MAX(timestamp) AS t FROM authorization_code WHERE instance_id = ?').get(pi.id) as {
      t: number | null;
    };
    const at = opts.now().getTime();
    // §6.3 step 5: the device accepts an update only with a newer timestamp, even under a pinned clock.
    const timestamp = Math.max(at, (last.t ?? 0) + 1);
    const allocation = new Map([...next].filter(([, n]) => n > 0));
    const code = buildSlrCode(
      { flag: SLR_FLAG, version: SLR_VERSION, piid: pi.piid, timestamp, entitlements: entitlements(db, allocation) },
      udi,
      loadAuthority(opts.home).privateKey,
    );
    const codeId = recordCode(db, pi.id, 'SLR', code, timestamp, 'pending', at);
    db.prepare('INSERT INTO pending_update (instance_id, code_id, requested_at) VALUES (?, ?, ?)').run(pi.id, codeId, at);
    db.prepare('UPDATE product_instance SET last_contact = ? WHERE id = ?').run(at, pi.id);
    return {
      code,
      instance: pi.udi_serial,
      udi: udiLabel(udi),
      piid: pi.piid,
      reservationType: 'SLR',
      virtualAccount: pi.va,
      status: 'In Transit',
      timestamp: new Date(timestamp).toISOString(),
      licenses: licenceCounts(db, allocation),
    };
  });
}

export interface ConfirmResult {
  /** The product instance's serial number. */
  instance: string;
  /** True when an update was in transit and is now complete. */
  completed: boolean;
  /** What the instance holds now. */
  licenses: Array<{ license: string; tag: string; reserved: number }>;
}

/**
 * Takes the confirmation code the device printed when it installed the latest code.
 * Completing an update makes the new counts the reservation and releases the surplus.
 * With no update in transit, the first code's confirmation is accepted and recorded.
 */
export function confirm(opts: CssmEnv & { instance: string; code: string }): ConfirmResult {
  const serial = instanceSerial(opts.instance);
  const given = opts.code.trim().toLowerCase();
  const db = database(opts);
  return writeTransaction(db, () => {
    const pi = findInstance(db, serial);
    requireSlr(pi, 'confirmed');
    const udi = instanceUdi(pi);
    const at = opts.now().getTime();
    const pending = db.prepare('SELECT code_id FROM pending_update WHERE instance_id = ?').get(pi.id) as { code_id: number } | undefined;
    const target = pending
      ? (db.prepare('SELECT id, signature FROM authorization_code WHERE id = ?').get(pending.code_id) as CodeRow)
      : (db.prepare(`SELECT id, signature FROM authorization_code WHERE instance_id = ? AND state = 'current'`).get(pi.id) as CodeRow);
    if (confirmationCode(udi, pi.piid, target.signature) !== given) {
      throw new ExshError(
        'cssm.wrongConfirmationCode',
        `The confirmation code '${opts.code.trim()}' does not match the ${pending ? 'update in transit' : 'authorization code'} of product instance ${pi.udi_serial}; install that code on the device and enter the confirmation code it prints.`,
      );
    }
    if (pending) {
      db.prepare('UPDATE reservation SET confirmed = pending, pending = NULL WHERE instance_id = ?').run(pi.id);
      db.prepare('DELETE FROM reservation WHERE instance_id = ? AND confirmed = 0').run(pi.id);
      db.prepare(`UPDATE authorization_code SET state = 'superseded' WHERE instance_id = ? AND state = 'current'`).run(pi.id);
      db.prepare(`UPDATE authorization_code SET state = 'current' WHERE id = ?`).run(target.id);
      db.prepare('DELETE FROM pending_update WHERE instance_id = ?').run(pi.id);
    }
    db.prepare('UPDATE authorization_code SET confirmed_at = ? WHERE id = ?').run(at, target.id);
    db.prepare('UPDATE product_instance SET last_contact = ? WHERE id = ?').run(at, pi.id);
    const licences = heldLicences(db, pi.id).map(({ license, tag, count }) => ({ license, tag, reserved: count }));
    return { instance: pi.udi_serial, completed: pending !== undefined, licenses: licences };
  });
}

// ---------------------------------------------------------------------------------------
// remove

export interface RemoveSummary {
  /** The product instance's serial number. */
  instance: string;
  /** `UDI_PID:Expressway; UDI_SN:08F8FF3C; UDI_VID:1.0`, as CSSM names a product instance. */
  udi: string;
  virtualAccount: string;
  licencesReturned: number;
  /**
   * What the instance held, now back in the pool: a reserved instance's units (confirmed
   * or pending, the larger), a registered one's reported use.
   */
  licenses: LicenceCount[];
  /** Which return the device made: of its installed code, or of one never installed; absent when forced. */
  returnKind?: 'installed' | 'unused';
  /** Removed without a return code (`--force`, the portal's "remove product instance"). */
  forced: boolean;
  /** It was registered (connected mode): no return code is needed, and its next renewal fails. */
  registered: boolean;
}

export interface RemoveOptions extends CssmEnv {
  returnCode?: string;
  instance?: string;
  /** Remove `instance` without a return code. */
  force?: boolean;
}

const NEEDS_RETURN_CODE =
  'cssm remove needs --return-code <code> (the return code from the device), or --instance <serial> --force to remove the instance without one.';

/**
 * Checks the return code against every code issued to the instance (or to every
 * instance, without `instance`), releases all it held and deletes it. With `force`, the
 * instance is removed without a return code, as the portal's "remove product instance"
 * does: the device may still hold its code, so this is for a device that is gone. A
 * registered (connected-mode) instance holds no code: `instance` alone removes it, and
 * the device learns it at its next renewal (instance.unknown).
 */
export function remove(opts: RemoveOptions): RemoveSummary {
  if (opts.force) {
    if (opts.returnCode !== undefined) {
      throw usageError('cssm.conflictingOptions', 'Give either --return-code or --force, not both.');
    }
    if (opts.instance === undefined) {
      throw usageError('cssm.missingOption', '--force needs --instance <serial>: the product instance to remove without a return code.');
    }
    const serial = instanceSerial(opts.instance);
    const db = database(opts);
    return writeTransaction(db, () => ({ ...release(db, findInstance(db, serial)), forced: true }));
  }
  const returnCode = opts.returnCode;
  if (returnCode === undefined) {
    if (opts.instance === undefined) throw usageError('cssm.missingOption', NEEDS_RETURN_CODE);
    const serial = instanceSerial(opts.instance);
    const db = database(opts);
    return writeTransaction(db, () => {
      const pi = db.prepare(`${INSTANCE_SELECT} WHERE p.udi_serial = ?`).get(serial) as InstanceRecord | undefined;
      if (pi === undefined || pi.reservation_type !== null) throw usageError('cssm.missingOption', NEEDS_RETURN_CODE);
      return { ...release(db, pi), forced: false };
    });
  }
  const serial = opts.instance !== undefined ? instanceSerial(opts.instance) : undefined;
  try {
    parseReturnCode(returnCode);
  } catch (e) {
    if (isExshError(e)) throw new ExshError('cssm.returnCodeMistyped', e.message);
    throw e;
  }
  const db = database(opts);
  return writeTransaction(db, () => {
    const candidates = serial !== undefined ? [findInstance(db, serial)] : allInstances(db);
    const codesOf = db.prepare('SELECT signature FROM authorization_code WHERE instance_id = ? ORDER BY id DESC');
    for (const pi of candidates) {
      const udi = instanceUdi(pi);
      for (const { signature } of codesOf.all(pi.id) as Array<{ signature: Buffer }>) {
        const kind = returnCodeMatches(returnCode, udi, pi.piid, signature);
        if (!kind) continue;
        return { ...release(db, pi), returnKind: kind, forced: false };
      }
    }
    const only = serial !== undefined ? candidates[0] : undefined;
    throw new ExshError(
      'cssm.returnCodeMismatch',
      only?.reservation_type === null
        ? `Product instance ${only.udi_serial} is registered (connected mode) and was issued no authorization code; remove it without a return code: exsh cssm remove --instance ${only.udi_serial}.`
        : serial !== undefined
          ? `The return code does not match any authorization code issued to product instance ${only?.udi_serial ?? serial}.`
          : 'The return code does not match any authorization code issued to a product instance in this smart account.',
    );
  });
}

/** Releases every licence the instance held (or, registered, used) and deletes it with its codes. */
function release(db: Db, pi: InstanceRecord): Omit<RemoveSummary, 'returnKind' | 'forced'> {
  const registered = pi.reservation_type === null;
  const licences = registered ? usageOf(db, pi.id) : heldLicences(db, pi.id);
  deleteInstance(db, pi.id);
  return {
    instance: pi.udi_serial,
    udi: udiLabel(instanceUdi(pi)),
    virtualAccount: pi.va,
    licencesReturned: licences.reduce((sum, l) => sum + l.count, 0),
    licenses: licences,
    registered,
  };
}

/** Deletes a product instance and everything that hangs off it (inside the caller's transaction). */
export function deleteInstance(db: Db, instanceId: number): void {
  db.prepare('DELETE FROM pending_update WHERE instance_id = ?').run(instanceId);
  db.prepare('DELETE FROM reservation WHERE instance_id = ?').run(instanceId);
  db.prepare('DELETE FROM authorization_code WHERE instance_id = ?').run(instanceId);
  db.prepare('DELETE FROM licence_usage WHERE instance_id = ?').run(instanceId);
  db.prepare('DELETE FROM registration WHERE instance_id = ?').run(instanceId);
  db.prepare('DELETE FROM product_instance WHERE id = ?').run(instanceId);
}

/** What a registered instance reports in use, per licence, in catalogue order. */
export function usageOf(db: Db, instanceId: number): LicenceCount[] {
  const rows = db.prepare('SELECT tag, count FROM licence_usage WHERE instance_id = ?').all(instanceId) as Array<{ tag: string; count: number }>;
  return rows
    .map((r) => ({ license: catalogueEntry(r.tag)?.displayName ?? r.tag, tag: r.tag, count: r.count }))
    .sort((a, b) => catalogueOrder(a.tag) - catalogueOrder(b.tag));
}

/**
 * Units of one licence a registered instance may use in a virtual account: purchased
 * (lines not expired at `at`, ms) − reserved on them − in use by the account's other
 * registered instances. Negative when the pool is already oversubscribed.
 */
export function availableFor(db: Db, virtualAccountId: number, tag: string, at: number, exceptInstanceId: number): number {
  const pool = statement(
    db,
    `SELECT COALESCE(SUM(l.quantity), 0) AS purchased,
              COALESCE(SUM((SELECT SUM(MAX(r.confirmed, COALESCE(r.pending, 0))) FROM reservation r WHERE r.line_id = l.id)), 0) AS reserved
         FROM licence_line l
        WHERE l.virtual_account_id = ? AND l.tag = ? AND (l.end_date IS NULL OR l.end_date > ?)`,
  ).get(virtualAccountId, tag, at - DAY_MS) as { purchased: number; reserved: number };
  return pool.purchased - pool.reserved - inUseIn(db, virtualAccountId, tag, exceptInstanceId);
}

/** Units of a licence the registered instances of a virtual account report in use (but one). */
function inUseIn(db: Db, virtualAccountId: number, tag: string, exceptInstanceId = -1): number {
  const row = statement(
    db,
    `SELECT COALESCE(SUM(u.count), 0) AS n FROM licence_usage u JOIN product_instance p ON p.id = u.instance_id
        WHERE p.virtual_account_id = ? AND u.tag = ? AND u.instance_id != ?`,
  ).get(virtualAccountId, tag, exceptInstanceId) as { n: number };
  return row.n;
}

// ---------------------------------------------------------------------------------------
// code

export interface IssuedCodeRecord {
  /** `pending`: an update in transit; `current`: the reservation's code; `superseded`: replaced by a confirmed update. */
  state: 'pending' | 'current' | 'superseded';
  kind: 'PLR' | 'SLR';
  code: string;
  /** The code's own timestamp, ISO 8601. */
  timestamp: string;
  /** When CSSM issued it, ISO 8601. */
  issuedAt: string;
  /** When its confirmation code was entered, if it was. */
  confirmedAt?: string;
}

export interface InstanceCodes {
  instance: string;
  reservationType: 'PLR' | 'SLR';
  status: InstanceStatus;
  virtualAccount: string;
  /** The pending update's code first, then the current one, then superseded ones, newest first. */
  codes: IssuedCodeRecord[];
}

/** Every code issued to an instance, so a code lost after COMMIT (a crash, a failed `--out`) can be shown again. */
export function codes(opts: CssmEnv & { instance: string }): InstanceCodes {
  const serial = instanceSerial(opts.instance);
  const db = database(opts);
  return readTransaction(db, () => {
    const pi = findInstance(db, serial);
    requireReserved(pi);
    const rows = db
      .prepare(
        `SELECT state, kind, code, timestamp, issued_at, confirmed_at FROM authorization_code WHERE instance_id = ?
          ORDER BY CASE state WHEN 'pending' THEN 0 WHEN 'current' THEN 1 ELSE 2 END, timestamp DESC, id DESC`,
      )
      .all(pi.id) as Array<{
      state: IssuedCodeRecord['state'];
      kind: 'PLR' | 'SLR';
      code: string;
      timestamp: number;
      issued_at: number;
      confirmed_at: number | null;
    }>;
    const inTransit = db.prepare('SELECT 1 FROM pending_update WHERE instance_id = ?').get(pi.id) !== undefined;
    return {
      instance: pi.udi_serial,
      reservationType: pi.reservation_type,
      status: inTransit ? 'In Transit' : 'Reserved Licenses',
      virtualAccount: pi.va,
      codes: rows.map((r) => ({
        state: r.state,
        kind: r.kind,
        code: r.code,
        timestamp: new Date(r.timestamp).toISOString(),
        issuedAt: new Date(r.issued_at).toISOString(),
        ...(r.confirmed_at !== null ? { confirmedAt: new Date(r.confirmed_at).toISOString() } : {}),
      })),
    };
  });
}

// ---------------------------------------------------------------------------------------
// instances

export interface InstanceLicence {
  license: string;
  tag: string;
  reserved: number;
  /** The count the update in transit will leave, when one is. */
  pending?: number;
}

/** A reserved instance's status, or `Registered` for one registered in connected mode. */
export type InstanceRowStatus = InstanceStatus | 'Registered';

/** What CSSM knows of a registered (connected-mode) instance. */
export interface RegistrationDetails {
  /** ISO 8601, the device's time when it (last) registered. */
  registeredAt: string;
  /** Where it registered: the cloud (`/licservice/license`) or On-Prem (`/SmartTransport`). */
  via: 'cloud' | 'onprem';
  /** The ID certificate CSSM issued last: its serial (hex) and end of validity (ISO 8601). */
  certificateSerial: string;
  certificateExpires: string;
  software: string;
  /** Absent when the device does not share them (`Privacy HostnameAndIp: DoNotShare`). */
  hostname?: string;
  address?: string;
  /** What it reported in use at its last authorization. */
  inUse: LicenceCount[];
  /** Successful renewals since it registered: of the ID certificate, and of the authorization. */
  renewals: { id: number; auth: number };
}

export interface InstanceRow {
  serial: string;
  pid: string;
  vid: string;
  hostId: string;
  udi: string;
  piid: string;
  productType: string;
  /** null: registered, no reservation. */
  reservationType: 'PLR' | 'SLR' | null;
  /** PLR with export control; for a registered instance, its token's export-controlled flag. */
  exportControl: boolean;
  status: InstanceRowStatus;
  virtualAccount: string;
  /** ISO 8601: the last code or confirmation, or for a registered instance the time of its last message. */
  lastContact: string;
  /** Reserved licences (none for a registered instance). */
  licenses: InstanceLicence[];
  registration?: RegistrationDetails;
}

interface RegistrationRecord {
  via: 'cloud' | 'onprem';
  registered_at: number;
  cert_serial: string;
  cert_not_after: number;
  software: string;
  hostname: string | null;
  address: string | null;
  id_renewals: number;
  auth_renewals: number;
}

export function instances(opts: CssmEnv & { virtualAccount?: string }): InstanceRow[] {
  const db = database(opts);
  return readTransaction(db, () => {
    const va = opts.virtualAccount !== undefined ? findVirtualAccount(db, opts.virtualAccount) : undefined;
    const transit = db.prepare('SELECT 1 FROM pending_update WHERE instance_id = ?');
    const held = db.prepare(
      `SELECT l.tag AS tag, SUM(r.confirmed) AS reserved, SUM(COALESCE(r.pending, 0)) AS pending
         FROM reservation r JOIN licence_line l ON l.id = r.line_id
        WHERE r.instance_id = ? GROUP BY l.tag`,
    );
    const registrationOf = db.prepare(
      'SELECT via, registered_at, cert_serial, cert_not_after, software, hostname, address, id_renewals, auth_renewals FROM registration WHERE instance_id = ?',
    );
    return allInstances(db)
      .filter((pi) => !va || pi.virtual_account_id === va.id)
      .map((pi): InstanceRow => {
        const inTransit = transit.get(pi.id) !== undefined;
        const licences = (held.all(pi.id) as Array<{ tag: string; reserved: number; pending: number }>)
          .map((h) => ({
            license: catalogueEntry(h.tag)?.displayName ?? h.tag,
            tag: h.tag,
            reserved: h.reserved,
            ...(inTransit ? { pending: h.pending } : {}),
          }))
          .sort((a, b) => catalogueOrder(a.tag) - catalogueOrder(b.tag));
        const reg = pi.reservation_type === null ? (registrationOf.get(pi.id) as RegistrationRecord | undefined) : undefined;
        const udi = instanceUdi(pi);
        return {
          serial: pi.udi_serial,
          pid: pi.udi_pid,
          vid: pi.udi_vid,
          hostId: pi.host_id,
          udi: formatUdi(udi),
          piid: pi.piid,
          productType: pi.product_type,
          reservationType: pi.reservation_type,
          exportControl: pi.export_control === 1,
          status: pi.reservation_type === null ? 'Registered' : inTransit ? 'In Transit' : 'Reserved Licenses',
          virtualAccount: pi.va,
          lastContact: new Date(pi.last_contact).toISOString(),
          licenses: licences,
          ...(reg
            ? {
                registration: {
                  registeredAt: new Date(reg.registered_at).toISOString(),
                  via: reg.via,
                  certificateSerial: reg.cert_serial,
                  certificateExpires: new Date(reg.cert_not_after).toISOString(),
                  software: reg.software,
                  ...(reg.hostname !== null ? { hostname: reg.hostname } : {}),
                  ...(reg.address !== null ? { address: reg.address } : {}),
                  inUse: usageOf(db, pi.id),
                  renewals: { id: reg.id_renewals, auth: reg.auth_renewals },
                },
              }
            : {}),
        };
      });
  });
}

// ---------------------------------------------------------------------------------------
// helpers

export interface VirtualAccount {
  id: number;
  name: string;
}

interface InstanceRecord {
  id: number;
  virtual_account_id: number;
  va: string;
  udi_pid: string;
  udi_serial: string;
  udi_vid: string;
  host_id: string;
  piid: string;
  product_type: string;
  /** null: registered (connected mode). */
  reservation_type: 'PLR' | 'SLR' | null;
  export_control: number;
  last_contact: number;
}

interface CodeRow {
  id: number;
  signature: Buffer;
}

const statements = new WeakMap<Db, Map<string, Statement>>();

/**
 * A prepared statement, kept per connection: preparing costs more than running the small
 * statements of a device message, and a CSSM server answers many.
 */
export function statement(db: Db, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let st = cache.get(sql);
  if (!st) {
    st = db.prepare<unknown[]>(sql);
    cache.set(sql, st);
  }
  return st;
}

/** The home's CSSM database, opened (created and seeded on first use). */
export function database(env: CssmEnv): Db {
  return openDatabase(env.home, {
    account: DEFAULT_ACCOUNT,
    virtualAccount: DEFAULT_VIRTUAL_ACCOUNT,
    now: env.now(),
  }).db;
}

/** A term line is usable through the whole of its end day (UTC). */
function expiryCutoff(env: CssmEnv): number {
  return env.now().getTime() - DAY_MS;
}

function catalogueOrder(tag: string): number {
  const i = loadCatalogue().entitlements.findIndex((e) => e.tag === tag);
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
}

/**
 * A serial number as CSSM takes it: an Expressway's is 8 uppercase hexadecimal digits;
 * other products' are accepted up to 16 letters and digits. Nothing else, so a serial
 * can be shown anywhere (tables, messages, file names) as it is.
 */
export const SERIAL = /^[A-Za-z0-9]{1,16}$/;

/** `--instance <serial>`, checked before anything is opened. */
function instanceSerial(text: string): string {
  const serial = text.trim();
  if (!SERIAL.test(serial)) {
    throw usageError(
      'cssm.badSerial',
      `'${serial}' is not a serial number: a product instance's serial number is 1 to 16 letters and digits, such as 08F8FF3C.`,
    );
  }
  return serial;
}

function parseRequest(code: string): { udi: Udi; nonce: string } {
  let parsed: { udi: Udi; nonce: string };
  try {
    parsed = parseRequestCode(code);
  } catch (e) {
    if (isExshError(e)) throw new ExshError('cssm.requestMistyped', e.message);
    throw e;
  }
  if (!SERIAL.test(parsed.udi.serial)) {
    throw new ExshError(
      'cssm.requestBadSerial',
      `The reservation request code's serial number '${parsed.udi.serial}' is not one this CSSM accepts: a serial number is 1 to 16 letters and digits.`,
    );
  }
  return parsed;
}

function plrEntry(exportControl: boolean): CatalogueEntry {
  const kind: LicenceKind = exportControl ? 'plr-export' : 'plr';
  const entry = loadCatalogue().entitlements.find((e) => e.kind === kind);
  if (!entry) throw new StoreError('cssm.catalogueInvalid', `The licence catalogue has no licence of kind ${kind}.`);
  return entry;
}

function resolveRequests(requested: LicenceRequest[], { allowZero }: { allowZero: boolean }): Array<{ entry: CatalogueEntry; qty: number }> {
  const seen = new Map<string, string>();
  return requested.map(({ name, qty, qtyText }) => {
    const entry = resolveLicence(name);
    if (!Number.isSafeInteger(qty) || qty < (allowZero ? 0 : 1)) {
      throw new ExshError(
        'cssm.badQuantity',
        `The quantity for ${entry.displayName} must be a whole number of ${allowZero ? '0' : '1'} or more, not '${qtyText ?? String(qty)}'.`,
      );
    }
    if (entry.kind === 'plr' || entry.kind === 'plr-export') {
      throw new ExshError(
        'cssm.plrOnly',
        `${entry.displayName} is reserved with --plr${entry.kind === 'plr-export' ? ' --export-control' : ''}, not as a specific licence.`,
      );
    }
    const earlier = seen.get(entry.tag);
    if (earlier !== undefined) {
      throw new ExshError('cssm.duplicateLicence', `${entry.displayName} is named twice ("${earlier}" and "${name}"); name each licence once.`);
    }
    seen.set(entry.tag, name);
    return { entry, qty };
  });
}

/** The named virtual account, or the default one; `cssm.unknownVirtualAccount` names the ones there are. */
export function findVirtualAccount(db: Db, name: string | undefined): VirtualAccount {
  if (name === undefined) {
    return db
      .prepare(`SELECT v.id AS id, v.name AS name FROM smart_account s JOIN virtual_account v ON v.id = s.default_virtual_account_id`)
      .get() as VirtualAccount;
  }
  const va = db.prepare('SELECT id, name FROM virtual_account WHERE name = ?').get(name.trim()) as VirtualAccount | undefined;
  if (va) return va;
  const names = (db.prepare('SELECT name FROM virtual_account ORDER BY id').all() as VirtualAccount[]).map((v) => v.name);
  throw new ExshError('cssm.unknownVirtualAccount', `There is no virtual account "${name}"; the smart account has ${names.join(', ')}.`);
}

const INSTANCE_SELECT = `SELECT p.*, v.name AS va FROM product_instance p JOIN virtual_account v ON v.id = p.virtual_account_id`;

/** `serial` has been checked by instanceSerial. */
function findInstance(db: Db, serial: string): InstanceRecord {
  const pi = db.prepare(`${INSTANCE_SELECT} WHERE p.udi_serial = ?`).get(serial) as InstanceRecord | undefined;
  if (!pi) throw new ExshError('cssm.unknownInstance', `No product instance has serial number ${serial}.`);
  return pi;
}

function allInstances(db: Db): InstanceRecord[] {
  return db.prepare(`${INSTANCE_SELECT} ORDER BY p.id`).all() as InstanceRecord[];
}

/** A registered (connected-mode) instance holds no reservation: no codes to update, confirm or show. */
function requireReserved(pi: InstanceRecord): asserts pi is InstanceRecord & { reservation_type: 'PLR' | 'SLR' } {
  if (pi.reservation_type === null) {
    throw new ExshError(
      'cssm.notReserved',
      `Product instance ${pi.udi_serial} is registered (connected mode) and holds no reservation: it has no authorization codes.`,
    );
  }
}

function requireSlr(pi: InstanceRecord, what: string): void {
  requireReserved(pi);
  if (pi.reservation_type !== 'SLR') {
    throw new ExshError(
      'cssm.notSlr',
      `Product instance ${pi.udi_serial} holds a Permanent License Reservation; only a Specific License Reservation can be ${what}.`,
    );
  }
}

function instanceUdi(pi: InstanceRecord): Udi {
  return { pid: pi.udi_pid, serial: pi.udi_serial, vid: pi.udi_vid, hostId: pi.host_id };
}

export function udiLabel(u: Udi): string {
  return `UDI_PID:${u.pid}; UDI_SN:${u.serial}; UDI_VID:${u.vid}`;
}

/** Units per licence of an allocation (line → units), in catalogue order. */
function licenceCounts(db: Db, allocation: Map<number, number>): LicenceCount[] {
  const tagOf = db.prepare('SELECT tag FROM licence_line WHERE id = ?');
  const counts = new Map<string, number>();
  for (const [line, n] of allocation) {
    if (n <= 0) continue;
    const { tag } = tagOf.get(line) as { tag: string };
    counts.set(tag, (counts.get(tag) ?? 0) + n);
  }
  return [...counts]
    .map(([tag, count]) => ({ license: catalogueEntry(tag)?.displayName ?? tag, tag, count }))
    .sort((a, b) => catalogueOrder(a.tag) - catalogueOrder(b.tag));
}

/** What an instance holds per licence: the larger of its confirmed and pending units. */
function heldLicences(db: Db, instanceId: number): LicenceCount[] {
  const rows = db
    .prepare(
      `SELECT l.tag AS tag, SUM(MAX(r.confirmed, COALESCE(r.pending, 0))) AS count
         FROM reservation r JOIN licence_line l ON l.id = r.line_id
        WHERE r.instance_id = ? GROUP BY l.tag`,
    )
    .all(instanceId) as Array<{ tag: string; count: number }>;
  return rows
    .filter((r) => r.count > 0)
    .map((r) => ({ license: catalogueEntry(r.tag)?.displayName ?? r.tag, tag: r.tag, count: r.count }))
    .sort((a, b) => catalogueOrder(a.tag) - catalogueOrder(b.tag));
}

/**
 * Chooses the purchased lines for `qty` units of one licence: lines the instance already
 * holds first (an update should not move it between lines), then perpetual lines, then
 * term lines longest-lasting first (CSSM's LONGEST_TERM_FIRST). Expired lines are skipped.
 */
function allocate(
  db: Db,
  env: CssmEnv,
  va: VirtualAccount,
  entry: CatalogueEntry,
  qty: number,
  self: { id: number; confirmed: Map<number, number> } | null,
): Map<number, number> {
  const lines = db
    .prepare(
      `SELECT l.id AS id, l.quantity - COALESCE((
                SELECT SUM(MAX(r.confirmed, COALESCE(r.pending, 0))) FROM reservation r
                 WHERE r.line_id = l.id AND r.instance_id != ?), 0) AS free
         FROM licence_line l
        WHERE l.virtual_account_id = ? AND l.tag = ? AND (l.end_date IS NULL OR l.end_date > ?)
        ORDER BY l.end_date IS NULL DESC, l.end_date DESC, l.id`,
    )
    .all(self?.id ?? -1, va.id, entry.tag, expiryCutoff(env)) as Array<{ id: number; free: number }>;
  // Balance = Purchased − In Use − Reserved: registered instances' use is not reservable.
  const available = Math.max(0, lines.reduce((sum, l) => sum + Math.max(0, l.free), 0) - inUseIn(db, va.id, entry.tag));
  if (qty > available) {
    throw new ExshError(
      'cssm.insufficientBalance',
      `Cannot reserve ${qty} ${entry.displayName} in virtual account ${va.name}: only ${available} available; ensure that you have a surplus of licences before reserving.`,
    );
  }
  const taken = new Map<number, number>();
  let remaining = qty;
  const take = (id: number, limit: number): void => {
    const n = Math.min(limit - (taken.get(id) ?? 0), remaining);
    if (n <= 0) return;
    taken.set(id, (taken.get(id) ?? 0) + n);
    remaining -= n;
  };
  for (const l of lines) take(l.id, Math.min(self?.confirmed.get(l.id) ?? 0, l.free));
  for (const l of lines) take(l.id, l.free);
  return taken;
}

/** One entitlement per licence and date range, in catalogue order (§6.5). */
function entitlements(db: Db, allocation: Map<number, number>): Entitlement[] {
  const line = db.prepare('SELECT tag, start_date, end_date, subscription_id FROM licence_line WHERE id = ?');
  const grouped = new Map<string, Entitlement & { order: number; start: number; end: number }>();
  for (const [id, count] of allocation) {
    if (count <= 0) continue;
    const l = line.get(id) as { tag: string; start_date: number | null; end_date: number | null; subscription_id: string };
    const entry = catalogueEntry(l.tag);
    const term = l.start_date !== null && l.end_date !== null;
    const startDate = term && l.start_date !== null ? formatSlrDate(new Date(l.start_date)) : '';
    const endDate = term && l.end_date !== null ? formatSlrDate(new Date(l.end_date)) : '';
    const key = `${l.tag}|${startDate}|${endDate}`;
    const existing = grouped.get(key);
    if (existing) {
      existing.count += count;
      continue;
    }
    grouped.set(key, {
      tag: l.tag,
      count,
      startDate,
      endDate,
      licenseType: term ? 'TERM' : 'PERPETUAL',
      displayName: entry?.displayName ?? l.tag,
      tagDescription: entry?.description ?? '',
      subscriptionId: l.subscription_id,
      order: catalogueOrder(l.tag),
      start: l.start_date ?? 0,
      end: l.end_date ?? 0,
    });
  }
  return [...grouped.values()]
    .sort((a, b) => a.order - b.order || a.start - b.start || a.end - b.end)
    .map(({ order: _order, start: _start, end: _end, ...e }) => e);
}

function recordCode(db: Db, instanceId: number, kind: 'PLR' | 'SLR', code: string, timestamp: number, state: 'current' | 'pending', issuedAt: number): number {
  const signature = signatureBytes(parseAuthorizationCode(code));
  return Number(
    db
      .prepare(
        `INSERT INTO authorization_code (instance_id, kind, code, signature, timestamp, state, issued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(instanceId, kind, code, signature, timestamp, state, issuedAt).lastInsertRowid,
  );
}
