import { sign, type KeyObject } from 'node:crypto';
import { ExshError } from '../errors.js';
import { decodeBase58, encodeBase58, isBase58Char } from './base58.js';
import { groupWithDashes, ungroup } from './dashes.js';
import { formatUuid, uuidBytes } from './request.js';
import type { AuthorizationCode, PlrPayload } from './types.js';
import { formatUdi, type Udi } from './udi.js';

export const PLR_VERSION = 1;
const EXPORT_CONTROL = 0x01;
const FIELDS_LENGTH = 1 + 1 + 8 + 16;
const SIGNATURE_LENGTH = 64;
export const PLR_BYTES = FIELDS_LENGTH + SIGNATURE_LENGTH;
/** With version byte 1 the 90 bytes lie between 58^121 and 58^122: always 122 Base58 digits. */
export const PLR_DIGITS = 122;

/** version ‖ flags ‖ timestamp (8 bytes, big-endian ms) ‖ piid (16 bytes). */
export function plrFields(p: PlrPayload): Buffer {
  const b = Buffer.alloc(FIELDS_LENGTH);
  b[0] = p.version;
  b[1] = p.exportControl ? EXPORT_CONTROL : 0;
  b.writeBigUInt64BE(BigInt(p.timestamp), 2);
  uuidBytes(p.piid).copy(b, 10);
  return b;
}

/** What the PLR signature covers: the fields, then the UDI it is meant for (not carried in the code). */
export function plrSignedBytes(p: PlrPayload, u: Udi): Buffer {
  return Buffer.concat([plrFields(p), Buffer.from(formatUdi(u), 'utf8')]);
}

export function buildPlrCode(p: PlrPayload, u: Udi, key: KeyObject): string {
  if (p.version !== PLR_VERSION) {
    throw new ExshError('code.build', `Cannot build the PLR authorization code: the version must be ${PLR_VERSION}.`);
  }
  if (!Number.isSafeInteger(p.timestamp) || p.timestamp < 0) {
    throw new ExshError('code.build', 'Cannot build the PLR authorization code: the timestamp must be epoch milliseconds.');
  }
  const signature = sign('sha256', plrSignedBytes(p, u), { key, dsaEncoding: 'ieee-p1363' });
  return groupWithDashes(`C${encodeBase58(Buffer.concat([plrFields(p), signature]))}`);
}

function parseError(why: string): ExshError {
  return new ExshError('code.parse', `The PLR authorization code is malformed: ${why}.`);
}

/** `canonical` must already be canonical and start with `C`. */
export function parsePlrCode(canonical: string): Extract<AuthorizationCode, { type: 'PLR' }> {
  const plain = ungroup(canonical);
  if (plain === null) throw parseError('its dashes must come after every sixth character');
  const digits = plain.slice(1);
  const bad = [...digits].findIndex((c) => !isBase58Char(c));
  if (bad >= 0) throw parseError(`'${digits[bad]}' is not a Base58 character (Base58 has no 0, O, I or l)`);
  if (digits.length !== PLR_DIGITS) {
    throw parseError(`it must have ${PLR_DIGITS} characters after the C (dashes aside), not ${digits.length}`);
  }
  const bytes = decodeBase58(digits);
  if (bytes.length !== PLR_BYTES) throw parseError(`version ${bytes[0]} is not supported (expected ${PLR_VERSION})`);
  if (bytes[0] !== PLR_VERSION) throw parseError(`version ${bytes[0]} is not supported (expected ${PLR_VERSION})`);
  const flags = bytes[1] ?? 0;
  if ((flags & ~EXPORT_CONTROL) !== 0) throw parseError('it sets unknown flags');
  const timestamp = bytes.readBigUInt64BE(2);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw parseError('its timestamp is out of range');
  const payload: PlrPayload = {
    version: PLR_VERSION,
    exportControl: (flags & EXPORT_CONTROL) !== 0,
    timestamp: Number(timestamp),
    piid: formatUuid(bytes.subarray(10, FIELDS_LENGTH)),
  };
  return {
    type: 'PLR',
    payload,
    signature: Buffer.from(bytes.subarray(FIELDS_LENGTH)),
    canonical: groupWithDashes(plain),
  };
}
