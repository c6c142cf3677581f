import type * as Http from 'node:http';
import type { Socket } from 'node:net';
import { TransportFailure } from '../protocol/link.js';
import { phraseOf, timeoutFailure } from './failures.js';

/**
 * The Proxy transport's first leg (§9.5): `CONNECT host:port` to the proxy, with Basic
 * `Proxy-Authorization` when a username is set, as tinyproxy and squid expect. A 2xx
 * answer gives the raw tunnel, over which https.ts runs TLS end to end to the CSSM;
 * anything else is the proxy's refusal, which the device shows as its reason.
 */

export interface ProxySettings {
  address: string;
  port: number;
  username: string;
  password: string;
}

/** `host:port` as a CONNECT request names it (an IPv6 address in brackets). */
export function connectAuthority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function proxyAuthorization(proxy: ProxySettings): string | undefined {
  if (proxy.username === '') return undefined;
  return `Basic ${Buffer.from(`${proxy.username}:${proxy.password}`, 'utf8').toString('base64')}`;
}

/**
 * Opens the tunnel. `own` is given everything to destroy if the caller's deadline passes
 * first. Rejects with `proxy` (the proxy answered, but not 2xx) or `timeout` (it could not
 * be reached, or closed without a usable answer).
 */
export function openTunnel(
  proxy: ProxySettings,
  target: { host: string; port: number },
  http: typeof Http,
  own: (d: { destroy(): void }) => void,
): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const address = proxy.address.trim().replace(/^\[(.*)\]$/, '$1');
    if (address === '' || !Number.isInteger(proxy.port) || proxy.port < 1 || proxy.port > 65535) {
      reject(timeoutFailure());
      return;
    }
    const authority = connectAuthority(target.host, target.port);
    const authorization = proxyAuthorization(proxy);
    const req = http.request({
      method: 'CONNECT',
      host: address,
      port: proxy.port,
      path: authority,
      // A tunnel of its own, never a pooled socket.
      agent: false,
      headers: { host: authority, ...(authorization ? { 'proxy-authorization': authorization } : {}) },
    });
    own(req);
    req.once('error', () => reject(timeoutFailure()));
    req.once('connect', (res: Http.IncomingMessage, socket: Socket, head: Buffer) => {
      own(socket);
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        socket.destroy();
        reject(new TransportFailure('proxy', `HTTP Proxy Error ${status}: ${phraseOf(status, res.statusMessage, (s) => http.STATUS_CODES[s])}.`));
        return;
      }
      // Bytes the proxy sent after its answer belong to the TLS handshake.
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.end();
  });
}
