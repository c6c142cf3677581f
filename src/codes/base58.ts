import { ExshError } from '../errors.js';

/** The Bitcoin alphabet: no `0`, `O`, `I` or `l`, so codes survive being read aloud or retyped. */
export const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE58_ALPHABET.length; i++) DIGIT_VALUE[BASE58_ALPHABET.charCodeAt(i)] = i;

const BIG58 = 58n;

export function isBase58Char(c: string): boolean {
  const code = c.charCodeAt(0);
  return c.length === 1 && code < 128 && (DIGIT_VALUE[code] ?? -1) >= 0;
}

/** Base58 as Bitcoin does it: the bytes as one big-endian integer, each leading zero byte as `1`. */
export function encodeBase58(b: Uint8Array): string {
  let zeros = 0;
  while (zeros < b.length && b[zeros] === 0) zeros++;
  let n = 0n;
  for (let i = zeros; i < b.length; i++) n = (n << 8n) | BigInt(b[i] ?? 0);
  let digits = '';
  while (n > 0n) {
    digits = BASE58_ALPHABET[Number(n % BIG58)] + digits;
    n /= BIG58;
  }
  return '1'.repeat(zeros) + digits;
}

export function decodeBase58(s: string): Buffer {
  let zeros = 0;
  while (zeros < s.length && s[zeros] === '1') zeros++;
  let n = 0n;
  for (let i = zeros; i < s.length; i++) {
    const code = s.charCodeAt(i);
    const v = code < 128 ? (DIGIT_VALUE[code] ?? -1) : -1;
    if (v < 0) {
      throw new ExshError('code.base58InvalidDigit', `'${s[i]}' at position ${i + 1} is not a Base58 digit (Base58 has no 0, O, I or l).`);
    }
    n = n * BIG58 + BigInt(v);
  }
  const body: number[] = [];
  while (n > 0n) {
    body.push(Number(n & 0xffn));
    n >>= 8n;
  }
  body.reverse();
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(body)]);
}
