import { describe, expect, it } from 'vitest';
import { decodeBase58, encodeBase58 } from '../../src/codes/index.js';
import { seededRng } from '../../src/random.js';
import { errorOf } from './helpers.js';

describe('Base58 (Bitcoin alphabet)', () => {
  it.each([
    ['', ''],
    ['00', '1'],
    ['0000', '11'],
    ['61', '2g'],
    ['626262', 'a3gV'],
    ['636363', 'aPEr'],
    ['68656c6c6f20776f726c64', 'StV1DL6CwTryKyV'],
    ['0000287fb4cd', '11233QC4'],
    ['ff', '5Q'],
  ])('%s <-> %s', (hex, b58) => {
    expect(encodeBase58(Buffer.from(hex, 'hex'))).toBe(b58);
    expect(decodeBase58(b58).toString('hex')).toBe(hex);
  });

  it('round-trips random byte strings, leading zeros included', () => {
    const rng = seededRng('base58');
    for (let len = 0; len < 40; len++) {
      const b = rng.bytes(len);
      if (len % 3 === 0 && len > 0) b[0] = 0;
      expect(decodeBase58(encodeBase58(b)).equals(b)).toBe(true);
    }
  });

  it.each(['0', 'O', 'I', 'l', '+', ' ', 'é'])('rejects %j as a digit', (bad) => {
    expect(errorOf(() => decodeBase58(`2g${bad}3`))).toEqual({
      code: 'code.base58InvalidDigit',
      message: `'${bad}' at position 3 is not a Base58 digit (Base58 has no 0, O, I or l).`,
    });
  });
});
