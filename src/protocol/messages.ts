/**
 * The connected-mode protocol between a simulated device and the simulated CSSM
 * (docs/protocol.md). Cisco's own wire format is not public; these are exsh's JSON
 * messages, carried by HTTPS POST to `/licservice/license` (the cloud) or
 * `/SmartTransport` (On-Prem), or handed over in-process. Every transport carries the
 * same bytes, so the embedded default and the network give the same results.
 *
 * A request is signed by the device key (RSA, SHA-256) whose public half is in the CSR
 * (register) or the ID certificate (every later message); a reply is signed by the
 * CSSM's authority key (ECDSA P-256, SHA-256, the key that signs reservation codes) and
 * carries the request's nonce. Signatures are over `canonicalJson` of the envelope
 * without its `signature` field, base64 (DER for ECDSA).
 *
 * This module imports nothing: the device, the CSSM and the transports all speak it.
 */

export const PROTOCOL = 'exsh-smart/1';

/** The paths a CSSM serves the device protocol on. */
export const CLOUD_PATH = '/licservice/license';
export const ONPREM_PATH = '/SmartTransport';

export type MessageKind = 'register' | 'renewId' | 'renewAuth' | 'deregister';

export interface DeviceIdentity {
  pid: string;
  serial: string;
  vid: string;
  hostId: string;
  productType: string;
}

export interface RegisterBody {
  /** The product instance registration token. */
  token: string;
  /** Re-register an instance that is already registered ("Reregister this product instance"). */
  force: boolean;
  /** PKCS#10, PEM: the device key's public half; CN = the serial number. */
  csr: string;
  software: string;
  /** Left out under `Privacy HostnameAndIp: DoNotShare`. */
  hostname?: string;
  address?: string;
}

export interface RenewIdBody {
  /** The ID certificate in use (PEM), which identifies the instance. */
  idCertificate: string;
  /** A new CSR for the same device key. */
  csr: string;
  hostname?: string;
  address?: string;
}

export interface EntitlementUse {
  tag: string;
  count: number;
}

export interface RenewAuthBody {
  idCertificate: string;
  /** What the device uses now (empty until consumption is simulated). */
  entitlements: EntitlementUse[];
}

export interface DeregisterBody {
  idCertificate: string;
}

export interface BodyOf {
  register: RegisterBody;
  renewId: RenewIdBody;
  renewAuth: RenewAuthBody;
  deregister: DeregisterBody;
}

export interface RequestEnvelope<K extends MessageKind = MessageKind> {
  protocol: typeof PROTOCOL;
  kind: K;
  /** 16 random bytes, hex: the reply must carry it back. */
  nonce: string;
  /** The device's simulated time (ISO 8601): the CSSM judges tokens and certificates at it. */
  time: string;
  udi: DeviceIdentity;
  body: BodyOf[K];
  /** Base64 RSA-SHA256 by the device key over canonicalJson of the rest. */
  signature: string;
}

/** Per licence, as the CSSM judges the device's use against its virtual account's pool. */
export type EntitlementVerdict = 'InCompliance' | 'OutOfCompliance' | 'InvalidTag';

export interface AuthorizationGrant {
  /** Authorized: everything in use fits; OutOfCompliance: something does not; NoLicensesInUse: nothing is used. */
  status: 'Authorized' | 'OutOfCompliance' | 'NoLicensesInUse';
  /** 90 days after the (backdated) grant: without a renewal by then, Authorization Expired. */
  expires: string;
  entitlements: { tag: string; count: number; verdict: EntitlementVerdict }[];
}

export interface RegisterReply {
  /** The ID certificate (PEM), signed by the simulator's root CA for the CSR's key. */
  idCertificate: string;
  smartAccount: string;
  virtualAccount: string;
  /** The token's "Allow export-controlled functionality" flag. */
  exportControlled: boolean;
  authorization: AuthorizationGrant;
}

export interface RenewIdReply {
  idCertificate: string;
}

export interface RenewAuthReply {
  authorization: AuthorizationGrant;
}

export interface DeregisterReply {
  /** Licence units returned to the virtual account. */
  released: number;
}

export interface ReplyBodyOf {
  register: RegisterReply;
  renewId: RenewIdReply;
  renewAuth: RenewAuthReply;
  deregister: DeregisterReply;
}

/**
 * Why the CSSM refused a request. The device maps them to its statuses:
 * token.invalid → Registration Failed; instance.unknown (removed at the CSSM) →
 * Unregistered; the rest are protocol faults, shown in FailureReason.
 */
export type CssmErrorCode =
  | 'token.invalid'
  | 'instance.alreadyRegistered'
  | 'instance.unknown'
  | 'certificate.invalid'
  | 'request.invalid'
  | 'request.badSignature'
  | 'protocol.unsupported';

export interface ReplyEnvelope<K extends MessageKind = MessageKind> {
  protocol: typeof PROTOCOL;
  kind: K;
  /** The request's nonce. */
  nonce: string;
  /** The request's time, echoed. */
  time: string;
  status: 'OK' | 'ERROR';
  body?: ReplyBodyOf[K];
  error?: { code: CssmErrorCode; message: string };
  /** keyFingerprint of the authority key that signed the reply. */
  authority: string;
  /** Base64 DER ECDSA-SHA256 by the authority key over canonicalJson of the rest. */
  signature: string;
}

/** Timers of connected mode (§9.3), in ms. */
export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** CSSM backdates every validity window it issues by about five minutes (clock skew). */
export const BACKDATE_MS = 5 * MINUTE_MS;
export const ID_CERT_VALIDITY_MS = 365 * DAY_MS;
export const ID_RENEW_INTERVAL_MS = 180 * DAY_MS;
export const AUTH_RENEW_INTERVAL_MS = 30 * DAY_MS;
export const AUTH_VALIDITY_MS = 90 * DAY_MS;
export const OUT_OF_COMPLIANCE_RETRY_MS = 12 * 60 * MINUTE_MS;
export const RETRY_MS = 15 * MINUTE_MS;
/** Usage goes to the CSSM every 6 hours (when it changed since the last report). */
export const USAGE_REPORT_MS = 6 * 60 * MINUTE_MS;
