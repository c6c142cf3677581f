/**
 * Randomness is injected (§5.5). With a seed, bytes come from SHA-256 in counter mode
 * over the seed, so identities, nonces and tokens repeat run after run. node:crypto is
 * loaded on first use: a status read never needs it, and it costs start-up time.
 */
export interface Rng {
  bytes(n: number): Buffer;
}

const crypto = () => process.getBuiltinModule('node:crypto');

export const systemRng: Rng = { bytes: (n) => crypto().randomBytes(n) };

export function seededRng(seed: string | number, label = ''): Rng {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return {
    bytes(n: number): Buffer {
      while (pool.length < n) {
        const block = crypto().createHash('sha256').update(`exsh/rng/${label}/${seed}/${counter++}`).digest();
        pool = Buffer.concat([pool, block]);
      }
      const out = pool.subarray(0, n);
      pool = pool.subarray(n);
      return Buffer.from(out);
    },
  };
}

/** A uniform integer in [0, max) drawn from `rng` (rejection sampling, no modulo bias). */
export function randomInt(rng: Rng, max: number): number {
  if (max <= 0 || max > 2 ** 32) throw new RangeError('max out of range');
  const limit = Math.floor(2 ** 32 / max) * max;
  for (;;) {
    const v = rng.bytes(4).readUInt32BE(0);
    if (v < limit) return v % max;
  }
}
