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

export function validateTrust(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw) || !Array.isArray(raw.keys)) return 'trustStore is invalid';
  for (const [i, k] of raw.keys.entries()) {
    if (!isObject(k)) return `trustStore key ${i} is not an object`;
    for (const f of ['name', 'fingerprint', 'publicKeyPem', 'addedAt']) if (typeof k[f] !== 'string') return `trustStore key ${i} has no ${f}`;
    if (typeof k.builtin !== 'boolean') return `trustStore key ${i} has no builtin flag`;
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
