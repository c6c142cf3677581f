import { createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyFingerprint } from '../../src/codes/index.js';
import { p256KeyFromRng } from '../../src/cssm/authority.js';
import { seededRng, systemRng } from '../../src/random.js';

describe('private authority keys', () => {
  it('are real P-256 keys: what one signs, node:crypto verifies with its public half', () => {
    const key = p256KeyFromRng(systemRng);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const sig = sign('sha256', Buffer.from('hello'), key);
    expect(verify('sha256', Buffer.from('hello'), createPublicKey(key), sig)).toBe(true);
    expect(verify('sha256', Buffer.from('hellO'), createPublicKey(key), sig)).toBe(false);
  });

  it('repeat under a seed and differ without one', () => {
    const fp = (k: ReturnType<typeof p256KeyFromRng>) => keyFingerprint(createPublicKey(k));
    expect(fp(p256KeyFromRng(seededRng(7, 'cssm')))).toBe(fp(p256KeyFromRng(seededRng(7, 'cssm'))));
    expect(fp(p256KeyFromRng(seededRng(7, 'cssm')))).not.toBe(fp(p256KeyFromRng(seededRng(8, 'cssm'))));
    expect(fp(p256KeyFromRng(systemRng))).not.toBe(fp(p256KeyFromRng(systemRng)));
  });

  it('skip a drawn scalar outside [1, n)', () => {
    let calls = 0;
    const rng = { bytes: (n: number) => (calls++ === 0 ? Buffer.alloc(n, 0xff) : Buffer.alloc(n, 0x11)) };
    const key = p256KeyFromRng(rng);
    expect(calls).toBe(2);
    expect(key.export({ format: 'jwk' }).d).toBe(Buffer.alloc(32, 0x11).toString('base64url'));
  });
});
