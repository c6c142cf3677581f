import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface DemoAuthority {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
}

let demo: DemoAuthority | undefined;

/**
 * The built-in demo authority (§6.7): a key pair published in fixtures/, so the simulated
 * device and CSSM work together with no set-up. Read once per process. The path is
 * relative to this module, which sits two levels below the package root both as
 * src/codes/*.ts (tests) and dist/codes/*.js (the built CLI).
 */
export function loadDemoAuthority(): DemoAuthority {
  if (!demo) {
    const dir = new URL('../../fixtures/demo-authority/', import.meta.url);
    const privateKey = createPrivateKey(readFileSync(new URL('private.pem', dir), 'utf8'));
    const publicKeyPem = readFileSync(new URL('public.pem', dir), 'utf8');
    demo = { privateKey, publicKey: createPublicKey(publicKeyPem), publicKeyPem };
  }
  return demo;
}

/** First 16 hex digits of SHA-256 of the SubjectPublicKeyInfo DER: a short, stable id for `trust list`. */
export function keyFingerprint(pub: KeyObject): string {
  const spki = (pub.type === 'public' ? pub : createPublicKey(pub)).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 16);
}
