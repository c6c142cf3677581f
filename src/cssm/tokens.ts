import { formatUuid } from '../codes/request.js';
import { ExshError, usageError } from '../errors.js';
import { readTransaction, writeTransaction, type Db } from './db.js';
import { database, findVirtualAccount, statement, type CssmEnv } from './service.js';

/**
 * Product instance registration tokens (§9.1). A token is made in a virtual account and
 * registers devices into it; it is valid at a simulated time t when it exists, is not
 * revoked, was created at or before t, expires after t and has uses left. The CSSM
 * judges a registration at the time the request carries, so a device whose clock is
 * ahead can find a token expired that the CSSM's own clock still calls valid.
 */

const DAY_MS = 86_400_000;
export const DEFAULT_TOKEN_DAYS = 30;
export const MAX_TOKEN_DAYS = 365;
export const MAX_DESCRIPTION_LENGTH = 256;

export interface TokenInfo {
  token: string;
  virtualAccount: string;
  description: string;
  /** ISO 8601. */
  createdAt: string;
  expiresAt: string;
  /** null: unlimited. */
  maxUses: number | null;
  uses: number;
  /** "Allow export-controlled functionality on the products registered with this token". */
  exportControlled: boolean;
  revoked: boolean;
  revokedAt?: string;
}

export interface CreateTokenOptions {
  virtualAccount?: string;
  description?: string;
  /** 1..365, default 30; a string is taken as typed (`--expires-days`), whole digits only. */
  expiresDays?: number | string;
  /** ≥ 1, default unlimited; a string as typed (`--max-uses`). */
  maxUses?: number | string;
  /** Default true, as the portal's checkbox is ticked by default. */
  exportControlled?: boolean;
}

/** A token row as the registration handler needs it. */
export interface TokenRecord {
  id: number;
  token: string;
  virtualAccountId: number;
  virtualAccount: string;
  description: string;
  createdAt: number;
  expiresAt: number;
  maxUses: number | null;
  uses: number;
  exportControlled: boolean;
  revokedAt: number | null;
}

/** Why a token cannot register a device at a given time. */
export type TokenProblem = 'unknown' | 'revoked' | 'notYetValid' | 'expired' | 'usedUp';

/** Creates a token in the virtual account (default: the smart account's default). */
export function createToken(env: CssmEnv, opts: CreateTokenOptions = {}): TokenInfo {
  const days = opts.expiresDays === undefined ? DEFAULT_TOKEN_DAYS : wholeNumber(opts.expiresDays);
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_TOKEN_DAYS) {
    throw usageError('cssm.badValue', `--expires-days must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}, not '${String(opts.expiresDays)}'.`);
  }
  const maxUses = opts.maxUses === undefined ? null : wholeNumber(opts.maxUses);
  if (maxUses !== null && (!Number.isSafeInteger(maxUses) || maxUses < 1)) {
    throw usageError('cssm.badValue', `--max-uses must be a whole number of 1 or more, not '${String(opts.maxUses)}'.`);
  }
  const description = opts.description ?? '';
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw usageError('cssm.badValue', `The token description must be at most ${MAX_DESCRIPTION_LENGTH} characters, not ${description.length}.`);
  }
  const db = database(env);
  return writeTransaction(db, () => {
    const va = findVirtualAccount(db, opts.virtualAccount);
    const at = env.now().getTime();
    const exists = statement(db, 'SELECT 1 FROM registration_token WHERE token = ?');
    // Under --seed every process draws the same sequence: draw again until the token is new.
    let token = newToken(env, at);
    for (let tries = 1; exists.get(token) !== undefined; tries++) {
      if (tries >= 1000) throw new ExshError('cssm.tokenCollision', 'Could not draw a registration token that is not already in use.');
      token = newToken(env, at);
    }
    statement(
      db,
      `INSERT INTO registration_token (token, virtual_account_id, description, created_at, expires_at, max_uses, uses, export_controlled)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?)`,
    ).run(token, va.id, description, at, at + days * DAY_MS, maxUses, opts.exportControlled === false ? 0 : 1);
    return tokenInfo(recordOf(db, token) as TokenRecord);
  });
}

/** The tokens of one virtual account, or of every one, oldest first. */
export function listTokens(env: CssmEnv, opts: { virtualAccount?: string } = {}): TokenInfo[] {
  const db = database(env);
  return readTransaction(db, () => {
    const va = opts.virtualAccount !== undefined ? findVirtualAccount(db, opts.virtualAccount) : undefined;
    const rows = statement(db, `${TOKEN_SELECT} ${va ? 'WHERE t.virtual_account_id = ?' : ''} ORDER BY t.id`).all(...(va ? [va.id] : [])) as TokenRow[];
    return rows.map((r) => tokenInfo(fromRow(r)));
  });
}

export interface RevokedToken extends TokenInfo {
  /** It had been revoked before: nothing changed. */
  alreadyRevoked: boolean;
}

/** Revokes a token: no device can register with it from now on; instances registered with it stay. */
export function revokeToken(env: CssmEnv, token: string): RevokedToken {
  const wanted = normaliseToken(token);
  const db = database(env);
  return writeTransaction(db, () => {
    const record = recordOf(db, wanted);
    if (!record) throw new ExshError('cssm.tokenNotFound', 'There is no registration token like that in this smart account; exsh cssm tokens list shows them.');
    const alreadyRevoked = record.revokedAt !== null;
    if (!alreadyRevoked) statement(db, 'UPDATE registration_token SET revoked_at = ? WHERE id = ?').run(env.now().getTime(), record.id);
    return { ...tokenInfo(recordOf(db, wanted) as TokenRecord), alreadyRevoked };
  });
}

// ---------------------------------------------------------------------------------------
// for the registration handler (inside its transactions)

/**
 * The token as the device sent it, found and judged at `at` (ms): the record when it can
 * register a device, else why not. A token pasted line-wrapped or URL-encoded (as real
 * ones reach CLIs, `%0A`, `%3D`) is taken as the token it encodes.
 */
export function judgeToken(db: Db, token: string, at: number): { record: TokenRecord; problem?: TokenProblem } | { record?: undefined; problem: 'unknown' } {
  const record = recordOf(db, normaliseToken(token));
  if (!record) return { problem: 'unknown' };
  const problem = problemOf(record, at);
  return problem ? { record, problem } : { record };
}

/** Uses one registration of the token; false when none was left (it was judged before, in the same transaction). */
export function consumeTokenUse(db: Db, tokenId: number): boolean {
  return statement(db, 'UPDATE registration_token SET uses = uses + 1 WHERE id = ? AND (max_uses IS NULL OR uses < max_uses)').run(tokenId).changes === 1;
}

/** The sentence after "The token is invalid or expired: ". */
export function tokenProblemReason(problem: TokenProblem, record: TokenRecord | undefined): string {
  switch (problem) {
    case 'unknown':
      return 'this CSSM issued no such token.';
    case 'revoked':
      return `it was revoked on ${formatTime(record?.revokedAt ?? 0)}.`;
    case 'notYetValid':
      return `it is valid only from ${formatTime(record?.createdAt ?? 0)}, after the time of the request.`;
    case 'expired':
      return `it expired on ${formatTime(record?.expiresAt ?? 0)}.`;
    case 'usedUp':
      return `it has been used the most times it allows (${record?.maxUses ?? 0}).`;
  }
}

// ---------------------------------------------------------------------------------------
// helpers

interface TokenRow {
  id: number;
  token: string;
  virtual_account_id: number;
  va: string;
  description: string;
  created_at: number;
  expires_at: number;
  max_uses: number | null;
  uses: number;
  export_controlled: number;
  revoked_at: number | null;
}

const TOKEN_SELECT = 'SELECT t.*, v.name AS va FROM registration_token t JOIN virtual_account v ON v.id = t.virtual_account_id';

function recordOf(db: Db, token: string): TokenRecord | undefined {
  const row = statement(db, `${TOKEN_SELECT} WHERE t.token = ?`).get(token) as TokenRow | undefined;
  return row ? fromRow(row) : undefined;
}

function fromRow(r: TokenRow): TokenRecord {
  return {
    id: r.id,
    token: r.token,
    virtualAccountId: r.virtual_account_id,
    virtualAccount: r.va,
    description: r.description,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    maxUses: r.max_uses,
    uses: r.uses,
    exportControlled: r.export_controlled === 1,
    revokedAt: r.revoked_at,
  };
}

function problemOf(r: TokenRecord, at: number): TokenProblem | undefined {
  if (r.revokedAt !== null) return 'revoked';
  if (at < r.createdAt) return 'notYetValid';
  if (at >= r.expiresAt) return 'expired';
  if (r.maxUses !== null && r.uses >= r.maxUses) return 'usedUp';
  return undefined;
}

function tokenInfo(r: TokenRecord): TokenInfo {
  return {
    token: r.token,
    virtualAccount: r.virtualAccount,
    description: r.description,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    maxUses: r.maxUses,
    uses: r.uses,
    exportControlled: r.exportControlled,
    revoked: r.revokedAt !== null,
    ...(r.revokedAt !== null ? { revokedAt: new Date(r.revokedAt).toISOString() } : {}),
  };
}

/**
 * Cisco's shape: Base64 of `<uuid v4>-<13-digit epoch ms>|<Base64 of 32 random bytes>`,
 * 95 bytes, so 128 characters (standard alphabet, `%`-free, on one line). The bytes come
 * from the environment's generator, so a seeded run makes the same tokens.
 */
function newToken(env: CssmEnv, at: number): string {
  const id = env.rng.bytes(16);
  id.writeUInt8((id.readUInt8(6) & 0x0f) | 0x40, 6);
  id.writeUInt8((id.readUInt8(8) & 0x3f) | 0x80, 8);
  const text = `${formatUuid(id)}-${String(at).padStart(13, '0')}|${env.rng.bytes(32).toString('base64')}`;
  return Buffer.from(text, 'utf8').toString('base64');
}

function normaliseToken(token: string): string {
  let t = token;
  if (t.includes('%')) {
    try {
      t = decodeURIComponent(t);
    } catch {
      // Not URL-encoded after all: look it up as it is.
    }
  }
  return t.replace(/\s+/g, '');
}

function wholeNumber(value: number | string): number {
  if (typeof value === 'number') return value;
  return /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
}

function formatTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}
