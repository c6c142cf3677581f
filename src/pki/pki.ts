import type { KeyObject, X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import type * as Forge from 'node-forge';
import { ExshError, storeError } from '../errors.js';
import {
  bufferOf,
  derBitString,
  derSequence,
  forgeBytes,
  normaliseSerialHex,
  pemDecode,
  pemEncode,
  RSA_SIGNATURE_HASHES,
  SHA256_WITH_RSA,
  serialContentHex,
} from './der.js';
import { type PkiFiles, pkiDir, pkiExists, publishPki, readPkiFiles, readRootFile, rootCertPath, writeServerCert } from './store.js';

/**
 * The simulator's PKI for connected mode (§9.5, §9.6): a "QuoVadis Root CA 2" stand-in
 * per home, the CSSM's TLS server certificate, the device's key and CSR, and the ID
 * certificates CSSM issues. node-forge builds the structures and is imported on first
 * use only (a one-shot status read never loads it); node:crypto makes keys and every
 * signature natively, and verifies. docs/pki.md describes the files and certificates.
 */

export { normaliseSerialHex } from './der.js';
export { pkiDir, rootCertPath } from './store.js';

export interface CaMaterial {
  rootCertPem: string;
  rootKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** `<home>/cssm/pki/root-ca.pem`. */
  rootCertPath: string;
}

export interface CertInfo {
  serialHex: string;
  commonName: string;
  issuerCommonName: string;
  notBefore: Date;
  notAfter: Date;
  publicKeyPem: string;
}

export interface CsrInfo {
  commonName: string;
  publicKeyPem: string;
}

export interface IssueOptions {
  serialHex: string;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
}

export type PkiProblem = 'pki.malformed' | 'pki.badCsr' | 'pki.untrusted' | 'pki.expired' | 'pki.notYetValid';

type ForgeModule = typeof Forge;

const crypto = () => process.getBuiltinModule('node:crypto');

let forgeLoading: Promise<ForgeModule> | undefined;
/** node-forge, loaded on first use. */
function loadForge(): Promise<ForgeModule> {
  forgeLoading ??= import('node-forge').then((m) => (m as unknown as { default?: ForgeModule }).default ?? m);
  return forgeLoading;
}

/** forge functions its type declarations leave out. */
interface ForgeInternals {
  getTBSCertificate(cert: Forge.pki.Certificate): Forge.asn1.Asn1;
  getCertificationRequestInfo(csr: Forge.pki.CertificateSigningRequest): Forge.asn1.Asn1;
}
function internals(forge: ForgeModule): ForgeInternals {
  return forge.pki as unknown as ForgeInternals;
}

const ROOT_SUBJECT = { commonName: 'QuoVadis Root CA 2 (exsh simulator)', organizationName: 'exsh simulator', countryName: 'BM' };
const ROOT_YEARS = 20;
const SERVER_YEARS = 2;
const SERVER_NAMES = ['localhost', 'smartreceiver.cisco.com', '127.0.0.1', '::1'];
/** Certificates made now start an hour back, so a peer whose clock is a little behind accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;
/** The largest CSR or certificate PEM accepted (a real one is 1 to 2 KiB). */
const MAX_PEM_CHARS = 16 * 1024;

// ---------------------------------------------------------------------------------------
// Keys

/** A new RSA 2048 private key as PKCS#8 PEM (node:crypto, synchronous). */
export function generateDeviceKey(): string {
  return crypto().generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function spkiDer(key: KeyObject): Buffer {
  return crypto().createPublicKey(key).export({ type: 'spki', format: 'der' });
}

function spkiPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** An RSA private key from PEM, or undefined when it is not one. */
function rsaPrivateKey(pem: string): KeyObject | undefined {
  try {
    const key = crypto().createPrivateKey(pem);
    return key.asymmetricKeyType === 'rsa' ? key : undefined;
  } catch {
    return undefined;
  }
}

function forgePublicKey(forge: ForgeModule, key: KeyObject): Forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromAsn1(forge.asn1.fromDer(forgeBytes(spkiDer(key)))) as Forge.pki.rsa.PublicKey;
}

/** Whether a subjectAltName is an IP address (IPv4 dotted quad, or IPv6 with colons) rather than a DNS name. */
function isIpAddress(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(':');
}

function altName(name: string): { type: number; ip?: string; value?: string } {
  return isIpAddress(name) ? { type: 7, ip: name } : { type: 2, value: name };
}

function derOf(forge: ForgeModule, asn1: Forge.asn1.Asn1): Buffer {
  return bufferOf(forge.asn1.toDer(asn1).getBytes());
}

/** node:crypto's key for a forge RSA public key. A JWK imports ~25x faster than DER (OpenSSL 3's decoders are slow). */
function nativePublicKey(key: Forge.pki.rsa.PublicKey): KeyObject {
  const base64url = (n: Forge.jsbn.BigInteger) => {
    const hex = n.toString(16);
    return Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, 'hex').toString('base64url');
  };
  return crypto().createPublicKey({ key: { kty: 'RSA', n: base64url(key.n), e: base64url(key.e) }, format: 'jwk' });
}

/** At most this many recent results of a parse are kept (a Map keeps insertion order). */
const MEMO_SIZE = 256;
function memo<V>(map: Map<string, V>, key: string, make: () => V): V {
  const known = map.get(key);
  if (known !== undefined) return known;
  const value = make();
  if (map.size >= MEMO_SIZE) map.delete(map.keys().next().value ?? '');
  map.set(key, value);
  return value;
}

// ---------------------------------------------------------------------------------------
// Certificates

/** Who signs: the issuer's subject (forge attributes), its private key, its key identifier. */
interface Issuer {
  subject: Forge.pki.CertificateField[];
  key: KeyObject;
  keyId: string;
}

interface CertificateSpec {
  publicKey: Forge.pki.rsa.PublicKey;
  serialHex: string;
  subject: Forge.pki.CertificateField[];
  notBefore: Date;
  notAfter: Date;
  extensions: object[];
}

function utf8(name: string, value: string, forge: ForgeModule): Forge.pki.CertificateField {
  return { name, value, valueTagClass: forge.asn1.Type.UTF8 as unknown as Forge.pki.CertificateField['valueTagClass'] };
}

/**
 * An X.509 v3 certificate as PEM: forge builds the TBSCertificate, node:crypto signs its
 * DER with SHA-256 and RSA, and the signature is wrapped around it here. Without an
 * issuer the certificate is self-signed with `selfKey`.
 */
function signCertificate(forge: ForgeModule, spec: CertificateSpec, issuer: Issuer | { selfKey: KeyObject }): string {
  if (!(spec.notBefore.getTime() < spec.notAfter.getTime())) throw new RangeError('A certificate must start before it ends.');
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  cert.serialNumber = serialContentHex(spec.serialHex);
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject);
  const self = 'selfKey' in issuer;
  const keyId = self ? cert.generateSubjectKeyIdentifier().getBytes() : issuer.keyId;
  cert.setIssuer(self ? spec.subject : issuer.subject);
  cert.setExtensions([...spec.extensions, { name: 'authorityKeyIdentifier', keyIdentifier: keyId }]);
  cert.siginfo.algorithmOid = '1.2.840.113549.1.1.11'; // sha256WithRSAEncryption, as SHA256_WITH_RSA
  const tbs = derOf(forge, internals(forge).getTBSCertificate(cert));
  const signature = crypto().sign('sha256', tbs, self ? issuer.selfKey : issuer.key);
  return pemEncode('CERTIFICATE', derSequence(tbs, SHA256_WITH_RSA, derBitString(signature)));
}

function randomSerialHex(): string {
  const bytes = crypto().randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40; // positive, and always 16 bytes long
  return bytes.toString('hex');
}

function yearsFrom(start: Date, years: number): Date {
  const end = new Date(start);
  end.setUTCFullYear(end.getUTCFullYear() + years);
  return end;
}

/** A self-signed root CA certificate for this key. */
function makeRootCert(forge: ForgeModule, key: KeyObject, subject: Forge.pki.CertificateField[]): string {
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  return signCertificate(
    forge,
    {
      publicKey: forgePublicKey(forge, key),
      serialHex: randomSerialHex(),
      subject,
      notBefore,
      notAfter: yearsFrom(notBefore, ROOT_YEARS),
      extensions: [
        { name: 'basicConstraints', cA: true, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ],
    },
    { selfKey: key },
  );
}

/** A TLS server certificate for these host names and addresses, valid two years from now. */
function makeServerCert(forge: ForgeModule, issuer: Issuer, key: KeyObject, hostnames: readonly string[]): string {
  const names = hostnames.length > 0 ? hostnames : ['localhost'];
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  return signCertificate(
    forge,
    {
      publicKey: forgePublicKey(forge, key),
      serialHex: randomSerialHex(),
      subject: [utf8('commonName', names[0] ?? 'localhost', forge)],
      notBefore,
      notAfter: yearsFrom(notBefore, SERVER_YEARS),
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: names.map(altName) },
      ],
    },
    issuer,
  );
}

/**
 * The issuer a root certificate and its private key make, checking that the key is the
 * certificate's; `fail` makes the error for a file that is not usable.
 */
function rootIssuer(forge: ForgeModule, certPem: string, keyPem: string, fail: (file: 'cert' | 'key', why: string) => Error): Issuer {
  let root: Forge.pki.Certificate;
  try {
    root = forge.pki.certificateFromPem(certPem);
  } catch (e) {
    throw fail('cert', `is not an RSA certificate in PEM (${(e as Error).message})`);
  }
  const key = rsaPrivateKey(keyPem);
  if (!key) throw fail('key', 'is not an RSA private key in PEM');
  if (!derOf(forge, forge.pki.publicKeyToAsn1(root.publicKey)).equals(spkiDer(key))) throw fail('key', 'is not the key of the root certificate');
  return { subject: root.subject.attributes, key, keyId: root.generateSubjectKeyIdentifier().getBytes() };
}

/** Issuers by root certificate and key, so issuing parses the root once. */
const issuers = new Map<string, Issuer>();

function issuerFor(forge: ForgeModule, ca: CaMaterial): Issuer {
  const id = `${ca.rootCertPem}\n${ca.rootKeyPem}`;
  let issuer = issuers.get(id);
  if (!issuer) {
    issuer = rootIssuer(forge, ca.rootCertPem, ca.rootKeyPem, (file, why) => {
      return new ExshError('pki.malformed', `The CA cannot issue certificates: its root ${file === 'cert' ? 'certificate' : 'key'} ${why}.`);
    });
    issuers.set(id, issuer);
  }
  return issuer;
}

/** For certificates exsh has just made: a failure is a bug, not a user's problem. */
function ownIssuer(forge: ForgeModule, certPem: string, keyPem: string): Issuer {
  return rootIssuer(forge, certPem, keyPem, (file, why) => new Error(`The new root CA's ${file} ${why}`));
}

// ---------------------------------------------------------------------------------------
// The home's PKI

const homes = new Map<string, Promise<CaMaterial>>();

/**
 * The home's root CA and TLS server certificate, from `<home>/cssm/pki/`, created there
 * on first use (cached per home for the life of the process).
 */
export function ensurePki(home: string): Promise<CaMaterial> {
  const key = resolve(home);
  let loading = homes.get(key);
  if (!loading) {
    loading = loadOrCreate(key);
    homes.set(key, loading);
    loading.catch(() => {
      if (homes.get(key) === loading) homes.delete(key);
    });
  }
  return loading;
}

/** Forgets what ensurePki cached (for one home, or all), as a new process would start. */
export function forgetPki(home?: string): void {
  if (home === undefined) homes.clear();
  else homes.delete(resolve(home));
}

async function loadOrCreate(home: string): Promise<CaMaterial> {
  const forge = await loadForge();
  if (!pkiExists(home)) publishPki(home, createPkiFiles(forge));
  // Whoever published first, every process reads the same files from here on.
  const files = readPkiFiles(home);
  return checkPki(forge, home, files);
}

function createPkiFiles(forge: ForgeModule): PkiFiles {
  const rootKey = crypto().generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const rootSubject = [utf8('commonName', ROOT_SUBJECT.commonName, forge), utf8('organizationName', ROOT_SUBJECT.organizationName, forge)];
  rootSubject.push({ name: 'countryName', value: ROOT_SUBJECT.countryName });
  const rootCert = makeRootCert(forge, rootKey, rootSubject);
  const rootKeyPem = rootKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const issuer = ownIssuer(forge, rootCert, rootKeyPem);
  const serverKeyPem = generateDeviceKey();
  const serverCert = makeServerCert(forge, issuer, crypto().createPrivateKey(serverKeyPem), SERVER_NAMES);
  return { rootCert, rootKey: rootKeyPem, serverCert, serverKey: serverKeyPem };
}

/**
 * Checks that the files on disk are a usable PKI (each parses, each key is its
 * certificate's, the server certificate is signed by the root); throws pki.corrupt naming
 * the file otherwise, and never replaces it. A server certificate within a day of its end
 * (real time: TLS clients check it against the real clock) is renewed for the same key.
 */
function checkPki(forge: ForgeModule, home: string, files: PkiFiles): CaMaterial {
  const dir = pkiDir(home);
  const corrupt = (name: string, why: string) =>
    storeError('pki.corrupt', `The PKI file ${join(dir, name)} ${why}; move the directory ${dir} aside to make a new PKI.`);
  const root = x509(files.rootCert);
  if (!root) throw corrupt('root-ca.pem', 'is not a PEM certificate');
  const issuer = rootIssuer(forge, files.rootCert, files.rootKey, (file, why) => corrupt(file === 'cert' ? 'root-ca.pem' : 'root-ca-key.pem', why));
  const server = x509(files.serverCert);
  if (!server) throw corrupt('server.pem', 'is not a PEM certificate');
  if (!server.verify(root.publicKey)) throw corrupt('server.pem', 'is not signed by the root CA in root-ca.pem');
  const serverKey = rsaPrivateKey(files.serverKey);
  if (!serverKey) throw corrupt('server-key.pem', 'is not an RSA private key in PEM');
  if (!spkiDer(serverKey).equals(server.publicKey.export({ type: 'spki', format: 'der' }))) throw corrupt('server-key.pem', 'is not the key of server.pem');
  let serverCertPem = files.serverCert;
  if (opensslDate(server.validTo) <= Date.now() + 24 * 60 * 60 * 1000) {
    serverCertPem = makeServerCert(forge, issuer, serverKey, SERVER_NAMES);
    writeServerCert(home, serverCertPem); // atomic, and for the same key: server-key.pem stays right
  }
  issuers.set(`${files.rootCert}\n${files.rootKey}`, issuer);
  return { rootCertPem: files.rootCert, rootKeyPem: files.rootKey, serverCertPem, serverKeyPem: files.serverKey, rootCertPath: rootCertPath(home) };
}

/** The root CA certificate PEM of the home, or undefined when it has none yet (synchronous, no forge). */
export function readRootCertificate(home: string): string | undefined {
  return readRootFile(home);
}

// ---------------------------------------------------------------------------------------
// CSRs

/** Device keys parsed recently (parsing a PKCS#8 PEM costs more than signing with it). */
const deviceKeys = new Map<string, { key: KeyObject; publicKey: Forge.pki.rsa.PublicKey } | null>();

/** A PKCS#10 CSR (PEM) for the device key, signed with it (SHA-256): CN = the serial number, the hostname as a subjectAltName. */
export async function createCsr(deviceKeyPem: string, subject: { commonName: string; hostname?: string }): Promise<string> {
  const forge = await loadForge();
  const device = memo(deviceKeys, deviceKeyPem, () => {
    const key = rsaPrivateKey(deviceKeyPem);
    return key ? { key, publicKey: forgePublicKey(forge, key) } : null;
  });
  if (!device) throw new ExshError('pki.malformed', 'The device key cannot be read: it is not an RSA private key in PEM.');
  const { key } = device;
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = device.publicKey;
  csr.setSubject([utf8('commonName', subject.commonName, forge), utf8('organizationName', 'Cisco Systems', forge)]);
  if (subject.hostname) {
    csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [altName(subject.hostname)] }] }]);
  }
  const info = derOf(forge, internals(forge).getCertificationRequestInfo(csr));
  const signature = crypto().sign('sha256', info, key);
  return pemEncode('CERTIFICATE REQUEST', derSequence(info, SHA256_WITH_RSA, derBitString(signature)));
}

interface ParsedCsr {
  commonName: string;
  publicKey: Forge.pki.rsa.PublicKey;
  publicKeyPem: string;
}

function badCsr(why: string): ExshError {
  return new ExshError('pki.badCsr', `The certificate signing request ${why}.`);
}

/** CSRs read recently: the CSSM reads a CSR (readCsr), then issues for it. */
const recentCsrs = new Map<string, ParsedCsr>();

/** A CSR parsed by forge and its self-signature checked by node:crypto; throws pki.badCsr. */
function parseCsr(forge: ForgeModule, csrPem: string): ParsedCsr {
  if (typeof csrPem !== 'string') throw badCsr('is not text');
  if (csrPem.length > MAX_PEM_CHARS) throw badCsr(`is larger than ${MAX_PEM_CHARS / 1024} KiB, which no real one is`);
  return memo(recentCsrs, csrPem, () => parseNewCsr(forge, csrPem));
}

function parseNewCsr(forge: ForgeModule, csrPem: string): ParsedCsr {
  const der = pemDecode(csrPem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
  if (!der) throw badCsr('is not PEM text with a "BEGIN CERTIFICATE REQUEST" block');
  let csr: Forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromAsn1(forge.asn1.fromDer(forgeBytes(der)));
  } catch (e) {
    const why = (e as Error).message;
    if (why.includes('OID is not RSA')) throw badCsr('carries a key that is not RSA, and the simulator issues ID certificates for RSA keys only');
    throw badCsr(`cannot be read as PKCS#10 DER (${why.replace(/\.$/, '')})`);
  }
  const hash = RSA_SIGNATURE_HASHES[csr.signatureOid ?? ''];
  if (!hash) throw badCsr(`is signed with an algorithm the simulator does not accept (OID ${csr.signatureOid}); use SHA-256 with RSA`);
  const info = (csr as unknown as { certificationRequestInfo: Forge.asn1.Asn1 }).certificationRequestInfo;
  const rsaKey = csr.publicKey as Forge.pki.rsa.PublicKey | null;
  if (!rsaKey) throw badCsr('carries no public key');
  let signed = false;
  try {
    signed = crypto().verify(hash, derOf(forge, info), nativePublicKey(rsaKey), bufferOf(String(csr.signature)));
  } catch {
    signed = false; // a key OpenSSL refuses (a tiny modulus, an even exponent)
  }
  if (!signed) {
    throw badCsr('is not signed by the key it carries: it was altered, or made with another key');
  }
  const cn = csr.subject.getField('CN') as Forge.pki.CertificateField | null;
  const commonName = cn ? fieldText(forge, cn) : '';
  if (commonName === '') throw badCsr('has no subject common name (the device serial number)');
  return { commonName, publicKey: rsaKey, publicKeyPem: pemEncode('PUBLIC KEY', derOf(forge, forge.pki.publicKeyToAsn1(rsaKey))) };
}

/** The text of a name attribute forge read (forge leaves a UTF8String's value as its bytes). */
function fieldText(forge: ForgeModule, field: Forge.pki.CertificateField): string {
  const bytes = String(field.value ?? '');
  return (field.valueTagClass as unknown as number) === forge.asn1.Type.UTF8 ? bufferOf(bytes).toString('utf8') : bytes;
}

/** The CN and public key (SPKI PEM) of a PEM CSR whose self-signature verifies; throws pki.badCsr. */
export async function readCsr(csrPem: string): Promise<CsrInfo> {
  const { commonName, publicKeyPem } = parseCsr(await loadForge(), csrPem);
  return { commonName, publicKeyPem };
}

// ---------------------------------------------------------------------------------------
// ID certificates

/** An ID certificate (PEM) for the CSR's key, issued by the root: CN, serial and validity as given, clientAuth. */
export async function issueIdCertificate(ca: CaMaterial, csrPem: string, opts: IssueOptions): Promise<string> {
  const forge = await loadForge();
  const issuer = issuerFor(forge, ca);
  const request = parseCsr(forge, csrPem);
  return signCertificate(
    forge,
    {
      publicKey: request.publicKey,
      serialHex: opts.serialHex,
      subject: [utf8('commonName', opts.commonName, forge)],
      notBefore: opts.notBefore,
      notAfter: opts.notAfter,
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ],
    },
    issuer,
  );
}

function x509(pem: string): X509Certificate | undefined {
  if (typeof pem !== 'string' || pem.length > MAX_PEM_CHARS || !pem.includes('-----BEGIN CERTIFICATE-----')) return undefined;
  try {
    return new (crypto().X509Certificate)(pem);
  } catch {
    return undefined;
  }
}

function parseCertificate(pem: string, what: string): X509Certificate {
  const cert = x509(pem);
  if (!cert) throw new ExshError('pki.malformed', `${what} cannot be read: it is not a PEM X.509 certificate.`);
  return cert;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** OpenSSL's printed time ("Mar  1 10:00:00 2026 GMT") as epoch milliseconds. */
function opensslDate(text: string): number {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/.exec(text);
  const month = m ? MONTHS.indexOf(m[1] ?? '') : -1;
  if (!m || month < 0) return Number.NaN;
  return Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

function firstValue(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function certInfo(cert: X509Certificate, what: string): CertInfo {
  const legacy = cert.toLegacyObject();
  const notBefore = opensslDate(cert.validFrom);
  const notAfter = opensslDate(cert.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) throw new ExshError('pki.malformed', `${what} has a validity the simulator cannot read.`);
  return {
    serialHex: normaliseSerialHex(cert.serialNumber),
    commonName: firstValue(legacy.subject?.CN),
    issuerCommonName: firstValue(legacy.issuer?.CN),
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
    publicKeyPem: spkiPem(cert.publicKey),
  };
}

/** What a PEM certificate holds (serial as lowercase hex without leading zeros); throws pki.malformed. */
export async function readCertificate(pem: string): Promise<CertInfo> {
  return certInfo(parseCertificate(pem, 'The certificate'), 'The certificate');
}

/** Root certificates parsed recently (a device checks each ID certificate against the same root). */
const roots = new Map<string, X509Certificate>();

/**
 * The device's check of its ID certificate: it parses (pki.malformed), is signed by this
 * root (pki.untrusted), and notBefore ≤ at < notAfter at the simulated time `at`
 * (pki.notYetValid, pki.expired). Nothing is checked against the real clock.
 */
export async function verifyIdCertificate(certPem: string, rootCertPem: string, at: Date): Promise<CertInfo> {
  if (Number.isNaN(at.getTime())) throw new RangeError('verifyIdCertificate needs a valid time.');
  const cert = parseCertificate(certPem, 'The ID certificate');
  const root = memo(roots, rootCertPem, () => parseCertificate(rootCertPem, "The simulator's root CA certificate"));
  const info = certInfo(cert, 'The ID certificate');
  let signed = false;
  try {
    signed = cert.checkIssued(root) && cert.verify(root.publicKey);
  } catch {
    signed = false;
  }
  // And as X.509 path validation (node-forge): the chain to the root, its CA constraints
  // and key usage. Dates are the simulated clock's, checked below, never the real one.
  if (signed) signed = await chainsWithForge(certPem, rootCertPem);
  if (!signed) {
    throw new ExshError('pki.untrusted', `The ID certificate (issued by "${info.issuerCommonName}") is not signed by the simulator's root CA.`);
  }
  if (at.getTime() < info.notBefore.getTime()) {
    throw new ExshError('pki.notYetValid', `The ID certificate is not valid until ${info.notBefore.toISOString()} (the device's time is ${at.toISOString()}).`);
  }
  if (at.getTime() >= info.notAfter.getTime()) {
    throw new ExshError('pki.expired', `The ID certificate expired at ${info.notAfter.toISOString()} (the device's time is ${at.toISOString()}).`);
  }
  return info;
}

async function chainsWithForge(certPem: string, rootCertPem: string): Promise<boolean> {
  const forge = await loadForge();
  try {
    const store = forge.pki.createCaStore([rootCertPem]);
    return forge.pki.verifyCertificateChain(store, [forge.pki.certificateFromPem(certPem)], { validityCheckDate: null });
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// A second CA, for tests

export interface TestCa {
  certPem: string;
  keyPem: string;
  /** A TLS server certificate and key for these names (DNS names or IP addresses; the first is the CN). */
  issueServer(hostnames: string[]): Promise<{ certPem: string; keyPem: string }>;
}

/** Another root CA with this CN (not the home's), to play a TLS-intercepting proxy in tests. */
export async function createTestCa(commonName: string): Promise<TestCa> {
  const forge = await loadForge();
  const key = crypto().generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  const certPem = makeRootCert(forge, key, [utf8('commonName', commonName, forge), utf8('organizationName', 'exsh test CA', forge)]);
  const issuer = ownIssuer(forge, certPem, keyPem);
  return {
    certPem,
    keyPem,
    async issueServer(hostnames) {
      const serverKeyPem = generateDeviceKey();
      return { certPem: makeServerCert(forge, issuer, crypto().createPrivateKey(serverKeyPem), hostnames), keyPem: serverKeyPem };
    },
  };
}
