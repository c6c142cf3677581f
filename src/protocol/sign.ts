import type { KeyObject } from 'node:crypto';
import { canonicalJson } from '../text.js';
import type { ReplyEnvelope, RequestEnvelope } from './messages.js';

/**
 * Message signatures (docs/protocol.md): over canonicalJson of the envelope without its
 * `signature`. node:crypto is loaded on first use.
 */

const crypto = () => process.getBuiltinModule('node:crypto');

function signedText(envelope: object): Buffer {
  const { signature: _omit, ...rest } = envelope as { signature?: unknown };
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** Signs a request with the device key (RSA, PEM or KeyObject). */
export function signRequest<K extends RequestEnvelope>(unsigned: Omit<K, 'signature'>, deviceKey: KeyObject | string): K {
  const signature = crypto().sign('sha256', signedText(unsigned), deviceKey).toString('base64');
  return { ...unsigned, signature } as K;
}

/** Whether a request's signature verifies with this public key (from the CSR or the ID certificate). */
export function requestSignedBy(request: RequestEnvelope, publicKey: KeyObject | string): boolean {
  try {
    return crypto().verify('sha256', signedText(request), publicKey, Buffer.from(request.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Signs a reply with the authority key (ECDSA P-256). */
export function signReply<K extends ReplyEnvelope>(unsigned: Omit<K, 'signature'>, authorityKey: KeyObject): K {
  const signature = crypto().sign('sha256', signedText(unsigned), authorityKey).toString('base64');
  return { ...unsigned, signature } as K;
}

/** Whether a reply's signature verifies with one of these keys. */
export function replySignedBy(reply: ReplyEnvelope, keys: readonly KeyObject[]): boolean {
  if (typeof reply.signature !== 'string') return false;
  const text = signedText(reply);
  const sig = Buffer.from(reply.signature, 'base64');
  return keys.some((k) => {
    try {
      return crypto().verify('sha256', text, k, sig);
    } catch {
      return false;
    }
  });
}
