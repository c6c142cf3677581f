import { drain, listen, printablePath, readBody, urlHost } from '../net/http.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Device } from '../device/device.js';
import { ExshError, StoreError, usageError } from '../errors.js';
import { ensurePki } from '../pki/pki.js';
import { Session } from '../shell/session.js';
import { printable } from '../text.js';
import type { Reply as XapiReply } from '../xapi/reply.js';
import { ramlDocument, REGISTRATION_FIELDS, ROUTES, TOKEN_MAX, type Action, type RouteSpec } from './rest-api.js';
import { actionOutcome, licensingStatus, type LicensingStatus } from './rest-licensing.js';
import { passwordMatches, REFUSAL_DELAY_MS } from './auth.js';

/**
 * `exsh serve --https <port>` (§11): the Expressway REST API for Smart Licensing over
 * HTTPS, with the server certificate of the home's PKI and HTTP Basic authentication
 * (user admin, the server's password). Every answer comes from the shell's own requests
 * run through a Session (`xStatus License Smart`, `xCommand License Smart Register …`), so
 * REST and the shell behave alike, refusals included. Every answer is JSON (the RAML
 * aside); none ever carries a stack trace. docs/rest.md describes the surface.
 */

export const MAX_BODY_BYTES = 1 << 20;
const USERNAME = 'admin';
const REALM = 'Expressway';

/** What the server needs of the CLI's context (commands/context.ts CliContext is one; serve/ sits below commands/). */
export interface RestContext {
  readonly home: string;
  /** The device served when none is named. */
  readonly deviceName: string;
  readonly io: { readonly stderr: NodeJS.WritableStream };
  /** Opens a device of the home, with its link to the CSSM. */
  device(name?: string): Promise<Device>;
}

export interface RestServerOptions {
  ctx: RestContext;
  host: string;
  port: number;
  /** The devices served; the first answers unless a request names another (`?device=`). Empty: the context's device. */
  devices: string[];
  password: string;
}

export interface RestServer {
  host: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** An answer the handlers throw: this status, this body. */
class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; message: string; field?: string },
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const fail = (status: number, error: string, message: string, headers?: Record<string, string>) => new HttpAnswer(status, { error, message }, headers);

const badField = (field: string, message: string) => new HttpAnswer(400, { error: 'rest.badField', message, field });

interface Answer {
  status: number;
  body: string;
  type: string;
  headers?: Record<string, string>;
}

const json = (status: number, value: unknown): Answer => ({ status, body: JSON.stringify(value), type: 'application/json; charset=utf-8' });

export async function startRestServer(opts: RestServerOptions): Promise<RestServer> {
  const { ctx, host } = opts;
  if (opts.password === '')
    throw usageError('serve.noPassword', 'The REST server needs a password: give --password-file or EXSH_SSH_PASSWORD, or let exsh serve make one.');
  const names = [...new Set(opts.devices.length > 0 ? opts.devices : [ctx.deviceName])];
  const devices = new Map<string, Device>();
  for (const name of names) devices.set(name, await ctx.device(name));
  const pki = await ensurePki(ctx.home);
  const log = (line: string) => ctx.io.stderr.write(`${printable(line)}\n`);

  const server: Server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem, minVersion: 'TLSv1.2' });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  let raml: string | undefined;
  const api: Api = {
    devices,
    first: names[0] as string,
    log,
    authorized: (req) => authorized(req, opts.password),
    raml: () => {
      raml ??= ramlDocument({ url, devices: names });
      return raml;
    },
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    answer(req, res, api).catch((e: unknown) => {
      log(`exsh serve (REST): ${(e as Error).message}`);
      res.destroy();
    });
  });
  server.on('tlsClientError', (_e, socket) => socket.destroy());
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await listen(server, host, opts.port, { what: 'HTTPS', option: '--https' });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${urlHost(host)}:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return { host, port, url, close };
}

// ---------------------------------------------------------------------------------------
// authentication

/** Basic `admin:<password>`; both parts always compared, in constant time (auth.ts, as SSH does). */
function authorized(req: IncomingMessage, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(String(req.headers.authorization ?? ''));
  const decoded = m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const userOk = passwordMatches(USERNAME, colon < 0 ? undefined : decoded.slice(0, colon));
  const passwordOk = passwordMatches(password, colon < 0 ? undefined : decoded.slice(colon + 1));
  return userOk && passwordOk;
}

// ---------------------------------------------------------------------------------------
// routing

interface Api {
  devices: Map<string, Device>;
  first: string;
  log(line: string): void;
  authorized(req: IncomingMessage): boolean;
  raml(): string;
}

async function answer(req: IncomingMessage, res: ServerResponse, api: Api): Promise<void> {
  // The raw path, never resolved against a base.
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  let reply: Answer;
  try {
    if (!api.authorized(req)) {
      // The same constant delay as a refused SSH login: guessing is slow and tells nothing.
      await new Promise((resolve) => setTimeout(resolve, REFUSAL_DELAY_MS));
      throw fail(401, 'rest.unauthorized', 'Authentication is required: HTTP Basic with user admin and the password of exsh serve.', {
        'www-authenticate': `Basic realm="${REALM}"`,
      });
    }
    const route = routeOf(path, req.method ?? 'GET');
    reply = await run(route.action, req, api, query);
  } catch (e) {
    reply = failureAnswer(e, api.log);
  }
  send(res, reply);
  // What is left of a refused body is read and dropped (up to a bound), so that the
  // client sees the answer rather than a reset.
  if (!req.complete) drain(req, MAX_BODY_BYTES);
}

function routeOf(path: string, method: string): RouteSpec {
  const candidates = ROUTES.filter((r) => r.path === path);
  if (candidates.length === 0) throw fail(404, 'rest.notFound', `No such resource: ${printablePath(path)} (GET /api/raml lists what is served).`);
  const hit = candidates.find((r) => r.method === method || (method === 'HEAD' && r.method === 'GET'));
  if (hit) return hit;
  const allowed = candidates.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]));
  throw fail(405, 'rest.methodNotAllowed', `${printablePath(method)} is not allowed on ${printablePath(path)}; use ${allowed.join(' or ')}.`, {
    allow: allowed.join(', '),
  });
}

function deviceOf(api: Api, query: string): Device {
  const wanted = new URLSearchParams(query).get('device');
  const name = wanted === null || wanted === '' ? api.first : wanted;
  const device = api.devices.get(name);
  if (device) return device;
  const served = [...api.devices.keys()].join(', ');
  throw fail(404, 'rest.unknownDevice', `No device '${printable(name).slice(0, 64)}' is served here; the devices are ${served}.`);
}

async function run(action: Action, req: IncomingMessage, api: Api, query: string): Promise<Answer> {
  if (action === 'raml') return { status: 200, body: api.raml(), type: 'application/raml+yaml; charset=utf-8' };
  const device = deviceOf(api, query);
  if (action === 'status') return json(200, await statusOf(device));
  const line = await commandLine(action, req);
  const reply = await execute(device, line);
  if (reply.kind !== 'result') throw new Error(`${line.split(' ').slice(0, 4).join(' ')} gave a ${reply.kind} reply`);
  if (reply.status !== 'OK') {
    const status = reply.status === 'ParameterError' || (reply.code ?? '').startsWith('xapi.') ? 400 : 409;
    throw fail(status, reply.code ?? 'rest.refused', reply.reason ?? 'The device refused the request.');
  }
  return json(200, actionOutcome(reply, await statusOf(device)));
}

/** The xAPI line an action runs, from its request body. */
async function commandLine(action: Exclude<Action, 'status' | 'raml'>, req: IncomingMessage): Promise<string> {
  if (action !== 'register') {
    await readObject(req, [], true);
    if (action === 'deregister') return 'xCommand License Smart Deregister';
    return action === 'renewAuthorization' ? 'xCommand License Smart Renew Auth' : 'xCommand License Smart Renew ID';
  }
  const body = await readObject(req, REGISTRATION_FIELDS, false);
  const token = body.Token;
  if (token === undefined || token === null) throw badField('Token', 'Token is required: the product instance registration token from the CSSM.');
  if (typeof token !== 'string') throw badField('Token', 'Token must be a string.');
  if (token.trim() === '' || token.length > TOKEN_MAX) throw badField('Token', `Token must be 1 to ${TOKEN_MAX} characters.`);
  // One request is one line: a token that would end it, or carry a terminal control, is refused here.
  if (/[\x00-\x1f\x7f]/.test(token)) throw badField('Token', 'Token must not contain control characters (a line break, a tab).');
  const rereg = body.Reregister ?? 'No';
  if (typeof rereg !== 'string' || !/^(yes|no)$/i.test(rereg)) throw badField('Reregister', 'Reregister must be "Yes" or "No".');
  const force = rereg.toLowerCase() === 'yes' ? 'True' : 'False';
  return `xCommand License Smart Register IdToken: "${token.replace(/[\\"]/g, '\\$&')}" Force: ${force}`;
}

async function execute(device: Device, line: string): Promise<XapiReply> {
  const outcome = await new Session({ device }).execute({ line });
  if (!outcome) throw new Error('the request produced nothing');
  return outcome.reply;
}

async function statusOf(device: Device): Promise<LicensingStatus> {
  const reply = await execute(device, 'xStatus License Smart');
  if (reply.kind === 'status') return licensingStatus(reply.tree);
  if (reply.kind === 'result' && reply.status !== 'OK') throw fail(409, reply.code ?? 'rest.refused', reply.reason ?? 'The device could not answer.');
  throw new Error(`xStatus License Smart gave a ${reply.kind} reply`);
}

function failureAnswer(e: unknown, log: (line: string) => void): Answer {
  if (e instanceof HttpAnswer) return { ...json(e.status, e.body), headers: e.headers };
  if (e instanceof StoreError) return json(503, { error: e.code, message: e.message });
  if (e instanceof ExshError) return json(409, { error: e.code, message: e.message });
  // A bug in exsh: described on the server's stderr, never to the client.
  log(`exsh serve (REST): ${e instanceof Error ? e.message : String(e)}`);
  return json(500, { error: 'rest.internal', message: 'The server could not answer this request.' });
}

function send(res: ServerResponse, a: Answer): void {
  const body = Buffer.from(a.body, 'utf8');
  res.statusCode = a.status;
  res.setHeader('content-type', a.type);
  res.setHeader('content-length', String(body.length));
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
  for (const [k, v] of Object.entries(a.headers ?? {})) res.setHeader(k, v);
  res.end(body);
}

// ---------------------------------------------------------------------------------------
// bodies

const tooLarge = () => fail(413, 'rest.tooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`, { connection: 'close' });

/** A JSON object with only these fields (an empty body counts as `{}` where allowed). */
async function readObject(req: IncomingMessage, fields: readonly string[], emptyOk: boolean): Promise<Record<string, unknown>> {
  const text = (await readBody(req, MAX_BODY_BYTES, tooLarge)).toString('utf8');
  if (text.trim() === '' && emptyOk) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail(400, 'rest.badJson', 'The request body is not JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(400, 'rest.badJson', 'The request body must be a JSON object.');
  const unknown = Object.keys(value).find((k) => !fields.includes(k));
  if (unknown !== undefined) {
    const known = fields.length === 0 ? 'this request takes no fields' : `the fields are ${fields.join(' and ')}`;
    throw badField(printable(unknown).slice(0, 64), `Unknown field ${printable(unknown).slice(0, 64)}: ${known}.`);
  }
  return value as Record<string, unknown>;
}
