/**
 * The few DER and PEM pieces the PKI assembles itself. node-forge builds the parts that
 * get signed (a TBSCertificate, a CertificationRequestInfo); node:crypto signs them
 * natively (forge's pure-JS RSA signing costs tens of milliseconds), and these helpers
 * wrap the signature around them: SEQUENCE { signed part, algorithm, BIT STRING }.
 */

/** AlgorithmIdentifier { sha256WithRSAEncryption, NULL }, as DER. */
export const SHA256_WITH_RSA = Buffer.from('300d06092a864886f70d01010b0500', 'hex');

/** The node:crypto hash of each RSA PKCS#1 v1.5 signature algorithm a CSR may use. */
export const RSA_SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A DER SEQUENCE of already encoded parts. */
export function derSequence(...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30]), derLength(content.length), content]);
}

/** A DER BIT STRING holding whole bytes (no unused bits). */
export function derBitString(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x03]), derLength(bytes.length + 1), Buffer.from([0]), bytes]);
}

/** PEM text of DER bytes under a label ("CERTIFICATE"), 64 characters a line. */
export function pemEncode(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The DER bytes of the first PEM block with one of these labels, or undefined. */
export function pemDecode(pem: string, labels: readonly string[]): Buffer | undefined {
  for (const m of pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----/g)) {
    if (labels.includes(m[1] ?? '')) return Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64');
  }
  return undefined;
}

/** forge's byte strings (one char a byte) from and to Buffers. */
export function forgeBytes(buf: Buffer): string {
  return buf.toString('binary');
}
export function bufferOf(bytes: string): Buffer {
  return Buffer.from(bytes, 'binary');
}

/**
 * The hex serial number as the certificate's INTEGER content (positive: a 00 byte in
 * front when the top bit is set). Throws a RangeError for anything but 1 to 40 hex digits
 * that are not all zero (RFC 5280 allows at most 20 octets).
 */
export function serialContentHex(serialHex: string): string {
  const digits = normaliseSerialHex(serialHex);
  if (!/^[0-9a-f]{1,40}$/.test(digits) || digits === '0')
    throw new RangeError(`A certificate serial number must be 1 to 40 hex digits, not all zero: ${serialHex}`);
  const even = digits.length % 2 === 1 ? `0${digits}` : digits;
  return Number.parseInt(even.slice(0, 1), 16) >= 8 ? `00${even}` : even;
}

/** A serial number as exsh reports it: lowercase hex without leading zeros ("0" for zero). */
export function normaliseSerialHex(serialHex: string): string {
  return serialHex.toLowerCase().replace(/^0+(?=.)/, '');
}
