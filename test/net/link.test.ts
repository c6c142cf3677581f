import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { createProxy } from 'proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { createLink, CISCO_CLOUD_URL, cssmCloudUrl, IN_PROCESS, parseCssmTimeout } from '../../src/net/link.js';
import { serveRecordPath, writeServeRecord } from '../../src/net/record.js';
import { startCssmServer, type CssmServer } from '../../src/net/serve.js';
import { createTestCa, ensurePki } from '../../src/pki/pki.js';
import { TIMEOUT_REASON, TransportFailure, UNKNOWN_CA_REASON } from '../../src/protocol/link.js';
import type { RegisterReply, ReplyEnvelope, RequestEnvelope } from '../../src/protocol/messages.js';
import { seededRng } from '../../src/random.js';
import { cleanHomes, DIRECT, newToken, onPrem, registerRequest, shapeOf, T0, tempHome, testEnv, viaProxy } from './helpers.js';

const closers: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  cleanHomes();
});

async function serve(home: string, host = '127.0.0.1'): Promise<CssmServer> {
  const server = await startCssmServer({ home, host, env: testEnv(home) });
  closers.push(() => server.close());
  return server;
}

function listening<S extends HttpServer | HttpsServer>(server: S, host = '127.0.0.1'): Promise<number> {
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as AddressInfo).port)));
}

async function failureOf(p: Promise<unknown>): Promise<{ kind: string; reason: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TransportFailure) return { kind: e.kind, reason: e.reason };
    throw e;
  }
  throw new Error('expected a TransportFailure, the exchange succeeded');
}

function expectRegistered(reply: ReplyEnvelope, request: RequestEnvelope): RegisterReply {
  expect({ status: reply.status, error: reply.error, kind: reply.kind, nonce: reply.nonce }).toEqual({
    status: 'OK',
    error: undefined,
    kind: 'register',
    nonce: request.nonce,
  });
  const body = reply.body as RegisterReply;
  expect(body.idCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
  expect(typeof reply.signature).toBe('string');
  return body;
}

/** A Basic-auth proxy (the `proxy` package, as tinyproxy or squid would be). */
async function basicProxy(user: string, password: string): Promise<{ port: number; connects: string[] }> {
  const proxy = createProxy(createHttpServer());
  const connects: string[] = [];
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  proxy.authenticate = (req) => {
    connects.push(`${req.method} ${req.url}`);
    return req.headers['proxy-authorization'] === expected;
  };
  return { port: await listening(proxy), connects };
}

describe('cssmCloudUrl and the timeout knob', () => {
  it('appends the cloud path to a base URL only', () => {
    expect(cssmCloudUrl('https://127.0.0.1:8443')).toBe('https://127.0.0.1:8443/licservice/license');
    expect(cssmCloudUrl('https://127.0.0.1:8443/')).toBe('https://127.0.0.1:8443/licservice/license');
    expect(cssmCloudUrl('https://[::1]:8443')).toBe('https://[::1]:8443/licservice/license');
    expect(cssmCloudUrl('https://cssm.example.com/SmartTransport')).toBe('https://cssm.example.com/SmartTransport');
    expect(cssmCloudUrl(' in-process ')).toBe(IN_PROCESS);
    expect(cssmCloudUrl('not a url')).toBe('not a url');
  });

  it('EXSH_CSSM_TIMEOUT_MS is whole milliseconds from 1 to 600000', () => {
    expect(parseCssmTimeout(undefined)).toBeUndefined();
    expect(parseCssmTimeout('')).toBeUndefined();
    expect(parseCssmTimeout('250')).toBe(250);
    for (const bad of ['0', '-1', '1.5', 'abc', '600001']) expect(() => parseCssmTimeout(bad), bad).toThrow(/EXSH_CSSM_TIMEOUT_MS/);
  });
});

describe('the transports in the bundle', () => {
  it('load Node built-ins without import(), which the vm.Script of bin/exsh.cjs cannot run', () => {
    const dir = new URL('../../src/net/', import.meta.url);
    const offenders = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /import\(\s*'node:/.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('the Link in-process', () => {
  it('registers with a token of the home, through JSON text', async () => {
    const home = tempHome();
    const env = testEnv(home);
    const link = createLink({ home, env });
    expect(link.url(DIRECT)).toBe(IN_PROCESS);
    const { request } = await registerRequest(newToken(env));
    const reply = await link.exchange(DIRECT, request);
    const body = expectRegistered(reply, request);
    expect(body.smartAccount).toBe('Demo Smart Account');
    expect(body.virtualAccount).toBe('Default');
  });

  it('answers a bad token with an ERROR reply, not a failure', async () => {
    const home = tempHome();
    const link = createLink({ home, env: testEnv(home) });
    const { request } = await registerRequest('bm8gc3VjaCB0b2tlbg==');
    const reply = await link.exchange(DIRECT, request);
    expect({ status: reply.status, code: reply.error?.code }).toEqual({ status: 'ERROR', code: 'token.invalid' });
  });

  it('`in-process` as the CSSM URL forces the embedded CSSM even with a server recorded', async () => {
    const home = tempHome();
    await serve(home);
    expect(createLink({ home, env: testEnv(home), cssmUrl: 'in-process' }).url(DIRECT)).toBe(IN_PROCESS);
  });
});

describe('the Link over HTTPS', () => {
  it('registers against a real cssm serve, and the same request in-process gets the same reply', async () => {
    // Two homes made alike (the same seed and clock draw the same token): one request, sent
    // over HTTPS to one and in-process to the other.
    const sameEnv = (home: string) => ({ home, now: () => T0, rng: seededRng('same', 'cssm') });
    const serverHome = tempHome();
    const otherHome = tempHome();
    const server = await serve(serverHome);
    const token = newToken(sameEnv(serverHome));
    expect(newToken(sameEnv(otherHome))).toBe(token);
    const link = createLink({ home: serverHome, env: sameEnv(serverHome), cssmUrl: server.urls.base });
    expect(link.url(DIRECT)).toBe(server.urls.cloud);
    const { request } = await registerRequest(token);
    const overHttps = await link.exchange(DIRECT, request);
    expectRegistered(overHttps, request);
    const inProcess = await createLink({ home: otherHome, env: sameEnv(otherHome) }).exchange(DIRECT, request);
    expectRegistered(inProcess, request);
    expect(shapeOf(overHttps)).toEqual(shapeOf(inProcess));
    // Only what each home's own keys make differs: the certificate (another root) and the ECDSA signature.
    const comparable = (r: ReplyEnvelope) => ({ ...r, signature: undefined, body: { ...(r.body as RegisterReply), idCertificate: undefined } });
    expect(comparable(overHttps)).toEqual(comparable(inProcess));
    expect((overHttps.body as RegisterReply).idCertificate).not.toBe((inProcess.body as RegisterReply).idCertificate);
  });

  it('Direct goes to the live server recorded in the home, and back in-process once it stops', async () => {
    const home = tempHome();
    const env = testEnv(home);
    const link = createLink({ home, env });
    const server = await startCssmServer({ home, env });
    expect(link.url(DIRECT)).toBe(server.urls.cloud);
    const { request } = await registerRequest(newToken(env));
    expectRegistered(await link.exchange(DIRECT, request), request);
    await server.close();
    expect(existsSync(serveRecordPath(home))).toBe(false);
    expect(link.url(DIRECT)).toBe(IN_PROCESS);
  });

  it('ignores (and removes) a record whose process is gone', async () => {
    const home = tempHome();
    const pki = await ensurePki(home);
    const child = spawn(process.execPath, ['-e', '0']);
    const pid = child.pid ?? 0;
    await new Promise((resolve) => child.once('exit', resolve));
    writeServeRecord(home, {
      pid,
      instance: 'stale',
      host: '127.0.0.1',
      port: 9,
      base: 'https://127.0.0.1:9',
      cloud: 'https://127.0.0.1:9/licservice/license',
      onPrem: 'https://127.0.0.1:9/SmartTransport',
      rootCaPath: pki.rootCertPath,
      startedAt: new Date().toISOString(),
    });
    const link = createLink({ home, env: testEnv(home) });
    expect(link.url(DIRECT)).toBe(IN_PROCESS);
    expect(existsSync(serveRecordPath(home))).toBe(false);
  });

  it('reaches a server on IPv6 loopback by its address', async () => {
    const home = tempHome();
    const server = await serve(home, '::1');
    expect(server.urls.base).toBe(`https://[::1]:${server.port}`);
    const env = testEnv(home);
    const link = createLink({ home, env, cssmUrl: server.urls.base });
    expect(link.url(DIRECT)).toBe(`https://[::1]:${server.port}/licservice/license`);
    const { request } = await registerRequest(newToken(env));
    expectRegistered(await link.exchange(DIRECT, request), request);
  });

  it('OnPrem posts to /SmartTransport', async () => {
    const home = tempHome();
    const server = await serve(home);
    const env = testEnv(home);
    const link = createLink({ home, env });
    const route = onPrem(server.urls.onPrem);
    expect(link.url(route)).toBe(server.urls.onPrem);
    const { request } = await registerRequest(newToken(env));
    expectRegistered(await link.exchange(route, request), request);
  });

  it('a server answering an HTTP error is an http failure with its status and phrase', async () => {
    const home = tempHome();
    const server = await serve(home);
    const link = createLink({ home, env: testEnv(home), cssmUrl: `${server.urls.base}/nowhere` });
    const { request } = await registerRequest('x');
    expect(await failureOf(link.exchange(DIRECT, request))).toEqual({ kind: 'http', reason: 'HTTP Server Error 404: Not Found.' });
  });

  it('a 200 that is not JSON, or too large, is an http failure', async () => {
    const home = tempHome();
    const pki = await ensurePki(home);
    const server = createHttpsServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/big') {
          res.write('{"a":"');
          res.end(`${'x'.repeat(1 << 20)}"}`);
        } else if (req.url === '/array') res.end('[1,2]');
        else res.end('<html>hello</html>');
      });
    });
    const port = await listening(server);
    const { request } = await registerRequest('x');
    const at = (path: string) => failureOf(createLink({ home, env: testEnv(home), cssmUrl: `https://127.0.0.1:${port}${path}` }).exchange(DIRECT, request));
    expect(await at('/html')).toEqual({ kind: 'http', reason: 'HTTP Server Error 200: The reply is not JSON.' });
    expect(await at('/array')).toEqual({ kind: 'http', reason: 'HTTP Server Error 200: The reply is not JSON.' });
    expect(await at('/big')).toEqual({ kind: 'http', reason: 'HTTP Server Error 200: The reply is larger than 1 MiB.' });
  });

  it('nothing listening, a URL that is not https:, and a server that never answers are timeouts', async () => {
    const home = tempHome();
    await ensurePki(home);
    const { request } = await registerRequest('x');
    const timeout = { kind: 'timeout', reason: TIMEOUT_REASON };
    // A port that was just free.
    const probe = createHttpServer();
    const freePort = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
    await new Promise((resolve) => probe.close(resolve));
    expect(await failureOf(createLink({ home, env: testEnv(home), cssmUrl: `https://127.0.0.1:${freePort}` }).exchange(DIRECT, request))).toEqual(timeout);
    expect(await failureOf(createLink({ home, env: testEnv(home) }).exchange(onPrem('http://127.0.0.1:1/SmartTransport'), request))).toEqual(timeout);
    expect(await failureOf(createLink({ home, env: testEnv(home) }).exchange(onPrem(''), request))).toEqual(timeout);
    expect(await failureOf(createLink({ home, env: testEnv(home) }).exchange(onPrem('in-process'), request))).toEqual(timeout);
    expect(await failureOf(createLink({ home, env: testEnv(home) }).exchange(onPrem('https://no-such-host.invalid/SmartTransport'), request))).toEqual(timeout);

    // Accepts the connection and says nothing, ever.
    const sockets: Socket[] = [];
    const silent = createHttpServer();
    silent.on('connection', (s: Socket) => sockets.push(s));
    const port = await listening(silent);
    const started = Date.now();
    const link = createLink({ home, env: testEnv(home), cssmUrl: `https://127.0.0.1:${port}`, timeoutMs: 300 });
    expect(await failureOf(link.exchange(DIRECT, request))).toEqual(timeout);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(sockets.length).toBe(1);
  });

  it('a server killed mid-reply is a timeout', async () => {
    const home = tempHome();
    const pki = await ensurePki(home);
    // A real process: it sends the start of a 200 and is killed before the end.
    const script = `
      const https = require('node:https');
      const s = https.createServer({ cert: process.env.CERT, key: process.env.KEY }, (req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
          res.write('{"protocol":"exsh-smart/1",', () => setTimeout(() => process.kill(process.pid, 'SIGKILL'), 50));
        });
      });
      s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, CERT: pki.serverCertPem, KEY: pki.serverKeyPem },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    closers.push(() => {
      child.kill('SIGKILL');
    });
    const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const { request } = await registerRequest('x');
    const link = createLink({ home, env: testEnv(home), cssmUrl: `https://127.0.0.1:${port}`, timeoutMs: 5000 });
    const started = Date.now();
    expect(await failureOf(link.exchange(DIRECT, request))).toEqual({ kind: 'timeout', reason: TIMEOUT_REASON });
    expect(await exited).toBe('SIGKILL');
    // It was the kill that ended it, not the deadline.
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('trusts only the home root: no PKI, another home, or a certificate for another host are unknown CA', async () => {
    const serverHome = tempHome();
    const server = await serve(serverHome);
    const { request } = await registerRequest('x');
    const unknownCa = { kind: 'unknownCa', reason: UNKNOWN_CA_REASON };
    // A home that has no PKI at all trusts nothing.
    const bare = tempHome();
    expect(await failureOf(createLink({ home: bare, env: testEnv(bare), cssmUrl: server.urls.base }).exchange(DIRECT, request))).toEqual(unknownCa);
    // Another home has a root of its own.
    const other = tempHome();
    await ensurePki(other);
    expect(await failureOf(createLink({ home: other, env: testEnv(other), cssmUrl: server.urls.base }).exchange(DIRECT, request))).toEqual(unknownCa);
    // The server certificate names localhost, 127.0.0.1 and ::1: not 127.0.0.2.
    const misnamed = await serve(serverHome, '127.0.0.2');
    expect(await failureOf(createLink({ home: serverHome, env: testEnv(serverHome), cssmUrl: misnamed.urls.base }).exchange(DIRECT, request))).toEqual(
      unknownCa,
    );
    // By name, the same certificate is good.
    const env = testEnv(serverHome);
    const byName = createLink({ home: serverHome, env, cssmUrl: `https://localhost:${server.port}` });
    const { request: good } = await registerRequest(newToken(env));
    expectRegistered(await byName.exchange(DIRECT, good), good);
  });
});

describe('the Link through a proxy', () => {
  it('CONNECTs with Basic auth: the right password registers, a wrong one is the proxy 407', async () => {
    const home = tempHome();
    const server = await serve(home);
    const env = testEnv(home);
    const proxy = await basicProxy('squid', 'p@ss:word');
    const link = createLink({ home, env, cssmUrl: server.urls.base });
    const route = viaProxy(proxy.port, 'squid', 'p@ss:word');
    expect(link.url(route)).toBe(server.urls.cloud);
    const { request } = await registerRequest(newToken(env));
    expectRegistered(await link.exchange(route, request), request);
    expect(proxy.connects).toEqual([`CONNECT 127.0.0.1:${server.port}`]);

    const { request: second } = await registerRequest(newToken(env));
    expect(await failureOf(link.exchange(viaProxy(proxy.port, 'squid', 'wrong'), second))).toEqual({
      kind: 'proxy',
      reason: 'HTTP Proxy Error 407: Proxy Authentication Required.',
    });
    expect(await failureOf(link.exchange(viaProxy(proxy.port), second))).toEqual({
      kind: 'proxy',
      reason: 'HTTP Proxy Error 407: Proxy Authentication Required.',
    });
  });

  it('a proxy that is not listening, or that closes, is a timeout', async () => {
    const home = tempHome();
    const server = await serve(home);
    const link = createLink({ home, env: testEnv(home), cssmUrl: server.urls.base, timeoutMs: 2000 });
    const { request } = await registerRequest('x');
    const probe = createHttpServer();
    const freePort = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
    await new Promise((resolve) => probe.close(resolve));
    expect(await failureOf(link.exchange(viaProxy(freePort), request))).toEqual({ kind: 'timeout', reason: TIMEOUT_REASON });
    expect(await failureOf(link.exchange(viaProxy(0), request))).toEqual({ kind: 'timeout', reason: TIMEOUT_REASON });

    const closing = createHttpServer();
    closing.on('connect', (_req, socket: Socket) => socket.destroy());
    const port = await listening(closing);
    expect(await failureOf(link.exchange(viaProxy(port), request))).toEqual({ kind: 'timeout', reason: TIMEOUT_REASON });
  });

  it('a proxy refusing with another status gives its code and phrase', async () => {
    const home = tempHome();
    await ensurePki(home);
    const refusing = createHttpServer();
    refusing.on('connect', (_req, socket: Socket) => socket.end('HTTP/1.1 403 Forbidden by policy\r\nContent-Length: 0\r\n\r\n'));
    const port = await listening(refusing);
    const link = createLink({ home, env: testEnv(home), cssmUrl: 'https://127.0.0.1:1' });
    const { request } = await registerRequest('x');
    expect(await failureOf(link.exchange(viaProxy(port), request))).toEqual({ kind: 'proxy', reason: 'HTTP Proxy Error 403: Forbidden by policy.' });
  });

  it('with the embedded CSSM, Proxy goes to the Cisco cloud URL, which an offline proxy cannot reach', async () => {
    const home = tempHome();
    await ensurePki(home);
    const env = testEnv(home);
    const link = createLink({ home, env });
    const route = viaProxy(1);
    expect(link.url(route)).toBe(CISCO_CLOUD_URL);
    // A proxy whose upstream is down: it answers the CONNECT itself.
    const upstreamDown = createHttpServer();
    const seen: string[] = [];
    upstreamDown.on('connect', (req, socket: Socket) => {
      seen.push(String(req.url));
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    const port = await listening(upstreamDown);
    const { request } = await registerRequest(newToken(env));
    expect(await failureOf(link.exchange(viaProxy(port), request))).toEqual({ kind: 'proxy', reason: 'HTTP Proxy Error 502: Bad Gateway.' });
    expect(seen).toEqual(['smartreceiver.cisco.com:443']);
  });

  it('a proxy intercepting TLS with another CA is unknown CA', async () => {
    const home = tempHome();
    const server = await serve(home);
    const ca = await createTestCa('Intercepting Proxy CA');
    const forged = await ca.issueServer(['localhost', '127.0.0.1']);
    const mitm = createHttpServer();
    const tunnels: Socket[] = [];
    const seen: string[] = [];
    let secured = false;
    mitm.on('connect', (req, socket: Socket) => {
      tunnels.push(socket);
      seen.push(String(req.url));
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      // Terminates TLS itself, with its own certificate, as an inspecting proxy does.
      const tls = new TLSSocket(socket, { isServer: true, cert: forged.certPem, key: forged.keyPem });
      tls.on('secure', () => {
        secured = true;
      });
      tls.on('error', () => socket.destroy());
    });
    const port = await listening(mitm);
    closers.push(() => {
      for (const t of tunnels) t.destroy();
    });
    const link = createLink({ home, env: testEnv(home), cssmUrl: server.urls.base });
    const { request } = await registerRequest('x');
    expect(await failureOf(link.exchange(viaProxy(port), request))).toEqual({ kind: 'unknownCa', reason: UNKNOWN_CA_REASON });
    expect(seen).toEqual([`127.0.0.1:${server.port}`]);
    expect(secured).toBe(false);
    // The root that did sign it is not one the home trusts.
    expect(readFileSync(server.rootCaPath, 'utf8')).not.toBe(ca.certPem);
  });
});
