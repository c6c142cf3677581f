import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import forge from 'node-forge';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CaMaterial,
  createCsr,
  createTestCa,
  ensurePki,
  generateDeviceKey,
  issueIdCertificate,
  normaliseSerialHex,
  readCertificate,
  readCsr,
  verifyIdCertificate,
} from '../../src/pki/pki.js';
import { cleanHomes, tempHome, rejectionOf } from '../device/helpers.js';

afterEach(cleanHomes);

const refusal = rejectionOf;

const KEY = generateDeviceKey();
const WINDOW = { notBefore: new Date('2026-03-01T10:00:00Z'), notAfter: new Date('2027-03-01T10:00:00Z') };

async function issued(ca: CaMaterial, serialHex = '1a2b3c', commonName = 'VMA1B2C3D4') {
  const csr = await createCsr(KEY, { commonName, hostname: 'expressway.example.com' });
  return issueIdCertificate(ca, csr, { serialHex, commonName, ...WINDOW });
}

/** Replaces the first occurrence of `from` in the DER of a PEM block (same length), keeping the PEM framing. */
function tamper(pem: string, from: string, to: string): string {
  const label = /-----BEGIN ([A-Z ]+)-----/.exec(pem)?.[1] ?? '';
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  const at = der.indexOf(from);
  expect(at).toBeGreaterThan(0);
  der.write(to, at, 'latin1');
  return `-----BEGIN ${label}-----\n${der.toString('base64')}\n-----END ${label}-----\n`;
}

describe('node-forge is loaded lazily', () => {
  it('no module of src/pki imports node-forge at its top level (types only)', () => {
    const dir = new URL('../../src/pki/', import.meta.url);
    const offenders = readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .filter((f) => /^import(?!\s+type\b)[^;]*from\s+'node-forge'/m.test(readFileSync(new URL(f, dir), 'utf8')));
    expect(offenders).toEqual([]);
  });
});

describe('device keys', () => {
  it('generateDeviceKey makes an RSA 2048 key as PKCS#8 PEM, new each time', () => {
    expect(KEY).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const details = createPublicKey(KEY).asymmetricKeyDetails;
    expect(details?.modulusLength).toBe(2048);
    expect(generateDeviceKey()).not.toBe(KEY);
  });
});

describe('CSRs', () => {
  it('round trip: createCsr → readCsr gives the CN and the device public key; forge agrees it verifies', async () => {
    const csr = await createCsr(KEY, { commonName: 'VMA1B2C3D4', hostname: 'expressway.example.com' });
    expect(csr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const info = await readCsr(csr);
    expect(info.commonName).toBe('VMA1B2C3D4');
    expect(info.publicKeyPem).toBe(createPublicKey(KEY).export({ type: 'spki', format: 'pem' }));
    const parsed = forge.pki.certificationRequestFromPem(csr);
    expect(parsed.verify()).toBe(true);
    expect(parsed.subject.getField('O')?.value).toBe('Cisco Systems');
    const request = parsed.getAttribute({ name: 'extensionRequest' }) as { extensions: { name: string; altNames: { value: string }[] }[] };
    expect(request.extensions[0]?.altNames[0]?.value).toBe('expressway.example.com');
  });

  it('a CSR without a hostname carries no extension request; a non-ASCII CN survives', async () => {
    const csr = await createCsr(KEY, { commonName: 'Zürich-1' });
    expect(forge.pki.certificationRequestFromPem(csr).getAttribute({ name: 'extensionRequest' })).toBeNull();
    expect((await readCsr(csr)).commonName).toBe('Zürich-1');
  });

  it('a tampered CSR (its CN changed after signing) is pki.badCsr: its signature does not verify', async () => {
    const csr = await createCsr(KEY, { commonName: 'VMA1B2C3D4' });
    const bad = await refusal(readCsr(tamper(csr, 'VMA1B2C3D4', 'VMA1B2C3D5')));
    expect(bad.code).toBe('pki.badCsr');
    expect(bad.message).toMatch(/not signed by the key it carries/);
  });

  it.each([
    ['not PEM', 'hello'],
    ['a PEM block of another kind', `-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`],
    ['garbage inside the PEM', `-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQF\n-----END CERTIFICATE REQUEST-----\n`],
    ['far too large', `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(20_000)}\n-----END CERTIFICATE REQUEST-----\n`],
  ])('%s is pki.badCsr', async (_what, text) => {
    expect((await refusal(readCsr(text))).code).toBe('pki.badCsr');
  });

  it('a CSR with an empty CN is pki.badCsr (the CN is the device serial number)', async () => {
    const bad = await refusal(readCsr(await createCsr(KEY, { commonName: '' })));
    expect([bad.code, bad.message]).toEqual(['pki.badCsr', 'The certificate signing request has no subject common name (the device serial number).']);
  });

  it('a CSR for an EC key is pki.badCsr, though its signature is right', async () => {
    // forge cannot make one, so it is assembled here: CN=EC1, a P-256 key, ecdsa-with-SHA256.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const tlv = (tag: number, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      const length = body.length < 0x80 ? [body.length] : [0x81, body.length]; // all are shorter than 256 bytes
      return Buffer.concat([Buffer.from([tag, ...length]), body]);
    };
    const name = tlv(0x30, tlv(0x31, tlv(0x30, Buffer.from('0603550403', 'hex'), tlv(0x0c, Buffer.from('EC1')))));
    const info = tlv(0x30, Buffer.from('020100', 'hex'), name, publicKey.export({ type: 'spki', format: 'der' }), Buffer.from('a000', 'hex'));
    const algorithm = Buffer.from('300a06082a8648ce3d040302', 'hex');
    const signature = tlv(0x03, Buffer.from([0]), sign('sha256', info, privateKey));
    const der = tlv(0x30, info, algorithm, signature);
    const bad = await refusal(readCsr(`-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`));
    expect([bad.code, bad.message]).toEqual([
      'pki.badCsr',
      'The certificate signing request carries a key that is not RSA, and the simulator issues ID certificates for RSA keys only.',
    ]);
  });
});

describe('ID certificates', () => {
  it('an issued certificate verifies against the root with node:crypto and with forge, and carries what was given', async () => {
    const ca = await ensurePki(tempHome());
    const pem = await issued(ca);
    const cert = new X509Certificate(pem);
    const root = new X509Certificate(ca.rootCertPem);
    expect(cert.verify(root.publicKey)).toBe(true);
    expect(cert.checkIssued(root)).toBe(true);
    expect(forge.pki.certificateFromPem(ca.rootCertPem).verify(forge.pki.certificateFromPem(pem))).toBe(true);
    expect(cert.subject).toBe('CN=VMA1B2C3D4');
    expect(cert.issuer).toBe(root.subject);
    expect(cert.serialNumber.toLowerCase()).toBe('1a2b3c');
    expect(new Date(cert.validFrom).toISOString()).toBe(WINDOW.notBefore.toISOString());
    expect(new Date(cert.validTo).toISOString()).toBe(WINDOW.notAfter.toISOString());
    expect(cert.publicKey.export({ type: 'spki', format: 'pem' })).toBe(createPublicKey(KEY).export({ type: 'spki', format: 'pem' }));
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // node calls the extended key usage keyUsage: clientAuth
    const f = forge.pki.certificateFromPem(pem);
    expect(f.getExtension('basicConstraints')).toMatchObject({ cA: false, critical: true });
    expect(f.getExtension('keyUsage')).toMatchObject({ digitalSignature: true, keyEncipherment: true, keyCertSign: false });
    expect(f.getExtension('extKeyUsage')).toMatchObject({ clientAuth: true });
    expect(f.getExtension('extKeyUsage')).not.toHaveProperty('serverAuth');
    expect(f.siginfo.algorithmOid).toBe(forge.pki.oids.sha256WithRSAEncryption);
  });

  it('readCertificate reports the serial as lowercase hex without leading zeros, the names, validity and key', async () => {
    const ca = await ensurePki(tempHome());
    const info = await readCertificate(await issued(ca, '00ABCDEF'));
    expect(info).toEqual({
      serialHex: 'abcdef',
      commonName: 'VMA1B2C3D4',
      issuerCommonName: 'QuoVadis Root CA 2 (exsh simulator)',
      notBefore: WINDOW.notBefore,
      notAfter: WINDOW.notAfter,
      publicKeyPem: createPublicKey(KEY).export({ type: 'spki', format: 'pem' }),
    });
    // A serial whose top bit is set stays positive (a 00 byte in front on the wire).
    const high = 'f'.repeat(32);
    expect((await readCertificate(await issued(ca, high))).serialHex).toBe(high);
    expect(normaliseSerialHex('000A0')).toBe('a0');
  });

  it('issuing refuses a bad serial or an empty validity (a caller bug)', async () => {
    const ca = await ensurePki(tempHome());
    const csr = await createCsr(KEY, { commonName: 'X' });
    await expect(issueIdCertificate(ca, csr, { serialHex: '00', commonName: 'X', ...WINDOW })).rejects.toThrow(RangeError);
    await expect(issueIdCertificate(ca, csr, { serialHex: 'xyz', commonName: 'X', ...WINDOW })).rejects.toThrow(RangeError);
    await expect(issueIdCertificate(ca, csr, { serialHex: '01', commonName: 'X', notBefore: WINDOW.notAfter, notAfter: WINDOW.notBefore })).rejects.toThrow(
      RangeError,
    );
  });

  it('issuing for a tampered CSR is pki.badCsr', async () => {
    const ca = await ensurePki(tempHome());
    const csr = tamper(await createCsr(KEY, { commonName: 'VMA1B2C3D4' }), 'VMA1', 'VMB1');
    expect((await refusal(issueIdCertificate(ca, csr, { serialHex: '01', commonName: 'VMA1B2C3D4', ...WINDOW }))).code).toBe('pki.badCsr');
  });

  it('readCertificate of something else is pki.malformed', async () => {
    expect((await refusal(readCertificate('nope'))).code).toBe('pki.malformed');
    expect((await refusal(readCertificate(`-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`))).code).toBe('pki.malformed');
  });
});

describe('verifyIdCertificate (the device at its simulated time)', () => {
  it('accepts from notBefore up to, not including, notAfter; before is pki.notYetValid, from notAfter on pki.expired', async () => {
    const ca = await ensurePki(tempHome());
    const pem = await issued(ca);
    expect((await verifyIdCertificate(pem, ca.rootCertPem, WINDOW.notBefore)).commonName).toBe('VMA1B2C3D4');
    expect((await verifyIdCertificate(pem, ca.rootCertPem, new Date(WINDOW.notAfter.getTime() - 1))).serialHex).toBe('1a2b3c');
    expect((await refusal(verifyIdCertificate(pem, ca.rootCertPem, new Date(WINDOW.notBefore.getTime() - 1000)))).code).toBe('pki.notYetValid');
    expect((await refusal(verifyIdCertificate(pem, ca.rootCertPem, WINDOW.notAfter))).code).toBe('pki.expired');
    // The simulated clock may be decades ahead of the real one: only `at` counts.
    const far = await issueIdCertificate(ca, await createCsr(KEY, { commonName: 'F' }), {
      serialHex: '02',
      commonName: 'F',
      notBefore: new Date('2060-01-01T00:00:00Z'),
      notAfter: new Date('2061-01-01T00:00:00Z'),
    });
    expect((await verifyIdCertificate(far, ca.rootCertPem, new Date('2060-06-01T00:00:00Z'))).notAfter).toEqual(new Date('2061-01-01T00:00:00Z'));
  });

  it('a certificate from another CA is pki.untrusted, even one with the same names (another home)', async () => {
    const ca = await ensurePki(tempHome());
    const other = await createTestCa('Intercepting Proxy CA');
    const foreign = await issued({ ...ca, rootCertPem: other.certPem, rootKeyPem: other.keyPem });
    const bad = await refusal(verifyIdCertificate(foreign, ca.rootCertPem, WINDOW.notBefore));
    expect([bad.code, bad.message]).toEqual([
      'pki.untrusted',
      'The ID certificate (issued by "Intercepting Proxy CA") is not signed by the simulator\'s root CA.',
    ]);
    const otherHome = await ensurePki(tempHome());
    expect((await refusal(verifyIdCertificate(await issued(otherHome), ca.rootCertPem, WINDOW.notBefore))).code).toBe('pki.untrusted');
  });

  it('a certificate altered after issuing is pki.untrusted; text that is no certificate is pki.malformed', async () => {
    const ca = await ensurePki(tempHome());
    const altered = tamper(await issued(ca), 'VMA1B2C3D4', 'VMA1B2C3D9');
    expect(new X509Certificate(altered).subject).toBe('CN=VMA1B2C3D9');
    expect((await refusal(verifyIdCertificate(altered, ca.rootCertPem, WINDOW.notBefore))).code).toBe('pki.untrusted');
    expect((await refusal(verifyIdCertificate('garbage', ca.rootCertPem, WINDOW.notBefore))).code).toBe('pki.malformed');
    expect((await refusal(verifyIdCertificate(await issued(ca), 'garbage', WINDOW.notBefore))).code).toBe('pki.malformed');
  });
});

describe('createTestCa', () => {
  it('is a root CA of its own that issues server certificates for the names given', async () => {
    const other = await createTestCa('Proxy CA');
    const root = new X509Certificate(other.certPem);
    expect([root.subject, root.ca, root.checkIssued(root)]).toEqual(['CN=Proxy CA\nO=exsh test CA', true, true]);
    const server = await other.issueServer(['proxy.example.com', '10.0.0.1']);
    const cert = new X509Certificate(server.certPem);
    expect(cert.verify(root.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:proxy.example.com, IP Address:10.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
  });
});
