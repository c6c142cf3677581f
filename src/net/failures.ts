import { TIMEOUT_REASON, TransportFailure, UNKNOWN_CA_REASON } from '../protocol/link.js';

/** How what went wrong on the wire becomes the device's TransportFailure (src/protocol/link.ts). */

export const timeoutFailure = (): TransportFailure => new TransportFailure('timeout', TIMEOUT_REASON);

/**
 * The certificate verification errors of OpenSSL and Node: the peer's certificate does
 * not chain to the trusted root, is not valid now, or names another host. All are the
 * device's "unknown CA" (§9.5): the trust store is all it judges a server by.
 */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** What a socket, TLS or HTTP error means to the device: a certificate it cannot trust, or nothing (usable) answered. */
export function failureOf(e: unknown): TransportFailure {
  if (e instanceof TransportFailure) return e;
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && CERTIFICATE_ERRORS.has(code)) return new TransportFailure('unknownCa', UNKNOWN_CA_REASON);
  return timeoutFailure();
}

/** A status line's phrase as the device may show it: printable ASCII, bounded. */
export function phraseOf(status: number, message: string | undefined, fallback: (status: number) => string | undefined): string {
  const printable = (message ?? '')
    .replace(/[^\x20-\x7e]/g, '')
    .trim()
    .slice(0, 120);
  return printable || fallback(status) || 'Unknown';
}
