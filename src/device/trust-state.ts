import { keyFingerprint, loadDemoAuthority } from '../codes/authority.js';
import type { DeviceContext } from './context.js';
import type { SectionSpec, Subsystem } from './model.js';
import { isObject, type DeviceState } from './state.js';

/**
 * The device's trust store (§6.7): the public keys whose signatures on authorization
 * codes it accepts. Every new device trusts the built-in demo authority, so `exsh` and
 * `exsh cssm` work together out of the box; `exsh trust add` adds a private authority
 * (`exsh cssm init --new-key`), `exsh trust remove` drops any key, the demo one included.
 */

export interface TrustedKey {
  name: string;
  /** keyFingerprint: first 16 hex digits of SHA-256 of the SubjectPublicKeyInfo DER. */
  fingerprint: string;
  publicKeyPem: string;
  addedAt: string;
  /** The demo authority every device starts with. */
  builtin: boolean;
}

export interface TrustSection {
  keys: TrustedKey[];
}

const SECTION = 'trustStore';
export const DEMO_KEY_NAME = 'demo';

function demoKey(at: string): TrustedKey {
  const demo = loadDemoAuthority();
  return { name: DEMO_KEY_NAME, fingerprint: keyFingerprint(demo.publicKey), publicKeyPem: demo.publicKeyPem, addedAt: at, builtin: true };
}

/** The trusted keys; a device from before this section existed trusts the demo authority. */
export function trustStore(state: DeviceState): readonly TrustedKey[] {
  const section = state[SECTION] as TrustSection | undefined;
  return section ? section.keys : [demoKey(state.createdAt)];
}

export function editTrust(ctx: DeviceContext): TrustSection {
  return ctx.edit<TrustSection>(SECTION, () => ({ keys: [demoKey(ctx.state.createdAt)] }));
}

/** A trusted key's name (`exsh trust add --name`). */
export const TRUST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FINGERPRINT = /^[0-9a-f]{16}$/;
const PUBLIC_KEY_PEM = /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$/;

/**
 * Structural checks, cheap enough for every read of the store (no key is parsed here:
 * a status read loads no crypto). That each key is a P-256 key with the fingerprint it
 * claims, and that only the demo authority is built in, is checked where a trust store
 * comes from outside: a restore (trust.ts, `trustStoreProblem`).
 */
export function validateTrust(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw) || !Array.isArray(raw.keys)) return 'trustStore is invalid';
  const names = new Set<string>();
  const fingerprints = new Set<string>();
  for (const [i, k] of raw.keys.entries()) {
    if (!isObject(k)) return `trustStore key ${i} is not an object`;
    for (const f of ['name', 'fingerprint', 'publicKeyPem', 'addedAt']) if (typeof k[f] !== 'string') return `trustStore key ${i} has no ${f}`;
    if (typeof k.builtin !== 'boolean') return `trustStore key ${i} has no builtin flag`;
    if (!TRUST_NAME.test(k.name as string)) return `trustStore key ${i} has an invalid name`;
    if (!FINGERPRINT.test(k.fingerprint as string)) return `trustStore key ${i} has an invalid fingerprint`;
    if (!PUBLIC_KEY_PEM.test(k.publicKeyPem as string)) return `trustStore key ${i} is not a PEM public key`;
    if (Number.isNaN(Date.parse(k.addedAt as string))) return `trustStore key ${i} has no time it was added`;
    if (names.has(k.name as string) || fingerprints.has(k.fingerprint as string)) return `trustStore key ${i} is in the store twice`;
    names.add(k.name as string);
    fingerprints.add(k.fingerprint as string);
  }
  return undefined;
}

export const trustSection: SectionSpec = {
  key: SECTION,
  init: ({ createdAt }) => ({ keys: [demoKey(createdAt)] }) satisfies TrustSection,
  validate: validateTrust,
  // The CSSM keys the device trusts are its "CA trust store" (§8.1).
  reset: 'certificates',
};

export const trust: Subsystem = { name: 'trust', sections: [trustSection] };
