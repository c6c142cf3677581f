import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeDatabases } from '../../src/cssm/db.js';
import type { CssmEnv } from '../../src/cssm/service.js';
import { createToken } from '../../src/cssm/tokens.js';
import { createCsr, forgetPki, generateDeviceKey } from '../../src/pki/pki.js';
import type { Route } from '../../src/protocol/link.js';
import { PROTOCOL, type RegisterBody, type RequestEnvelope } from '../../src/protocol/messages.js';
import { signRequest } from '../../src/protocol/sign.js';
import { seededRng } from '../../src/random.js';

export const T0 = new Date('2026-01-01T00:00:00.000Z');

const homes: string[] = [];

export function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'exsh-net-'));
  homes.push(home);
  return home;
}

export function cleanHomes(): void {
  closeDatabases();
  forgetPki();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}

export function testEnv(home = tempHome(), now = T0): CssmEnv {
  return { home, now: () => now, rng: seededRng(`net-${home}`, 'cssm') };
}

export const DIRECT: Route = { mode: 'Direct', onPremUrl: '', proxy: { address: '', port: 0, username: '', password: '' } };

export function onPrem(url: string): Route {
  return { ...DIRECT, mode: 'OnPrem', onPremUrl: url };
}

export function viaProxy(port: number, username = '', password = '', address = '127.0.0.1'): Route {
  return { ...DIRECT, mode: 'Proxy', proxy: { address, port, username, password } };
}

let serials = 0;

/** An 8-hex-digit serial number, new on every call. */
export function newSerial(): string {
  serials++;
  return (0x1a000000 + serials).toString(16).toUpperCase();
}

/** A register request signed by a new device key, as the device makes one. */
export async function registerRequest(
  token: string,
  opts: { serial?: string; time?: Date; force?: boolean } = {},
): Promise<{ request: RequestEnvelope<'register'>; deviceKey: string; serial: string }> {
  const serial = opts.serial ?? newSerial();
  const deviceKey = generateDeviceKey();
  const body: RegisterBody = {
    token,
    force: opts.force === true,
    csr: await createCsr(deviceKey, { commonName: serial, hostname: 'vcsc.example.com' }),
    software: 'X15.3.0',
    hostname: 'vcsc.example.com',
  };
  const request = signRequest<RequestEnvelope<'register'>>(
    {
      protocol: PROTOCOL,
      kind: 'register',
      nonce: randomBytes(16).toString('hex'),
      time: (opts.time ?? T0).toISOString(),
      udi: { pid: 'Expressway', serial, vid: '1.0', hostId: '320aa69d', productType: 'EXPY' },
      body,
    },
    deviceKey,
  );
  return { request, deviceKey, serial };
}

export function newToken(env: CssmEnv, opts: Parameters<typeof createToken>[1] = {}): string {
  return createToken(env, opts).token;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** One HTTPS request trusting only `ca` (node:https: Node 20's fetch takes no CA). */
export function call(
  url: string,
  opts: { ca: string; method?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = { ca: '' },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : opts.body;
    const req = httpsRequest(url, {
      method: opts.method ?? (body ? 'POST' : 'GET'),
      ca: opts.ca,
      agent: false,
      headers: { ...(body && !opts.chunked ? { 'content-length': String(body.length) } : {}), ...opts.headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    if (body && opts.chunked) {
      // Sent in pieces with no Content-Length: the server finds the size as it reads.
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** Shape of a JSON value: object keys (sorted) and value types, recursively; arrays by their first element. */
export function shapeOf(v: unknown): unknown {
  if (Array.isArray(v)) return [v.length > 0 ? shapeOf(v[0]) : 'empty'];
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, shapeOf((v as Record<string, unknown>)[k])]),
    );
  }
  return v === null ? 'null' : typeof v;
}
