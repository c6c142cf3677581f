import { createHash } from 'node:crypto';
import { ExshError } from '../errors.js';
import { decodeBase58, encodeBase58, isBase58Char } from './base58.js';
import { canonicalizeCode } from './canonical.js';
import { groupWithDashes, ungroup } from './dashes.js';
import { formatUdi, type Udi } from './udi.js';

/** `installed`: `Return` of the installed code; `unused`: `ReturnAuthorization` of a code never installed. */
export type ReturnKind = 'installed' | 'unused';

export const RETURN_CODE_DIGITS = 50;

/*
 * A return code is 36 bytes: a marker byte naming the kind, a 32-byte digest CSSM
 * recomputes, and a 3-byte check over both so CSSM can tell "mistyped" from "not this
 * device's code". Every marker is at least 0x84, which puts the number between 58^49 and
 * 58^50: the Base58 is then always exactly 50 digits, the length Cisco's codes have.
 */
const MARKER: Record<ReturnKind, number> = { installed: 0xc1, unused: 0xc2 };
const DIGEST_LENGTH = 32;
const CHECK_LENGTH = 3;
const RETURN_BYTES = 1 + DIGEST_LENGTH + CHECK_LENGTH;

function returnDigest(kind: ReturnKind, u: Udi, piid: string, sig: Buffer): Buffer {
  return createHash('sha256')
    .update(`exsh/return${kind}${formatUdi(u)}${piid}`, 'utf8')
    .update(sig)
    .digest();
}

function check(head: Buffer): Buffer {
  return createHash('sha256').update('exsh/return-check', 'utf8').update(head).digest().subarray(0, CHECK_LENGTH);
}

export function makeReturnCode(kind: ReturnKind, u: Udi, piid: string, sig: Buffer): string {
  const head = Buffer.concat([Buffer.from([MARKER[kind]]), returnDigest(kind, u, piid, sig)]);
  return groupWithDashes(`C${encodeBase58(Buffer.concat([head, check(head)]))}`);
}

function mistyped(why: string): ExshError {
  return new ExshError('return.mistyped', `The return code is mistyped: ${why}.`);
}

/** Accepts the code dashed every six characters or not at all, wrapped or quoted. */
export function parseReturnCode(code: string): { kind: ReturnKind; digest: Buffer } {
  const plain = ungroup(canonicalizeCode(code));
  if (plain === null) throw mistyped('its dashes must come after every sixth character');
  if (!plain.startsWith('C')) throw mistyped("it must start with 'C'");
  const digits = plain.slice(1);
  if (digits.length !== RETURN_CODE_DIGITS) {
    throw mistyped(`it must have ${RETURN_CODE_DIGITS} characters after the C, not ${digits.length}`);
  }
  const bad = [...digits].find((c) => !isBase58Char(c));
  if (bad !== undefined) throw mistyped(`'${bad}' is not a Base58 character (Base58 has no 0, O, I or l)`);
  const bytes = decodeBase58(digits);
  if (bytes.length !== RETURN_BYTES) throw mistyped('it does not decode to a return code');
  const head = bytes.subarray(0, 1 + DIGEST_LENGTH);
  if (!check(head).equals(bytes.subarray(1 + DIGEST_LENGTH))) throw mistyped('its check characters do not match');
  const kind = (Object.keys(MARKER) as ReturnKind[]).find((k) => MARKER[k] === bytes[0]);
  if (!kind) throw mistyped('it does not decode to a return code');
  return { kind, digest: Buffer.from(head.subarray(1)) };
}

/**
 * The kind when `code` is the return code of (u, piid, sig), else null.
 * Throws `return.mistyped` when `code` is not a well-formed return code at all.
 */
export function returnCodeMatches(code: string, u: Udi, piid: string, sig: Buffer): ReturnKind | null {
  const { kind, digest } = parseReturnCode(code);
  return returnDigest(kind, u, piid, sig).equals(digest) ? kind : null;
}

/** 8 lowercase hex: the first 4 bytes of SHA-256("exsh/confirm" ‖ UDI ‖ piid ‖ signature). */
export function confirmationCode(u: Udi, piid: string, sig: Buffer): string {
  return createHash('sha256')
    .update(`exsh/confirm${formatUdi(u)}${piid}`, 'utf8')
    .update(sig)
    .digest()
    .subarray(0, 4)
    .toString('hex');
}
