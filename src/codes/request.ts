import { createHash } from 'node:crypto';
import { ExshError } from '../errors.js';
import { randomInt, type Rng } from '../random.js';
import { BASE58_ALPHABET } from './base58.js';
import { formatUdi, udiBlock, type Udi } from './udi.js';

export const NONCE_LENGTH = 8;

/** Eight Base58 characters drawn from the injected generator, so `--seed` repeats them (§5.5). */
export function makeNonce(rng: Rng): string {
  let nonce = '';
  for (let i = 0; i < NONCE_LENGTH; i++) nonce += BASE58_ALPHABET[randomInt(rng, BASE58_ALPHABET.length)];
  return nonce;
}

function checkByte(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest().subarray(0, 1).toString('hex').toUpperCase();
}

const NONCE = /^[1-9A-HJ-NP-Za-km-z]{8}$/;

/** `CB-P<pid>,S<serial>,V<vid>,H<hostid>-A<nonce>-<check>` (§6.4). */
export function makeRequestCode(u: Udi, nonce: string): string {
  if (!NONCE.test(nonce)) {
    throw new ExshError('code.badNonce', `The nonce '${nonce}' must be ${NONCE_LENGTH} Base58 characters.`);
  }
  const body = `CB-${udiBlock(u)}-A${nonce}`;
  return `${body}-${checkByte(body)}`;
}

// Parsed from the right, so a product id or serial containing '-' still reads correctly.
const REQUEST = /^CB-P([^\s,]+),S([^\s,]+),V([^\s,]+),H([^\s,]+)-A([1-9A-HJ-NP-Za-km-z]{8})-([0-9A-F]{2})$/;

function mistyped(why: string): ExshError {
  return new ExshError('request.mistyped', `The reservation request code is mistyped: ${why}.`);
}

export function parseRequestCode(code: string): { udi: Udi; nonce: string } {
  const text = code.trim();
  const m = REQUEST.exec(text);
  if (!m) {
    throw mistyped('expected CB-P<pid>,S<serial>,V<vid>,H<hostid>-A<8 Base58 characters>-<2 uppercase hex digits>');
  }
  const body = text.slice(0, text.lastIndexOf('-'));
  const [, pid = '', serial = '', vid = '', hostId = '', nonce = '', check] = m;
  if (checkByte(body) !== check) throw mistyped('its check digits do not match');
  const udi: Udi = { pid, serial, vid, hostId };
  if ([udi.pid, udi.serial, udi.vid, udi.hostId].some((f) => f.includes(':'))) {
    throw mistyped('a UDI field contains a colon');
  }
  return { udi, nonce };
}

/**
 * The product-instance id: a version-8 UUID (RFC 9562) whose 122 free bits are the first
 * bits of SHA-256("exsh/piid" ‖ UDI ‖ nonce), so CSSM and the device derive it alike.
 */
export function derivePiid(u: Udi, nonce: string): string {
  const h = createHash('sha256')
    .update(`exsh/piid${formatUdi(u)}${nonce}`, 'utf8')
    .digest();
  const b = Buffer.from(h.subarray(0, 16));
  b.writeUInt8((b.readUInt8(6) & 0x0f) | 0x80, 6);
  b.writeUInt8((b.readUInt8(8) & 0x3f) | 0x80, 8);
  return formatUuid(b);
}

export function formatUuid(b: Buffer): string {
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function uuidBytes(piid: string): Buffer {
  if (!UUID.test(piid)) throw new ExshError('code.badPiid', `'${piid}' is not a lowercase UUID.`);
  return Buffer.from(piid.replaceAll('-', ''), 'hex');
}
