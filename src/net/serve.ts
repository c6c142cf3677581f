import { drain, listen, printablePath, readBody, urlHost } from './http.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ACCOUNT, DEFAULT_VIRTUAL_ACCOUNT, openDatabase, readTransaction } from '../cssm/db.js';
import { instances, licenses, type CssmEnv } from '../cssm/service.js';
import { createToken, listTokens, MAX_DESCRIPTION_LENGTH, MAX_TOKEN_DAYS, type TokenInfo } from '../cssm/tokens.js';
import { ExshError, StoreError, storeError, UsageError } from '../errors.js';
import { ensurePrivateDir, privateFileProblem, readFileCapped, writePrivateFile } from '../files.js';
import { ensurePki } from '../pki/pki.js';
import { CLOUD_PATH, ONPREM_PATH } from '../protocol/messages.js';
import { cssmDir, removeServeRecord, writeServeRecord } from './record.js';

/**
 * `exsh cssm serve` (§9.7): the home's CSSM over HTTPS, with the server certificate of the
 * home's PKI. It answers the device protocol as the cloud (`/licservice/license`) and as
 * Smart Software Manager On-Prem (`/SmartTransport`), and the Smart Account API that
 * automation uses to make tokens and read listings, behind OAuth client credentials
 * (`/oauth/token`; On-Prem: `/backend/oauth/token`, `/backend/api/v1/…`). Every answer is
 * JSON; none ever carries a stack trace.
 */

export const MAX_BODY_BYTES = 1 << 20;
const ACCESS_TOKEN_SECONDS = 3600;
const MAX_ACCESS_TOKENS = 10_000;
const CLOUD_API = '/services/api/smart-accounts-and-licensing/v2';
const ONPREM_API = '/backend/api/v1';

export interface ServeUrls {
  base: string;
  cloud: string;
  onPrem: string;
  /** The Smart Account API, cloud flavour: `…/accounts/<domain>/virtual-accounts/<va>/tokens`. */
  api: string;
  /** The same API, On-Prem flavour. */
  onPremApi: string;
  oauth: string;
  onPremOauth: string;
}

export interface ApiClient {
  id: string;
  secret: string;
}

export interface CssmServerOptions {
  home: string;
  host?: string;
  port?: number;
  env: CssmEnv;
  /** Where an unexpected failure is described (never to the client). */
  log?: (line: string) => void;
  /** Real time in ms, for access-token expiry. */
  clock?: () => number;
}

export interface CssmServer {
  host: string;
  port: number;
  urls: ServeUrls;
  rootCaPath: string;
  client: ApiClient;
  /** Stops listening, ends every connection and removes the home's record (if it is still this server's). */
  close(): Promise<void>;
}

/** An error the handlers throw to answer with this status and body. */
class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: object,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const apiError = (status: number, statusMessage: string, headers?: Record<string, string>): HttpAnswer =>
  new HttpAnswer(status, { status: 'ERROR', statusMessage }, headers);

export async function startCssmServer(opts: CssmServerOptions): Promise<CssmServer> {
  const { home, env } = opts;
  const host = opts.host ?? '127.0.0.1';
  const clock = opts.clock ?? Date.now;
  const log = opts.log ?? (() => {});
  const pki = await ensurePki(home);
  ensurePrivateDir(cssmDir(home), 'The CSSM directory');
  // Opened now, so that a home whose CSSM cannot be used fails at start (exit 3), not at the first request.
  smartAccountName(env);
  const client = loadOrCreateClient(home);
  const accessTokens = new Map<string, number>();

  const server: Server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem, minVersion: 'TLSv1.2' });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const handlers: Handlers = {
    device: async (req, via) => {
      const raw = await readJson(req, (message) => new HttpAnswer(400, { error: 'request.invalid', message }));
      const { handleDeviceMessage } = await import('../cssm/connected.js');
      return { status: 200, body: await handleDeviceMessage(env, raw, via) };
    },
    oauth: async (req) => ({ status: 200, body: issueAccessToken(await readOauthRequest(req), client, accessTokens, clock()), noStore: true }),
    api: async (req, route) => {
      authorize(req, accessTokens, clock());
      return smartAccountApi(env, req, route);
    },
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    answer(req, res, handlers).catch((e: unknown) => {
      log(`exsh cssm serve: ${(e as Error).message}`);
      res.destroy();
    });
  });
  // A client that speaks no TLS, or garbage: nothing to answer.
  server.on('tlsClientError', (_e, socket) => socket.destroy());
  // Every socket, handshaking or idle too (closeAllConnections knows only those that got to HTTP).
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await listen(server, host, opts.port ?? 0, { what: '', option: '--port' });
  const port = (server.address() as AddressInfo).port;
  const base = `https://${urlHost(host)}:${port}`;
  const urls: ServeUrls = {
    base,
    cloud: `${base}${CLOUD_PATH}`,
    onPrem: `${base}${ONPREM_PATH}`,
    api: `${base}${CLOUD_API}`,
    onPremApi: `${base}${ONPREM_API}`,
    oauth: `${base}/oauth/token`,
    onPremOauth: `${base}/backend/oauth/token`,
  };
  const instance = randomBytes(16).toString('hex');
  try {
    writeServeRecord(home, {
      pid: process.pid,
      instance,
      host,
      port,
      base,
      cloud: urls.cloud,
      onPrem: urls.onPrem,
      rootCaPath: pki.rootCertPath,
      startedAt: new Date(clock()).toISOString(),
    });
  } catch (e) {
    server.close();
    server.closeAllConnections();
    throw e;
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      removeServeRecord(home, instance);
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return { host, port, urls, rootCaPath: pki.rootCertPath, client, close };
}

// ---------------------------------------------------------------------------------------
// routing

interface Reply {
  status: number;
  body: unknown;
  noStore?: boolean;
}

interface ApiRoute {
  flavour: 'cloud' | 'onprem';
  account: string;
  virtualAccount: string;
  resource: 'tokens' | 'licenses' | 'devices' | 'product-instances';
}

interface Handlers {
  device(req: IncomingMessage, via: 'cloud' | 'onprem'): Promise<Reply>;
  oauth(req: IncomingMessage): Promise<Reply>;
  api(req: IncomingMessage, route: ApiRoute): Promise<Reply>;
}

const API_PATH =
  /^(?:\/services\/api\/smart-accounts-and-licensing\/v2|(\/backend\/api\/v1))\/accounts\/([^/]+)\/virtual-accounts\/([^/]+)\/(tokens|licenses|devices|product-instances)$/;

async function answer(req: IncomingMessage, res: ServerResponse, handlers: Handlers): Promise<void> {
  // The raw path, never resolved against a base: `//host/x` must not become another host's URL.
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  let reply: Reply;
  try {
    reply = await route(req, path, method, handlers);
  } catch (e) {
    reply = failureReply(e, path);
    if (e instanceof HttpAnswer) for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  }
  send(res, reply);
  // Whatever of a refused body is still coming is read and dropped (up to a bound), so the
  // client sees the answer rather than a reset.
  if (!req.complete) drain(req, MAX_BODY_BYTES);
}

async function route(req: IncomingMessage, path: string, method: string, handlers: Handlers): Promise<Reply> {
  const only = (allowed: readonly string[], api = false): void => {
    if (allowed.includes(method)) return;
    const message = `${printablePath(method)} is not allowed on ${printablePath(path)}; use ${allowed.join(' or ')}.`;
    const headers = { allow: allowed.join(', ') };
    throw api ? apiError(405, message, headers) : new HttpAnswer(405, { error: 'method_not_allowed', message }, headers);
  };

  if (path === CLOUD_PATH || path === ONPREM_PATH) {
    only(['POST']);
    return handlers.device(req, path === CLOUD_PATH ? 'cloud' : 'onprem');
  }
  if (path === '/oauth/token' || path === '/backend/oauth/token') {
    only(['POST']);
    return handlers.oauth(req);
  }
  const m = API_PATH.exec(path);
  if (m) {
    const resource = m[4] as ApiRoute['resource'];
    only(resource === 'tokens' ? ['GET', 'POST'] : ['GET'], true);
    const account = decodeSegment(m[2] ?? '');
    const virtualAccount = decodeSegment(m[3] ?? '');
    if (account === undefined || virtualAccount === undefined)
      throw apiError(400, 'The account or virtual account name in the path is not valid URL encoding.');
    return handlers.api(req, { flavour: m[1] ? 'onprem' : 'cloud', account, virtualAccount, resource });
  }
  if (path.startsWith(CLOUD_API) || path.startsWith(ONPREM_API)) throw apiError(404, `No such resource: ${printablePath(path)}.`);
  throw new HttpAnswer(404, { error: 'not_found', message: `No such path: ${printablePath(path)}.` });
}

function failureReply(e: unknown, path: string): Reply {
  if (e instanceof HttpAnswer) return { status: e.status, body: e.body };
  if (e instanceof StoreError) return { status: 503, body: { error: e.code, message: e.message } };
  const api = path.startsWith(CLOUD_API) || path.startsWith(ONPREM_API);
  if (e instanceof ExshError) {
    const status = e.code === 'cssm.unknownVirtualAccount' ? 404 : e instanceof UsageError ? 400 : 409;
    return { status, body: api ? { status: 'ERROR', statusMessage: e.message, code: e.code } : { error: e.code, message: e.message } };
  }
  return {
    status: 500,
    body: api ? { status: 'ERROR', statusMessage: 'The CSSM could not answer.' } : { error: 'internal', message: 'The CSSM could not answer.' },
  };
}

function send(res: ServerResponse, reply: Reply): void {
  const body = Buffer.from(JSON.stringify(reply.body), 'utf8');
  res.statusCode = reply.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', String(body.length));
  if (reply.noStore) res.setHeader('cache-control', 'no-store');
  res.end(body);
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// bodies

const tooLarge = (): HttpAnswer => new HttpAnswer(413, { error: 'payload_too_large', message: `The request body is larger than ${MAX_BODY_BYTES} bytes.` });

async function readJson(req: IncomingMessage, bad: (message: string) => HttpAnswer): Promise<unknown> {
  const body = await readBody(req, MAX_BODY_BYTES, tooLarge);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw bad('The request body is not JSON.');
  }
}

// ---------------------------------------------------------------------------------------
// OAuth client credentials

interface OauthRequest {
  clientId?: string;
  clientSecret?: string;
  grantType?: string;
}

/** `client_id`, `client_secret`, `grant_type` from a form or JSON body, or HTTP Basic client authentication. */
async function readOauthRequest(req: IncomingMessage): Promise<OauthRequest> {
  const body = (await readBody(req, MAX_BODY_BYTES, tooLarge)).toString('utf8');
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  let fields: Record<string, unknown>;
  if (type.includes('json') || (!type.includes('x-www-form-urlencoded') && body.trimStart().startsWith('{'))) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      fields = parsed as Record<string, unknown>;
    } catch {
      throw new HttpAnswer(400, { error: 'invalid_request', error_description: 'The request body is not JSON.' });
    }
  } else {
    fields = Object.fromEntries(new URLSearchParams(body));
  }
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const out: OauthRequest = { clientId: text(fields.client_id), clientSecret: text(fields.client_secret), grantType: text(fields.grant_type) };
  const basic = /^Basic\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
  if (basic && out.clientId === undefined) {
    const decoded = Buffer.from(basic[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      out.clientId = decodeForm(decoded.slice(0, colon));
      out.clientSecret = decodeForm(decoded.slice(colon + 1));
    }
  }
  return out;
}

function decodeForm(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

function issueAccessToken(r: OauthRequest, client: ApiClient, tokens: Map<string, number>, now: number): object {
  if (r.grantType === undefined) throw new HttpAnswer(400, { error: 'invalid_request', error_description: 'grant_type is missing.' });
  if (r.grantType !== 'client_credentials') {
    throw new HttpAnswer(400, { error: 'unsupported_grant_type', error_description: 'Only client_credentials is supported.' });
  }
  const idOk = sameText(r.clientId ?? '', client.id);
  const secretOk = sameText(r.clientSecret ?? '', client.secret);
  if (!idOk || !secretOk) throw new HttpAnswer(401, { error: 'invalid_client', error_description: 'Client authentication failed.' });
  for (const [t, expires] of tokens) if (expires <= now) tokens.delete(t);
  while (tokens.size >= MAX_ACCESS_TOKENS) {
    const oldest = tokens.keys().next().value;
    if (oldest === undefined) break;
    tokens.delete(oldest);
  }
  const token = randomBytes(32).toString('base64url');
  tokens.set(token, now + ACCESS_TOKEN_SECONDS * 1000);
  return { access_token: token, token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS };
}

function authorize(req: IncomingMessage, tokens: Map<string, number>, now: number): void {
  const header = String(req.headers.authorization ?? '');
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) throw apiError(401, 'An access token is required: Authorization: Bearer <token> from /oauth/token.', { 'www-authenticate': 'Bearer' });
  const expires = tokens.get(m[1] ?? '');
  if (expires === undefined || expires <= now) {
    throw apiError(401, 'The access token is not valid or has expired.', { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
}

/** The API client of this home: made once (random), kept 0600 in `<home>/cssm/api-client.json`. */
export function loadOrCreateClient(home: string): ApiClient {
  const file = join(cssmDir(home), 'api-client.json');
  if (lstatSync(file, { throwIfNoEntry: false }) !== undefined) {
    const problem = privateFileProblem(file);
    if (problem !== undefined) throw storeError('serve.badClientFile', `The API client file ${file} cannot be used: ${problem}.`);
    try {
      const bytes = readFileCapped(file, 64 * 1024, true);
      const v = JSON.parse(bytes?.toString('utf8') ?? '') as { clientId?: unknown; clientSecret?: unknown };
      if (typeof v.clientId === 'string' && v.clientId !== '' && typeof v.clientSecret === 'string' && v.clientSecret.length >= 16) {
        return { id: v.clientId, secret: v.clientSecret };
      }
    } catch {
      // Refused below.
    }
    throw storeError('serve.badClientFile', `The API client file ${file} is not what exsh wrote; remove it to make a new client id and secret.`);
  }
  const client: ApiClient = { id: randomBytes(12).toString('hex'), secret: randomBytes(24).toString('base64url') };
  writePrivateFile(file, `${JSON.stringify({ clientId: client.id, clientSecret: client.secret }, null, 2)}\n`);
  return client;
}

// ---------------------------------------------------------------------------------------
// the Smart Account API

function smartAccountName(env: CssmEnv): string {
  const { db } = openDatabase(env.home, { account: DEFAULT_ACCOUNT, virtualAccount: DEFAULT_VIRTUAL_ACCOUNT, now: env.now() });
  return readTransaction(db, () => (db.prepare('SELECT name FROM smart_account WHERE id = 1').get() as { name: string }).name);
}

async function smartAccountApi(env: CssmEnv, req: IncomingMessage, r: ApiRoute): Promise<Reply> {
  const account = smartAccountName(env);
  if (r.account.toLowerCase() !== account.toLowerCase()) throw apiError(404, `There is no smart account "${r.account}".`);
  const virtualAccount = r.virtualAccount;
  switch (r.resource) {
    case 'tokens':
      if (req.method === 'POST') {
        const body = await readJson(req, (message) => apiError(400, message));
        const token = createToken(env, { virtualAccount, ...tokenRequest(body) });
        return { status: 200, body: { status: 'SUCCESS', tokenInfo: tokenView(token, env.now()) } };
      }
      return { status: 200, body: { status: 'SUCCESS', tokens: listTokens(env, { virtualAccount }).map((t) => tokenView(t, env.now())) } };
    case 'licenses':
      return {
        status: 200,
        body: {
          status: 'SUCCESS',
          accountName: account,
          virtualAccount,
          licenses: licenses({ ...env, virtualAccount }).map((l) => ({
            license: l.license,
            tag: l.tag,
            licenseType: l.type,
            quantity: l.purchased,
            inUse: l.inUse,
            reserved: l.reserved,
            available: l.balance,
            status: l.balance < 0 ? 'Out of Compliance' : 'In Compliance',
          })),
        },
      };
    default: {
      const devices = instances({ ...env, virtualAccount });
      return { status: 200, body: { status: 'SUCCESS', accountName: account, virtualAccount, totalRecords: devices.length, devices } };
    }
  }
}

/** The token request of the API: `{description?, expiresAfterDays, exportControlled?: 'Allowed'|'Not Allowed', maxUses?}`. */
function tokenRequest(body: unknown): { description?: string; expiresDays: number; exportControlled: boolean; maxUses?: number } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw apiError(400, 'The request body must be a JSON object.');
  const b = body as Record<string, unknown>;
  if (b.expiresAfterDays === undefined || b.expiresAfterDays === null)
    throw apiError(400, `expiresAfterDays is required: a whole number of days from 1 to ${MAX_TOKEN_DAYS}.`);
  const days = wholeNumber(b.expiresAfterDays);
  if (days === undefined || days < 1 || days > MAX_TOKEN_DAYS)
    throw apiError(400, `expiresAfterDays must be a whole number of days from 1 to ${MAX_TOKEN_DAYS}.`);
  if (b.description !== undefined && typeof b.description !== 'string') throw apiError(400, 'description must be a string.');
  if (typeof b.description === 'string' && b.description.length > MAX_DESCRIPTION_LENGTH) {
    throw apiError(400, `description must be at most ${MAX_DESCRIPTION_LENGTH} characters.`);
  }
  let exportControlled = true;
  if (b.exportControlled !== undefined) {
    const v = typeof b.exportControlled === 'string' ? b.exportControlled.trim().toLowerCase() : undefined;
    if (v !== 'allowed' && v !== 'not allowed') throw apiError(400, 'exportControlled must be "Allowed" or "Not Allowed".');
    exportControlled = v === 'allowed';
  }
  let maxUses: number | undefined;
  if (b.maxUses !== undefined && b.maxUses !== null) {
    maxUses = wholeNumber(b.maxUses);
    if (maxUses === undefined || maxUses < 1) throw apiError(400, 'maxUses must be a whole number of 1 or more.');
  }
  return {
    ...(typeof b.description === 'string' ? { description: b.description } : {}),
    expiresDays: days,
    exportControlled,
    ...(maxUses !== undefined ? { maxUses } : {}),
  };
}

/** A JSON number or a string of digits (WWT's automation sends `"365"`). */
function wholeNumber(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d{1,9}\s*$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

function tokenView(t: TokenInfo, now: Date): object {
  const status = t.revoked ? 'REVOKED' : Date.parse(t.expiresAt) <= now.getTime() ? 'EXPIRED' : t.maxUses !== null && t.uses >= t.maxUses ? 'USED' : 'ACTIVE';
  return {
    token: t.token,
    description: t.description,
    virtualAccount: t.virtualAccount,
    createdAt: t.createdAt,
    expirationDate: t.expiresAt,
    exportControlled: t.exportControlled ? 'Allowed' : 'Not Allowed',
    maxUses: t.maxUses,
    uses: t.uses,
    status,
  };
}
