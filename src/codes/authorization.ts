import { verify, type KeyObject } from 'node:crypto';
import { ExshError } from '../errors.js';
import { canonicalizeCode } from './canonical.js';
import { parsePlrCode, plrSignedBytes } from './plr.js';
import { parseSlrCode } from './slr.js';
import type { AuthorizationCode } from './types.js';
import type { Udi } from './udi.js';

/** §6.3 step 1: canonical form, then the SLR XML or the PLR short code by its first character. */
export function parseAuthorizationCode(text: string): AuthorizationCode {
  const canonical = canonicalizeCode(text);
  if (canonical === '') throw new ExshError('code.parse', 'The authorization code is empty.');
  if (canonical.startsWith('<')) return parseSlrCode(canonical);
  if (canonical.startsWith('C')) return parsePlrCode(canonical);
  throw new ExshError('code.parse', 'The authorization code is neither SLR XML (starting with <specificPLR>) nor a PLR code (starting with C).');
}

/**
 * §6.3 step 2. An SLR code is checked against the UDI it names (the caller then compares
 * that with the device, step 3). A PLR code does not carry its UDI, so it is checked
 * against `deviceUdi`: a PLR code issued for another device simply fails here.
 */
export function verifySignature(code: AuthorizationCode, deviceUdi: Udi, trusted: KeyObject[]): boolean {
  const data = code.type === 'SLR' ? code.signedBytes : plrSignedBytes(code.payload, deviceUdi);
  for (const key of trusted) {
    try {
      const ok = code.type === 'SLR' ? verify('sha256', data, key, code.signature) : verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, code.signature);
      if (ok) return true;
    } catch {
      // A key of another type or curve in the trust store cannot have signed this code.
    }
  }
  return false;
}

/** The raw signature bytes: DER for SLR, r ‖ s for PLR. Return and confirmation digests cover them. */
export function signatureBytes(code: AuthorizationCode): Buffer {
  return code.signature;
}
