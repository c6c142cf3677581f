import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestCa, ensurePki } from '../../src/pki/pki.js';
import { cleanHomes, tempHome } from '../device/helpers.js';

/** Real TLS: what the device does when it reaches the CSSM, directly or through a proxy. */

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  cleanHomes();
});

async function serve(cert: string, key: string): Promise<number> {
  const server = createServer({ cert, key }, (socket) => socket.end('hello\n'));
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as AddressInfo).port;
}

/** What a client trusting only `ca` gets: the server's greeting, or the error code. */
function handshake(port: number, ca: string, servername = 'localhost'): Promise<string> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername });
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('end', () => done(text));
    socket.on('error', (e: NodeJS.ErrnoException) => done(`error ${e.code}`));
  });
}

describe('TLS with the home PKI', () => {
  it('a client trusting the root CA accepts the CSSM server certificate for localhost and smartreceiver.cisco.com', async () => {
    const ca = await ensurePki(tempHome());
    const port = await serve(ca.serverCertPem, ca.serverKeyPem);
    expect(await handshake(port, ca.rootCertPem)).toBe('hello\n');
    expect(await handshake(port, ca.rootCertPem, 'smartreceiver.cisco.com')).toBe('hello\n');
    expect(await handshake(port, ca.rootCertPem, 'cssm.example.com')).toBe('error ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('a client trusting only another CA refuses it', async () => {
    const ca = await ensurePki(tempHome());
    const other = await createTestCa('Some Other CA');
    const port = await serve(ca.serverCertPem, ca.serverKeyPem);
    expect(await handshake(port, other.certPem)).toBe('error UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('a proxy intercepting TLS with its own CA is refused by a device trusting the root, accepted by a client trusting the proxy', async () => {
    const ca = await ensurePki(tempHome());
    const proxy = await createTestCa('Intercepting Proxy CA');
    const forged = await proxy.issueServer(['localhost', '127.0.0.1']);
    const port = await serve(forged.certPem, forged.keyPem);
    expect(await handshake(port, ca.rootCertPem)).toBe('error UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await handshake(port, proxy.certPem)).toBe('hello\n');
  });
});
