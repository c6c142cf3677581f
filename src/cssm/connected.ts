import { catalogueEntry } from '../catalogue.js';
import { CLOCK_END } from '../clock.js';
import { derivePiid } from '../codes/index.js';
import { isExshError, StoreError } from '../errors.js';
import { type CertInfo, type CsrInfo, ensurePki, issueIdCertificate, readCertificate, readCsr } from '../pki/pki.js';
import {
  AUTH_VALIDITY_MS,
  BACKDATE_MS,
  ID_CERT_VALIDITY_MS,
  PROTOCOL,
  type AuthorizationGrant,
  type CssmErrorCode,
  type DeviceIdentity,
  type EntitlementUse,
  type MessageKind,
  type RegisterReply,
  type ReplyBodyOf,
  type ReplyEnvelope,
  type RequestEnvelope,
} from '../protocol/messages.js';
import { requestSignedBy, signReply } from '../protocol/sign.js';
import { loadAuthority } from './authority.js';
import { readTransaction, writeTransaction, type Db } from './db.js';
import { availableFor, database, deleteInstance, SERIAL, statement, type CssmEnv } from './service.js';
import { consumeTokenUse, judgeToken, tokenProblemReason, type TokenProblem, type TokenRecord } from './tokens.js';

/**
 * The CSSM's side of the connected-mode protocol (§9.6, docs/protocol.md): one signed
 * request in, one signed reply out, whatever the transport (in-process, the cloud path,
 * On-Prem). A bad request is answered with an ERROR reply, never thrown; only a store
 * that cannot be used (StoreError) propagates, for the transport to report.
 *
 * Everything is judged at the time the request carries (the device's simulated clock),
 * not the CSSM's own: a token's expiry, a certificate's validity, a term line's end.
 * The asynchronous work (parsing with node-forge, issuing a certificate) is done before
 * the write transaction opens, and what it relied on is checked again inside it
 * (better-sqlite3 transactions are synchronous: nothing is awaited inside one).
 */

/** Why a request is refused: becomes the reply's `error`. */
class Refusal extends Error {
  constructor(
    readonly code: CssmErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

const KINDS: ReadonlySet<string> = new Set<MessageKind>(['register', 'renewId', 'renewAuth', 'deregister']);
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$/;
const NONCE = /^[0-9a-f]{32}$/;
/** A UDI field as a reservation code spells it too: printable, no spaces, commas or colons. */
const UDI_FIELD = /^[^\s,:\p{Cc}]{1,64}$/u;
const MAX_PEM = 16 * 1024;
const MAX_TEXT = 255;
const MAX_ENTITLEMENTS = 200;
const MAX_COUNT = 1_000_000;

/** Answers one device message (already parsed from JSON). */
export async function handleDeviceMessage(env: CssmEnv, raw: unknown, via: 'cloud' | 'onprem'): Promise<ReplyEnvelope> {
  const echo = echoOf(env, raw);
  try {
    const request = checkEnvelope(raw);
    return answer(env, echo, { status: 'OK', body: await dispatch(env, request, via) });
  } catch (e) {
    if (e instanceof Refusal) return answer(env, echo, { status: 'ERROR', error: { code: e.code, message: e.message } });
    throw e;
  }
}

async function dispatch(env: CssmEnv, request: RequestEnvelope, via: 'cloud' | 'onprem'): Promise<ReplyBodyOf[MessageKind]> {
  switch (request.kind) {
    case 'register':
      return register(env, request as RequestEnvelope<'register'>, via);
    case 'renewId':
      return renewId(env, request as RequestEnvelope<'renewId'>);
    case 'renewAuth':
      return renewAuth(env, request as RequestEnvelope<'renewAuth'>);
    case 'deregister':
      return deregister(env, request as RequestEnvelope<'deregister'>);
  }
}

// ---------------------------------------------------------------------------------------
// register

async function register(env: CssmEnv, request: RequestEnvelope<'register'>, via: 'cloud' | 'onprem'): Promise<RegisterReply> {
  const { udi, body } = request;
  const at = timeOf(request);
  const db = database(env);
  const judged = readTransaction(db, () => judgeToken(db, body.token, at));
  if (judged.problem) throw tokenRefusal(judged.problem, judged.record);
  const csr = await csrOf(body.csr);
  if (!requestSignedBy(request, csr.publicKeyPem)) {
    throw new Refusal('request.badSignature', 'The registration request is not signed by the key in its certificate signing request.');
  }
  forSerial(csr, udi);
  registrable(
    readTransaction(db, () => instanceBySerial(db, udi.serial)),
    body.force,
  );
  const certificate = await issue(env, body.csr, udi.serial, at);

  return writeTransaction(db, () => {
    // What was judged before the certificate was made may have changed meanwhile.
    const again = judgeToken(db, body.token, at);
    if (again.problem) throw tokenRefusal(again.problem, again.record);
    const token = again.record;
    const existing = registrable(instanceBySerial(db, udi.serial), body.force);
    if (!consumeTokenUse(db, token.id)) throw tokenRefusal('usedUp', token);
    const instanceId = existing ? moveInstance(db, existing.id, udi, token, at) : createInstance(db, udi, request.nonce, token, at);
    statement(
      db,
      `INSERT OR REPLACE INTO registration (instance_id, token_id, via, registered_at, cert_serial, cert_pem, cert_not_after, software, hostname, address)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(instanceId, token.id, via, at, certificate.serial, certificate.pem, certificate.notAfter, body.software, body.hostname ?? null, body.address ?? null);
    const account = statement(db, 'SELECT name FROM smart_account WHERE id = 1').get() as { name: string };
    return {
      idCertificate: certificate.pem,
      smartAccount: account.name,
      virtualAccount: token.virtualAccount,
      exportControlled: token.exportControlled,
      // Registering reports no use yet: what the instance used before (re-registering) is released.
      authorization: authorize(db, instanceId, token.virtualAccountId, [], at),
    };
  });
}

interface SerialHolder {
  id: number;
  reservation_type: 'PLR' | 'SLR' | null;
  va: string;
}

function instanceBySerial(db: Db, serial: string): SerialHolder | undefined {
  return statement(
    db,
    `SELECT p.id AS id, p.reservation_type AS reservation_type, v.name AS va
         FROM product_instance p JOIN virtual_account v ON v.id = p.virtual_account_id WHERE p.udi_serial = ?`,
  ).get(serial) as SerialHolder | undefined;
}

/** The registered instance `force` may replace, undefined for a new one; refuses the rest. */
function registrable(holder: SerialHolder | undefined, force: boolean): SerialHolder | undefined {
  if (!holder) return undefined;
  if (holder.reservation_type !== null) {
    throw new Refusal(
      'instance.alreadyRegistered',
      `The product instance holds ${holder.reservation_type === 'SLR' ? 'a Specific' : 'a Permanent'} License Reservation in virtual account ${holder.va}; return the reservation before registering it.`,
    );
  }
  if (!force) {
    throw new Refusal(
      'instance.alreadyRegistered',
      `The product instance is already registered in virtual account ${holder.va}; register with Force to register it again.`,
    );
  }
  return holder;
}

function createInstance(db: Db, udi: DeviceIdentity, nonce: string, token: TokenRecord, at: number): number {
  const piid = derivePiid({ pid: udi.pid, serial: udi.serial, vid: udi.vid, hostId: udi.hostId }, nonce);
  return Number(
    statement(
      db,
      `INSERT INTO product_instance (virtual_account_id, udi_pid, udi_serial, udi_vid, host_id, piid,
           product_type, reservation_type, export_control, created_at, last_contact)
         VALUES (?, ?, ?, ?, ?, ?, 'EXPY', NULL, ?, ?, ?)`,
    ).run(token.virtualAccountId, udi.pid, udi.serial, udi.vid, udi.hostId, piid, token.exportControlled ? 1 : 0, at, at).lastInsertRowid,
  );
}

/** Re-registration (Force): the instance moves to the token's virtual account, keeping its piid. */
function moveInstance(db: Db, id: number, udi: DeviceIdentity, token: TokenRecord, at: number): number {
  statement(
    db,
    `UPDATE product_instance SET virtual_account_id = ?, udi_pid = ?, udi_vid = ?, host_id = ?, export_control = ?, last_contact = ?
      WHERE id = ?`,
  ).run(token.virtualAccountId, udi.pid, udi.vid, udi.hostId, token.exportControlled ? 1 : 0, at, id);
  return id;
}

function tokenRefusal(problem: TokenProblem, record: TokenRecord | undefined): Refusal {
  return new Refusal('token.invalid', `The token is invalid or expired: ${tokenProblemReason(problem, record)}`);
}

// ---------------------------------------------------------------------------------------
// renewId, renewAuth, deregister

async function renewId(env: CssmEnv, request: RequestEnvelope<'renewId'>): Promise<ReplyBodyOf['renewId']> {
  const { udi, body } = request;
  const at = timeOf(request);
  const db = database(env);
  const known = await identify(db, request, body.idCertificate, at);
  forSerial(await csrOf(body.csr), udi);
  const certificate = await issue(env, body.csr, udi.serial, at);
  return writeTransaction(db, () => {
    const instance = stillRegistered(db, known);
    statement(
      db,
      'UPDATE registration SET cert_serial = ?, cert_pem = ?, cert_not_after = ?, hostname = ?, address = ?, id_renewals = id_renewals + 1 WHERE instance_id = ?',
    ).run(certificate.serial, certificate.pem, certificate.notAfter, body.hostname ?? null, body.address ?? null, instance.id);
    touch(db, instance.id, at);
    return { idCertificate: certificate.pem };
  });
}

async function renewAuth(env: CssmEnv, request: RequestEnvelope<'renewAuth'>): Promise<ReplyBodyOf['renewAuth']> {
  const at = timeOf(request);
  const db = database(env);
  const known = await identify(db, request, request.body.idCertificate, at);
  return writeTransaction(db, () => {
    const instance = stillRegistered(db, known);
    touch(db, instance.id, at);
    statement(db, 'UPDATE registration SET auth_renewals = auth_renewals + 1 WHERE instance_id = ?').run(instance.id);
    return { authorization: authorize(db, instance.id, instance.virtualAccountId, request.body.entitlements, at) };
  });
}

async function deregister(env: CssmEnv, request: RequestEnvelope<'deregister'>): Promise<ReplyBodyOf['deregister']> {
  const at = timeOf(request);
  const db = database(env);
  const known = await identify(db, request, request.body.idCertificate, at);
  return writeTransaction(db, () => {
    const instance = stillRegistered(db, known);
    const { n } = statement(db, 'SELECT COALESCE(SUM(count), 0) AS n FROM licence_usage WHERE instance_id = ?').get(instance.id) as { n: number };
    deleteInstance(db, instance.id);
    return { released: n };
  });
}

interface RegisteredInstance {
  id: number;
  virtualAccountId: number;
  certSerial: string;
  certPem: string;
}

const REGISTERED_SELECT = `SELECT p.id AS id, p.virtual_account_id AS virtualAccountId, r.cert_serial AS certSerial, r.cert_pem AS certPem
  FROM product_instance p JOIN registration r ON r.instance_id = p.id`;

function registeredBySerial(db: Db, serial: string): RegisteredInstance | undefined {
  return statement(db, `${REGISTERED_SELECT} WHERE p.udi_serial = ?`).get(serial) as RegisteredInstance | undefined;
}

const NOT_REGISTERED = 'This product instance is not registered at the CSSM: it was removed, or never registered';

/**
 * The registered instance a message is from: its UDI serial and the ID certificate it
 * presents must be the ones this CSSM issued last, the request signed by that
 * certificate's key, and the certificate valid at the request's time.
 */
async function identify(db: Db, request: RequestEnvelope, certPem: string, at: number): Promise<RegisteredInstance> {
  let cert: CertInfo;
  try {
    cert = await readCertificate(certPem);
  } catch (e) {
    throw refusedByPki(e, 'certificate.invalid');
  }
  const instance = readTransaction(db, () => registeredBySerial(db, request.udi.serial));
  if (!instance) throw new Refusal('instance.unknown', `${NOT_REGISTERED}.`);
  if (serialKey(cert.serialHex) !== instance.certSerial) {
    throw new Refusal(
      'instance.unknown',
      `${NOT_REGISTERED} with this ID certificate (serial ${serialKey(cert.serialHex)}): it has been issued another one since.`,
    );
  }
  const given = pemBytes(certPem);
  const issued = pemBytes(instance.certPem);
  if (!given || !issued || !given.equals(issued)) {
    throw new Refusal('certificate.invalid', 'The ID certificate is not the one this CSSM issued to the product instance.');
  }
  if (!requestSignedBy(request, cert.publicKeyPem)) {
    throw new Refusal('request.badSignature', "The request is not signed by the key of the product instance's ID certificate.");
  }
  if (at < cert.notBefore.getTime()) {
    throw new Refusal('certificate.invalid', `The ID certificate is not valid until ${cert.notBefore.toISOString()}, after the time of the request.`);
  }
  if (at >= cert.notAfter.getTime()) {
    throw new Refusal('certificate.invalid', `The ID certificate expired on ${cert.notAfter.toISOString()}; register the product instance again with a token.`);
  }
  return instance;
}

/** The instance again, inside the write transaction: removed or renewed meanwhile, it is not the one identified. */
function stillRegistered(db: Db, known: RegisteredInstance): RegisteredInstance {
  const now = statement(db, `${REGISTERED_SELECT} WHERE p.id = ?`).get(known.id) as RegisteredInstance | undefined;
  if (!now) throw new Refusal('instance.unknown', `${NOT_REGISTERED}.`);
  if (now.certSerial !== known.certSerial) {
    throw new Refusal('instance.unknown', `${NOT_REGISTERED} with this ID certificate: it has been issued another one since.`);
  }
  return now;
}

function touch(db: Db, instanceId: number, at: number): void {
  statement(db, 'UPDATE product_instance SET last_contact = ? WHERE id = ?').run(at, instanceId);
}

// ---------------------------------------------------------------------------------------
// authorization

/**
 * Judges what the instance uses against its virtual account's pool (purchased − reserved
 * − in use by the others) and records it as the instance's use. An unknown tag is
 * InvalidTag and not recorded; use beyond the pool is recorded all the same (the device
 * is using it) and OutOfCompliance.
 */
function authorize(db: Db, instanceId: number, virtualAccountId: number, use: readonly EntitlementUse[], at: number): AuthorizationGrant {
  const entitlements = use.map(({ tag, count }) => {
    if (!catalogueEntry(tag)) return { tag, count, verdict: 'InvalidTag' as const };
    const fits = count === 0 || count <= availableFor(db, virtualAccountId, tag, at, instanceId);
    return { tag, count, verdict: fits ? ('InCompliance' as const) : ('OutOfCompliance' as const) };
  });
  statement(db, 'DELETE FROM licence_usage WHERE instance_id = ?').run(instanceId);
  const record = statement(db, 'INSERT INTO licence_usage (instance_id, tag, count) VALUES (?, ?, ?)');
  for (const e of entitlements) if (e.verdict !== 'InvalidTag' && e.count > 0) record.run(instanceId, e.tag, e.count);
  return {
    status: entitlements.every((e) => e.verdict === 'InCompliance') ? 'Authorized' : 'OutOfCompliance',
    expires: new Date(Math.min(at - BACKDATE_MS + AUTH_VALIDITY_MS, CLOCK_END)).toISOString(),
    entitlements,
  };
}

// ---------------------------------------------------------------------------------------
// certificates

async function csrOf(csrPem: string): Promise<CsrInfo> {
  try {
    return await readCsr(csrPem);
  } catch (e) {
    throw refusedByPki(e, 'request.invalid');
  }
}

/** An ID certificate names the product instance by its serial number: so must the CSR. */
function forSerial(csr: CsrInfo, udi: DeviceIdentity): void {
  if (csr.commonName !== udi.serial) {
    throw new Refusal(
      'certificate.invalid',
      `The certificate signing request is for '${csr.commonName.slice(0, 64)}', not for the serial number ${udi.serial}: its common name must be the product instance's serial number.`,
    );
  }
}

/** A new ID certificate for the CSR: backdated about five minutes from the request's time, valid a year. */
async function issue(env: CssmEnv, csrPem: string, serial: string, at: number): Promise<{ pem: string; serial: string; notAfter: number }> {
  const ca = await ensurePki(env.home);
  const serialHex = certificateSerial(env);
  const notBefore = at - BACKDATE_MS;
  // The simulated clock ends with year 9999, and so do certificate dates.
  const notAfter = Math.min(notBefore + ID_CERT_VALIDITY_MS, CLOCK_END);
  let pem: string;
  try {
    pem = await issueIdCertificate(ca, csrPem, { serialHex, commonName: serial, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
  } catch (e) {
    throw refusedByPki(e, 'request.invalid');
  }
  return { pem, serial: serialKey(serialHex), notAfter };
}

/** 16 hex digits from the environment's generator (seeded under --seed), never all zero. */
function certificateSerial(env: CssmEnv): string {
  for (;;) {
    const hex = env.rng.bytes(8).toString('hex');
    if (/[^0]/.test(hex)) return hex;
  }
}

/** A serial as readCertificate reports it: lowercase hex without leading zeros. */
function serialKey(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** The DER bytes of a PEM certificate, to compare certificates whatever their line breaks. */
function pemBytes(pem: string): Buffer | undefined {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  return m?.[1] !== undefined ? Buffer.from(m[1].replace(/\s+/g, ''), 'base64') : undefined;
}

/** The PKI's refusals (pki.badCsr, pki.malformed) are the device's doing; anything else is ours, and propagates. */
function refusedByPki(e: unknown, code: CssmErrorCode): Refusal {
  if (!isExshError(e) || e instanceof StoreError) throw e;
  return new Refusal(code, reason(e));
}

function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.endsWith('.') ? text : `${text}.`;
}

// ---------------------------------------------------------------------------------------
// the envelope

interface Echo {
  kind: MessageKind;
  nonce: string;
  time: string;
}

/** What a reply can echo of even a malformed request. */
function echoOf(env: CssmEnv, raw: unknown): Echo {
  const r = isRecord(raw) ? raw : {};
  const kind = typeof r.kind === 'string' && KINDS.has(r.kind) ? (r.kind as MessageKind) : 'register';
  const nonce = typeof r.nonce === 'string' && /^[0-9A-Za-z]{1,64}$/.test(r.nonce) ? r.nonce : '';
  const time =
    typeof r.time === 'string' && r.time.length <= 40 && ISO_INSTANT.test(r.time) && !Number.isNaN(Date.parse(r.time)) ? r.time : env.now().toISOString();
  return { kind, nonce, time };
}

function answer(env: CssmEnv, echo: Echo, outcome: Pick<ReplyEnvelope, 'status' | 'body' | 'error'>): ReplyEnvelope {
  const authority = loadAuthority(env.home);
  return signReply<ReplyEnvelope>({ protocol: PROTOCOL, ...echo, ...outcome, authority: authority.fingerprint }, authority.privateKey);
}

function timeOf(request: RequestEnvelope): number {
  return Date.parse(request.time);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(why: string): Refusal {
  return new Refusal('request.invalid', `The request is malformed: ${why}.`);
}

function text(o: Record<string, unknown>, key: string, where: string, max: number, optional = false): void {
  const v = o[key];
  if (v === undefined && optional) return;
  if (typeof v !== 'string') throw invalid(`${where}.${key} must be text`);
  if (v.length > max) throw invalid(`${where}.${key} is longer than ${max} characters`);
}

/** The request, checked field by field against the protocol (messages.ts); the object itself, so its signature covers what was sent. */
function checkEnvelope(raw: unknown): RequestEnvelope {
  if (!isRecord(raw)) throw invalid('it is not a JSON object');
  if (typeof raw.protocol !== 'string') throw invalid('it names no protocol');
  if (raw.protocol !== PROTOCOL) {
    throw new Refusal('protocol.unsupported', `This CSSM speaks the ${PROTOCOL} protocol, not '${raw.protocol.slice(0, 40)}'.`);
  }
  if (typeof raw.kind !== 'string' || !KINDS.has(raw.kind)) throw invalid(`its kind must be one of ${[...KINDS].join(', ')}`);
  if (typeof raw.nonce !== 'string' || !NONCE.test(raw.nonce)) throw invalid('its nonce must be 16 bytes in lowercase hex');
  const time = typeof raw.time === 'string' && ISO_INSTANT.test(raw.time) ? Date.parse(raw.time) : Number.NaN;
  if (!(time >= 0 && time <= CLOCK_END)) {
    throw invalid('its time must be an ISO 8601 instant from 1970 to 9999, such as 2026-03-01T10:15:00.000Z');
  }
  if (typeof raw.signature !== 'string' || raw.signature.length > 2048) throw invalid('its signature must be base64 text');
  const udi = raw.udi;
  if (!isRecord(udi)) throw invalid('its udi must be an object');
  if (typeof udi.serial !== 'string' || !SERIAL.test(udi.serial)) throw invalid('udi.serial must be 1 to 16 letters and digits');
  for (const key of ['pid', 'vid', 'hostId', 'productType']) {
    const v = udi[key];
    if (typeof v !== 'string' || !UDI_FIELD.test(v)) throw invalid(`udi.${key} must be 1 to 64 printable characters without spaces, commas or colons`);
  }
  const body = raw.body;
  if (!isRecord(body)) throw invalid('its body must be an object');
  switch (raw.kind as MessageKind) {
    case 'register':
      text(body, 'token', 'body', 1024);
      if ((body.token as string).trim() === '') throw invalid('body.token is empty');
      if (typeof body.force !== 'boolean') throw invalid('body.force must be true or false');
      text(body, 'csr', 'body', MAX_PEM);
      text(body, 'software', 'body', MAX_TEXT);
      text(body, 'hostname', 'body', MAX_TEXT, true);
      text(body, 'address', 'body', MAX_TEXT, true);
      break;
    case 'renewId':
      text(body, 'idCertificate', 'body', MAX_PEM);
      text(body, 'csr', 'body', MAX_PEM);
      text(body, 'hostname', 'body', MAX_TEXT, true);
      text(body, 'address', 'body', MAX_TEXT, true);
      break;
    case 'renewAuth':
      text(body, 'idCertificate', 'body', MAX_PEM);
      checkEntitlements(body.entitlements);
      break;
    case 'deregister':
      text(body, 'idCertificate', 'body', MAX_PEM);
      break;
  }
  return raw as unknown as RequestEnvelope;
}

function checkEntitlements(v: unknown): void {
  if (!Array.isArray(v)) throw invalid('body.entitlements must be a list');
  if (v.length > MAX_ENTITLEMENTS) throw invalid(`body.entitlements has more than ${MAX_ENTITLEMENTS} entries`);
  const seen = new Set<string>();
  for (const [i, e] of v.entries()) {
    if (!isRecord(e) || typeof e.tag !== 'string' || e.tag === '' || e.tag.length > MAX_TEXT) {
      throw invalid(`body.entitlements[${i}] needs a tag`);
    }
    if (typeof e.count !== 'number' || !Number.isSafeInteger(e.count) || e.count < 0 || e.count > MAX_COUNT) {
      throw invalid(`body.entitlements[${i}].count must be a whole number from 0 to ${MAX_COUNT}`);
    }
    if (seen.has(e.tag)) throw invalid(`body.entitlements names ${e.tag.slice(0, 80)} twice`);
    seen.add(e.tag);
  }
}
