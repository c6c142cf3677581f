import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { ensurePrivateDir, writePrivateFile } from '../files.js';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keyFingerprint, loadDemoAuthority } from '../codes/index.js';
import { storeError } from '../errors.js';

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

/** The key that signs this home's codes: a private one once `init --new-key` made it, else the demo one. */
export function loadAuthority(home: string): Authority {
  const path = authorityKeyPath(home);
  if (!existsSync(path)) {
    const demo = loadDemoAuthority();
    return { source: 'demo', ...demo, fingerprint: keyFingerprint(demo.publicKey) };
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

/**
 * Generates a P-256 authority key under `<home>/authority/` (0600), replacing any
 * earlier one, and writes its public key as `public-key.pem` beside it.
 */
export function createPrivateAuthority(home: string): Authority {
  const path = authorityKeyPath(home);
  const dir = join(resolve(home), 'authority');
  ensurePrivateDir(dir, 'The authority directory');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writePrivateFile(path, pem);
  const authority = loadAuthority(home);
  // The public half beside it, ready for `exsh trust add <home>/authority/public-key.pem`.
  writePrivateFile(join(dir, 'public-key.pem'), authority.publicKeyPem);
  return authority;
}
