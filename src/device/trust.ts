import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { keyFingerprint, loadDemoAuthority } from '../codes/authority.js';
import { ExshError, UsageError } from '../errors.js';
import type { DeviceContext } from './context.js';
import type { DeviceState } from './state.js';
import { DEMO_KEY_NAME, editTrust, trustStore, TRUST_NAME, type TrustedKey } from './trust-state.js';

/**
 * Working with the device's trust store (§6.7): reading authority keys from PEM,
 * adding and removing them, and the key objects an authorization code is checked
 * against. The section itself is declared in trust-state.ts.
 */

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

/** The name of the built-in demo authority belongs to it alone (in any case). */
function isReservedName(name: string): boolean {
  return name.toLowerCase() === DEMO_KEY_NAME;
}

function demoFingerprint(): string {
  return keyFingerprint(loadDemoAuthority().publicKey);
}

/**
 * Why a trust store that came from outside (a restored backup) cannot be trusted, or
 * undefined: every key must be an ECDSA P-256 public key with the fingerprint it
 * claims, the name 'demo' belongs to the built-in demo authority, and only that key may
 * be marked built-in (`exsh trust list` shows it as such).
 */
export function trustStoreProblem(keys: readonly TrustedKey[]): string | undefined {
  const demo = demoFingerprint();
  for (const k of keys) {
    let key: KeyObject;
    try {
      key = keyObject(k.publicKeyPem);
    } catch {
      return `the key '${k.name}' is not a readable public key`;
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return `the key '${k.name}' is not an ECDSA P-256 key`;
    const fingerprint = keyFingerprint(key);
    if (fingerprint !== k.fingerprint) return `the key '${k.name}' claims the fingerprint ${k.fingerprint} but has ${fingerprint}`;
    if (isReservedName(k.name) && fingerprint !== demo) return `the key named '${k.name}' is not the built-in demo authority (fingerprint ${demo})`;
    if (k.builtin && (fingerprint !== demo || k.name !== DEMO_KEY_NAME))
      return `the key '${k.name}' is marked built-in but is not the demo authority (fingerprint ${demo})`;
  }
  return undefined;
}

/** Adds a key; refuses a key already trusted, a name already used, and the demo authority's name for another key. */
export function addTrustedKey(ctx: DeviceContext, key: ReadKey, name: string | undefined): TrustedKey {
  const section = editTrust(ctx);
  const at = ctx.now();
  const fingerprint = keyFingerprint(key.publicKey);
  const keyName = name ?? `authority-${fingerprint.slice(0, 8)}`;
  if (!TRUST_NAME.test(keyName)) {
    throw new UsageError('trust.badName', `Invalid key name '${keyName}': use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.`);
  }
  const same = section.keys.find((k) => k.fingerprint === fingerprint);
  if (same) throw new ExshError('trust.duplicate', `The key ${fingerprint} is already trusted, as '${same.name}'.`);
  const builtin = isReservedName(keyName) && fingerprint === demoFingerprint();
  if (isReservedName(keyName) && !builtin) {
    throw new ExshError('trust.nameReserved', `The name '${keyName}' belongs to the built-in demo authority; choose another with --name.`);
  }
  if (section.keys.some((k) => k.name === keyName)) {
    throw new ExshError('trust.nameTaken', `A trusted key is already named '${keyName}'; choose another with --name.`);
  }
  // The demo authority added back under its own name is the built-in key again.
  const entry: TrustedKey = {
    name: builtin ? DEMO_KEY_NAME : keyName,
    fingerprint,
    publicKeyPem: key.publicKeyPem,
    addedAt: at.toISOString(),
    builtin,
  };
  section.keys.push(entry);
  return entry;
}

/** Removes the key with this fingerprint (or a unique prefix of at least 8 digits) or name. */
export function removeTrustedKey(ctx: DeviceContext, ref: string): TrustedKey {
  const section = editTrust(ctx);
  const wanted = ref.trim();
  let hits = section.keys.filter((k) => k.name === wanted || k.fingerprint === wanted.toLowerCase());
  if (hits.length === 0 && /^[0-9a-fA-F]{8,}$/.test(wanted)) {
    hits = section.keys.filter((k) => k.fingerprint.startsWith(wanted.toLowerCase()));
  }
  if (hits.length === 0) {
    throw new ExshError('trust.notFound', `No trusted key is named or has the fingerprint '${wanted}' (see exsh trust list).`);
  }
  if (hits.length > 1) {
    throw new ExshError(
      'trust.ambiguous',
      `'${wanted}' matches ${hits.length} keys (${hits.map((k) => k.fingerprint).join(', ')}); give the whole fingerprint.`,
    );
  }
  const gone = hits[0] as TrustedKey;
  section.keys = section.keys.filter((k) => k !== gone);
  return gone;
}
