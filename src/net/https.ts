import type { ClientRequest, IncomingMessage } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TransportFailure } from '../protocol/link.js';
import { failureOf, phraseOf, timeoutFailure } from './failures.js';
import { openTunnel, type ProxySettings } from './proxy.js';

/**
 * One JSON POST over HTTPS (§9.5), straight to the server or through an HTTP CONNECT
 * tunnel (proxy.ts), trusting only the CA it is given. Everything that goes wrong ends in
 * a TransportFailure, and a deadline bounds the whole exchange (connect, tunnel, TLS,
 * request and reply), so nothing hangs. node:http and node:tls are loaded on first use:
 * this module is imported only when a device talks to a CSSM over the network.
 */

/** The largest reply accepted; a CSSM reply is a few kilobytes. */
export const MAX_REPLY_BYTES = 1 << 20;

export interface HttpsTarget {
  url: URL;
  /** The host name or address, without IPv6 brackets. */
  host: string;
  port: number;
  /** Path and query. */
  path: string;
}

/** An `https:` URL as a target, or undefined (another scheme, or not a URL): the device speaks HTTPS only. */
export function httpsTarget(text: string): HttpsTarget | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' || url.hostname === '' || url.username !== '' || url.password !== '') return undefined;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { url, host, port: url.port === '' ? 443 : Number(url.port), path: `${url.pathname}${url.search}` };
}

export interface PostOptions {
  /** The only CA trusted (PEM); undefined trusts nothing, so every TLS peer is refused. */
  ca: string | undefined;
  timeoutMs: number;
  /** CONNECT through this proxy first. */
  proxy?: ProxySettings;
}

/**
 * POSTs `body` (JSON text) and returns the reply parsed. A status other than 200, or a
 * body that is not a JSON object, is an `http` failure.
 */
export async function postJson(target: HttpsTarget, body: string, opts: PostOptions): Promise<unknown> {
  // Not import(): the bundle runs in a vm.Script, which has no dynamic-import callback.
  const tls = process.getBuiltinModule('node:tls');
  const http = process.getBuiltinModule('node:http');
  return new Promise<unknown>((resolve, reject) => {
    const owned: Array<{ destroy(): void }> = [];
    let settled = false;
    const finish = (failure: TransportFailure | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const s of owned) s.destroy();
      if (failure) reject(failure);
      else resolve(value);
    };
    const fail = (e: unknown): void => finish(failureOf(e));
    const timer = setTimeout(() => finish(timeoutFailure()), opts.timeoutMs);

    const secure = (socket: Socket | undefined): void => {
      const tlsSocket: TLSSocket = tls.connect({
        ...(socket ? { socket } : { port: target.port }),
        // The identity is checked against `host` (an IP address against the IP SANs);
        // SNI carries names only (RFC 6066).
        host: target.host,
        ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
        // An empty list trusts nothing at all, not Node's bundled roots.
        ca: opts.ca === undefined ? [] : [opts.ca],
        minVersion: 'TLSv1.2',
      });
      owned.push(tlsSocket);
      tlsSocket.once('error', fail);
      tlsSocket.once('secureConnect', () => request(tlsSocket));
    };

    const request = (tlsSocket: TLSSocket): void => {
      const payload = Buffer.from(body, 'utf8');
      const req: ClientRequest = http.request({
        createConnection: () => tlsSocket,
        method: 'POST',
        path: target.path,
        headers: {
          host: target.url.host,
          'content-type': 'application/json',
          'content-length': String(payload.length),
          accept: 'application/json',
          connection: 'close',
          'user-agent': 'exsh-smart-agent',
        },
      });
      owned.push(req);
      req.once('error', fail);
      req.once('response', (res) => receive(res, http.STATUS_CODES));
      req.end(payload);
    };

    const receive = (res: IncomingMessage, phrases: Record<number, string | undefined>): void => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        finish(new TransportFailure('http', `HTTP Server Error ${status}: ${phraseOf(status, res.statusMessage, (s) => phrases[s])}.`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) {
          finish(new TransportFailure('http', 'HTTP Server Error 200: The reply is larger than 1 MiB.'));
          return;
        }
        chunks.push(chunk);
      });
      res.once('error', fail);
      // A server that dies mid-reply: the message closes before it is complete.
      res.once('close', () => {
        if (!res.complete) finish(timeoutFailure());
      });
      res.once('end', () => {
        if (!res.complete) {
          finish(timeoutFailure());
          return;
        }
        const value = parseObject(Buffer.concat(chunks).toString('utf8'));
        if (value === undefined) finish(new TransportFailure('http', 'HTTP Server Error 200: The reply is not JSON.'));
        else finish(undefined, value);
      });
    };

    if (opts.proxy) {
      openTunnel(opts.proxy, target, http, (d) => owned.push(d)).then((tunnel) => {
        if (settled) tunnel.destroy();
        else secure(tunnel);
      }, fail);
    } else {
      secure(undefined);
    }
  });
}

function parseObject(text: string): object | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
