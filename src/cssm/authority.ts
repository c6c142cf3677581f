import { createECDH, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { ensurePrivateDir, writePrivateFile } from '../files.js';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keyFingerprint, loadDemoAuthority } from '../codes/index.js';
import { storeError } from '../errors.js';
import type { Rng } from '../random.js';

export interface Authority {
  /** `demo`: the built-in key pair every device trusts out of the box (§6.7). */
  source: 'demo' | 'private';
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
  fingerprint: string;
}

export function authorityKeyPath(home: string): string {
  return join(resolve(home), 'authority', 'private-key.pem');
}

const cache = new Map<string, { pem: string; authority: Authority }>();
let demoAuthority: Authority | undefined;

/** The key that signs this home's codes: a private one once `init --new-key` made it, else the demo one. */
export function loadAuthority(home: string): Authority {
  const path = authorityKeyPath(home);
  if (!existsSync(path)) {
    if (!demoAuthority) {
      const demo = loadDemoAuthority();
      demoAuthority = { source: 'demo', ...demo, fingerprint: keyFingerprint(demo.publicKey) };
    }
    return demoAuthority;
  }
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw storeError('cssm.authorityUnreadable', `The authority key ${path} could not be read: ${(e as Error).message}.`);
  }
  const hit = cache.get(path);
  if (hit && hit.pem === pem) return hit.authority;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (e) {
    throw storeError('cssm.authorityUnreadable', `The authority key ${path} is not a private key: ${(e as Error).message}.`);
  }
  const publicKey = createPublicKey(privateKey);
  const authority: Authority = {
    source: 'private',
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    fingerprint: keyFingerprint(publicKey),
  };
  cache.set(path, { pem, authority });
  return authority;
}

/** The order of the P-256 group: a private scalar is in [1, n). */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/**
 * A P-256 key pair whose private scalar is drawn from `rng` (rejection sampling): from the
 * system's CSPRNG normally, from the seed under `--seed`, so that a walk-through run with a
 * seed makes the same private authority (and fingerprint) every time.
 */
export function p256KeyFromRng(rng: Rng): KeyObject {
  for (;;) {
    const d = rng.bytes(32);
    const k = BigInt(`0x${d.toString('hex')}`);
    if (k === 0n || k >= P256_ORDER) continue;
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(d);
    const point = ecdh.getPublicKey();
    const b64 = (b: Buffer) => b.toString('base64url');
    return createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', d: b64(d), x: b64(point.subarray(1, 33)), y: b64(point.subarray(33, 65)) },
      format: 'jwk',
    });
  }
}

/**
 * Generates a P-256 authority key under `<home>/authority/` (0600), replacing any
 * earlier one, and writes its public key as `public-key.pem` beside it.
 */
export function createPrivateAuthority(home: string, rng: Rng): Authority {
  const path = authorityKeyPath(home);
  const dir = join(resolve(home), 'authority');
  ensurePrivateDir(dir, 'The authority directory');
  const privateKey = p256KeyFromRng(rng);
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writePrivateFile(path, pem);
  const authority = loadAuthority(home);
  // The public half beside it, ready for `exsh trust add <home>/authority/public-key.pem`.
  writePrivateFile(join(dir, 'public-key.pem'), authority.publicKeyPem);
  return authority;
}
