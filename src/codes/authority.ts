import { readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { packageFile } from '../paths.js';

export interface DemoAuthority {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicKeyPem: string;
}

// Loaded on first use: a new device trusts the demo key, but a status read needs no crypto.
const crypto = () => process.getBuiltinModule('node:crypto');

let demo: DemoAuthority | undefined;

/**
 * The built-in demo authority (§6.7): a key pair published in fixtures/, so the simulated
 * device and CSSM work together with no set-up. Read once per process.
 */
export function loadDemoAuthority(): DemoAuthority {
  if (!demo) {
    const privateKey = crypto().createPrivateKey(readFileSync(packageFile('fixtures/demo-authority/private.pem'), 'utf8'));
    const publicKeyPem = readFileSync(packageFile('fixtures/demo-authority/public.pem'), 'utf8');
    demo = { privateKey, publicKey: crypto().createPublicKey(publicKeyPem), publicKeyPem };
  }
  return demo;
}

/** First 16 hex digits of SHA-256 of the SubjectPublicKeyInfo DER: a short, stable id for `trust list`. */
export function keyFingerprint(pub: KeyObject): string {
  const spki = (pub.type === 'public' ? pub : crypto().createPublicKey(pub)).export({ type: 'spki', format: 'der' });
  return crypto().createHash('sha256').update(spki).digest('hex').slice(0, 16);
}
