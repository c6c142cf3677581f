import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { keyFingerprint, loadDemoAuthority } from '../codes/authority.js';
import { ExshError } from '../errors.js';
import { registerInitialiser } from './device.js';
import { registerResetSection } from './retention.js';
import type { DeviceState } from './state.js';
import { registerStateValidator } from './store.js';

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
// The CSSM keys the device trusts (§6.7) are its "CA trust store" (§8.1).
registerResetSection(SECTION, 'certificates');
export const DEMO_KEY_NAME = 'demo';

function demoKey(at: string): TrustedKey {
  const demo = loadDemoAuthority();
  return {
    name: DEMO_KEY_NAME,
    fingerprint: keyFingerprint(demo.publicKey),
    publicKeyPem: demo.publicKeyPem,
    addedAt: at,
    builtin: true,
  };
}

export function initialiseTrust(state: DeviceState): void {
  state[SECTION] = { keys: [demoKey(state.createdAt)] } satisfies TrustSection;
}

/** The trusted keys; a device from before this section existed trusts the demo authority. */
export function trustStore(state: DeviceState): readonly TrustedKey[] {
  const section = state[SECTION] as TrustSection | undefined;
  return section ? section.keys : [demoKey(state.createdAt)];
}

function writableTrust(state: DeviceState): TrustSection {
  let section = state[SECTION] as TrustSection | undefined;
  if (!section) {
    section = { keys: [demoKey(state.createdAt)] };
    state[SECTION] = section;
  }
  return section;
}

// Key objects are parsed once per PEM per process: verification is on the install hot path.
const parsed = new Map<string, KeyObject>();

function keyObject(pem: string): KeyObject {
  let k = parsed.get(pem);
  if (!k) {
    k = createPublicKey(pem);
    parsed.set(pem, k);
  }
  return k;
}

/** The keys an authorization code's signature is checked against (§6.3 step 2). */
export function trustedKeys(state: DeviceState): KeyObject[] {
  return trustStore(state).map((t) => keyObject(t.publicKeyPem));
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export interface ReadKey {
  publicKey: KeyObject;
  publicKeyPem: string;
  /** The file held a private key: only its public half is kept. */
  fromPrivateKey: boolean;
  fromCertificate: boolean;
}

/**
 * Reads an authority's public key from PEM text: a public key, a certificate, or (as
 * `<home>/authority/private-key.pem` is) a private key, whose public half is taken. The
 * text may hold other lines around the PEM block, such as the output of `cssm init`.
 * The key must be ECDSA P-256, the only kind that signs exsh codes (§6.4).
 */
export function readAuthorityKey(text: string, source: string): ReadKey {
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.length === 0) {
    throw new ExshError('trust.badKey', `${source} holds no PEM block (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----).`);
  }
  const [block, label] = blocks[0] as RegExpMatchArray & [string, string];
  let publicKey: KeyObject;
  let fromPrivateKey = false;
  let fromCertificate = false;
  try {
    if (label === 'CERTIFICATE') {
      publicKey = new X509Certificate(block).publicKey;
      fromCertificate = true;
    } else {
      fromPrivateKey = label.includes('PRIVATE');
      publicKey = createPublicKey(block);
    }
  } catch (e) {
    throw new ExshError('trust.badKey', `${source} does not hold a readable key: ${(e as Error).message}.`);
  }
  const details = publicKey.asymmetricKeyDetails;
  if (publicKey.asymmetricKeyType !== 'ec' || details?.namedCurve !== 'prime256v1') {
    throw new ExshError(
      'trust.badKey',
      `${source} holds a ${publicKey.asymmetricKeyType ?? 'unknown'}${details?.namedCurve ? ` ${details.namedCurve}` : ''} key; authorization codes are signed with ECDSA P-256 keys only.`,
    );
  }
  return {
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    fromPrivateKey,
    fromCertificate,
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Adds a key; refuses a key already trusted and a name already used. */
export function addTrustedKey(state: DeviceState, key: ReadKey, name: string | undefined, at: Date): TrustedKey {
  const section = writableTrust(state);
  const fingerprint = keyFingerprint(key.publicKey);
  const keyName = name ?? `authority-${fingerprint.slice(0, 8)}`;
  if (!NAME.test(keyName)) {
    throw new ExshError('trust.badName', `Invalid key name '${keyName}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`, 2);
  }
  const same = section.keys.find((k) => k.fingerprint === fingerprint);
  if (same) throw new ExshError('trust.duplicate', `The key ${fingerprint} is already trusted, as '${same.name}'.`);
  if (section.keys.some((k) => k.name === keyName)) {
    throw new ExshError('trust.nameTaken', `A trusted key is already named '${keyName}'; choose another with --name.`);
  }
  const entry: TrustedKey = { name: keyName, fingerprint, publicKeyPem: key.publicKeyPem, addedAt: at.toISOString(), builtin: false };
  section.keys.push(entry);
  return entry;
}

/** Removes the key with this fingerprint (or a unique prefix of at least 8 digits) or name. */
export function removeTrustedKey(state: DeviceState, ref: string): TrustedKey {
  const section = writableTrust(state);
  const wanted = ref.trim();
  let hits = section.keys.filter((k) => k.name === wanted || k.fingerprint === wanted.toLowerCase());
  if (hits.length === 0 && /^[0-9a-fA-F]{8,}$/.test(wanted)) {
    hits = section.keys.filter((k) => k.fingerprint.startsWith(wanted.toLowerCase()));
  }
  if (hits.length === 0) {
    throw new ExshError('trust.notFound', `No trusted key is named or has the fingerprint '${wanted}' (see exsh trust list).`);
  }
  if (hits.length > 1) {
    throw new ExshError('trust.ambiguous', `'${wanted}' matches ${hits.length} keys (${hits.map((k) => k.fingerprint).join(', ')}); give the whole fingerprint.`);
  }
  const gone = hits[0] as TrustedKey;
  section.keys = section.keys.filter((k) => k !== gone);
  return gone;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateTrust(state: DeviceState): string | undefined {
  const raw = state[SECTION];
  if (raw === undefined) return undefined;
  if (!isObject(raw) || !Array.isArray(raw.keys)) return 'trustStore is invalid';
  for (const [i, k] of raw.keys.entries()) {
    if (!isObject(k)) return `trustStore key ${i} is not an object`;
    for (const f of ['name', 'fingerprint', 'publicKeyPem', 'addedAt']) if (typeof k[f] !== 'string') return `trustStore key ${i} has no ${f}`;
    if (typeof k.builtin !== 'boolean') return `trustStore key ${i} has no builtin flag`;
  }
  return undefined;
}

registerInitialiser(initialiseTrust);
registerStateValidator(validateTrust);
