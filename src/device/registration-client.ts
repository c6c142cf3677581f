import { TIMEOUT_REASON, TransportFailure, type Link, type Route } from '../protocol/link.js';
import {
  PROTOCOL,
  type BodyOf,
  type CssmErrorCode,
  type MessageKind,
  type ReplyBodyOf,
  type ReplyEnvelope,
  type RequestEnvelope,
} from '../protocol/messages.js';
import { replySignedBy, signRequest } from '../protocol/sign.js';
import type { Rng } from '../random.js';
import { cssmReachable, dnsConfigured, readRegistration, routeOf } from './registration-state.js';
import { SOFTWARE_VERSION, type DeviceState } from './state.js';
import { usageReport } from './usage-state.js';
import { trustedKeys } from './trust.js';

/**
 * The device's half of the talk with the CSSM (§9.6): it builds and signs requests,
 * carries them through the front end's Link, and checks every reply (the authority's
 * signature, the nonce, the kind, and that an ID certificate chains to the simulator's
 * root, is valid now and is for this device's key). Nothing here changes state: the
 * result is data that registration.ts settles.
 */

/** What the front end provides (src/net/): the link and the root CA the device trusts. */
export interface RemoteEnv {
  /** The link to the CSSM (made, and its transports loaded, on first use). */
  link(): Promise<Link>;
  /** The simulator's root CA (PEM) from the home's PKI, if the CSSM has made one. */
  rootCertificate(): string | undefined;
}

const pki = () => import('../pki/pki.js');

/** A request ready to go, with what its settle needs to know. */
export interface Attempt<K extends MessageKind = MessageKind> {
  kind: K;
  /** The simulated time of the attempt (ISO). */
  at: string;
  route: Route;
  request: RequestEnvelope<K>;
  /** The device key the request is signed with (new on a first Register). */
  deviceKey: string;
  /** The registration section's revision the plan was made from. */
  revision: number;
  /** Register: the token and Force, kept for retries while pending. */
  token?: string;
  force?: boolean;
  /** Known without the network: no attempt can get through (the network switch, or Direct without DNS). */
  offline: boolean;
  /** A scheduled attempt made by the catch-up (not typed by the operator). */
  scheduled: boolean;
  /** The URL the link used (set when it is carried). */
  routeUrl?: string;
  /** A renewAuth sent at the 6-hour mark to report changed usage (not the 30-day renewal). */
  usageReport?: boolean;
}

export type Result<K extends MessageKind = MessageKind> =
  | { ok: true; body: ReplyBodyOf[K]; certificate?: { notAfter: string } }
  /** The CSSM answered, and refused. */
  | { ok: false; refused: true; code: CssmErrorCode; message: string }
  /** No usable answer: unreachable, TLS, proxy, HTTP, or a reply that failed a check. */
  | { ok: false; refused: false; code: string; reason: string };

function hostnameOf(state: DeviceState): string | undefined {
  const host = state.config['IP DNS Hostname'];
  const domain = state.config['IP DNS Domain Name'];
  if (typeof host !== 'string' || host === '') return undefined;
  return typeof domain === 'string' && domain !== '' ? `${host}.${domain}` : host;
}

function sharesHostname(state: DeviceState): boolean {
  return state.config['License Smart Privacy HostnameAndIp'] !== 'DoNotShare';
}

/** Plans one message at simulated time `at`. Register makes a device key if there is none yet. */
export async function planAttempt<K extends MessageKind>(
  state: DeviceState,
  kind: K,
  at: Date,
  rng: Rng,
  opts: { token?: string; force?: boolean; scheduled?: boolean } = {},
): Promise<Attempt<K>> {
  const p = await pki();
  const section = readRegistration(state);
  const deviceKey = section.deviceKey || p.generateDeviceKey();
  const serial = state.identity.serial;
  const hostname = sharesHostname(state) ? hostnameOf(state) : undefined;
  const withHost = hostname === undefined ? {} : { hostname };
  let body: BodyOf[MessageKind];
  if (kind === 'register') {
    body = {
      token: opts.token ?? '',
      force: opts.force === true,
      csr: await p.createCsr(deviceKey, { commonName: serial, ...withHost }),
      software: SOFTWARE_VERSION,
      ...withHost,
    };
  } else if (kind === 'renewId') {
    body = { idCertificate: section.idCertificate, csr: await p.createCsr(deviceKey, { commonName: serial, ...withHost }), ...withHost };
  } else if (kind === 'renewAuth') {
    body = { idCertificate: section.idCertificate, entitlements: usageReport(state) };
  } else {
    body = { idCertificate: section.idCertificate };
  }
  const { pid, vid, hostId, productType } = state.identity;
  const request = signRequest<RequestEnvelope<K>>(
    {
      protocol: PROTOCOL,
      kind,
      nonce: rng.bytes(16).toString('hex'),
      time: at.toISOString(),
      udi: { pid, serial, vid, hostId, productType },
      body: body as BodyOf[K],
    },
    deviceKey,
  );
  const route = routeOf(state);
  return {
    kind,
    at: at.toISOString(),
    route,
    request,
    deviceKey,
    revision: section.revision,
    ...(opts.token !== undefined ? { token: opts.token, force: opts.force === true } : {}),
    offline: !cssmReachable(state) || (route.mode === 'Direct' && !dnsConfigured(state)),
    scheduled: opts.scheduled === true,
  };
}

const badReply = (code: string, reason: string): Result => ({ ok: false, refused: false, code, reason });

/** Carries an attempt and checks the reply. Never throws for what the network or the CSSM did. */
export async function carry<K extends MessageKind>(attempt: Attempt<K>, env: RemoteEnv | undefined, state: DeviceState): Promise<Result<K>> {
  if (!env) return badReply('registration.unreachable', TIMEOUT_REASON) as Result<K>;
  const link = await env.link();
  attempt.routeUrl = link.url(attempt.route);
  if (attempt.offline) return badReply('registration.unreachable', TIMEOUT_REASON) as Result<K>;
  let reply: ReplyEnvelope;
  try {
    reply = await link.exchange(attempt.route, attempt.request);
  } catch (e) {
    if (e instanceof TransportFailure) {
      const code =
        e.kind === 'unknownCa'
          ? 'registration.unknownCa'
          : e.kind === 'proxy'
            ? 'registration.proxyRefused'
            : e.kind === 'http'
              ? 'registration.httpError'
              : 'registration.unreachable';
      return badReply(code, e.reason) as Result<K>;
    }
    throw e;
  }
  return (await checkReply(attempt, reply, env, state)) as Result<K>;
}

async function checkReply(attempt: Attempt, reply: ReplyEnvelope, env: RemoteEnv, state: DeviceState): Promise<Result> {
  if (typeof reply !== 'object' || reply === null || reply.protocol !== PROTOCOL) {
    return badReply('registration.badReply', 'the CSSM sent a reply this system does not understand.');
  }
  if (!replySignedBy(reply, trustedKeys(state))) {
    return badReply('registration.badSignature', "the CSSM's reply is not signed by an authority this system trusts (see exsh trust list).");
  }
  if (reply.nonce !== attempt.request.nonce || reply.kind !== attempt.kind) {
    return badReply('registration.staleReply', "the CSSM's reply does not answer this request (its nonce differs: a replayed or stale reply).");
  }
  if (reply.status !== 'OK' || !reply.body) {
    const code = reply.error?.code ?? 'request.invalid';
    return { ok: false, refused: true, code, message: reply.error?.message ?? 'The CSSM refused the request.' };
  }
  const body = reply.body as unknown as Record<string, unknown>;
  if (attempt.kind !== 'register' && attempt.kind !== 'renewId') return { ok: true, body: reply.body };
  const pem = body.idCertificate;
  const root = env.rootCertificate();
  if (typeof pem !== 'string' || !root) {
    return badReply('registration.badCertificate', 'the ID certificate in the reply cannot be checked against the simulator root CA.');
  }
  const p = await pki();
  try {
    const info = await p.verifyIdCertificate(pem, root, new Date(attempt.at));
    const ownKey = process.getBuiltinModule('node:crypto').createPublicKey(attempt.deviceKey).export({ type: 'spki', format: 'pem' }).toString();
    if (info.commonName !== state.identity.serial || info.publicKeyPem.trim() !== ownKey.trim()) {
      return badReply('registration.certificateMismatch', 'the ID certificate in the reply was issued for another device.');
    }
    return { ok: true, body: reply.body, certificate: { notAfter: info.notAfter.toISOString() } };
  } catch (e) {
    const detail = e instanceof Error ? e.message : String(e);
    return badReply('registration.badCertificate', `the ID certificate in the reply is not valid: ${detail}`);
  }
}
