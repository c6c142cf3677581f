import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import forge from 'node-forge';
import { afterEach, describe, expect, it } from 'vitest';
import { createCsr, ensurePki, forgetPki, generateDeviceKey, issueIdCertificate, pkiDir, readRootCertificate, rootCertPath } from '../../src/pki/pki.js';
import { publishPki } from '../../src/pki/store.js';
import { cleanHomes, tempHome, rejectionOf } from '../device/helpers.js';

afterEach(cleanHomes);

const FILES = ['root-ca.pem', 'root-ca-key.pem', 'server.pem', 'server-key.pem'];

const refusal = rejectionOf;

const mode = (path: string) => (lstatSync(path).mode & 0o777).toString(8);

describe('ensurePki: the files', () => {
  it('creates <home>/cssm/pki with the four PEM files, 0600 in 0700 directories, and nothing else', async () => {
    const home = tempHome();
    const ca = await ensurePki(home);
    const dir = pkiDir(home);
    expect(dir).toBe(join(home, 'cssm', 'pki'));
    expect(readdirSync(dir).sort()).toEqual([...FILES].sort());
    expect(readdirSync(join(home, 'cssm'))).toEqual(['pki']); // no staging directory left behind
    expect([mode(join(home, 'cssm')), mode(dir)]).toEqual(['700', '700']);
    for (const f of FILES) expect(mode(join(dir, f))).toBe('600');
    expect(ca.rootCertPath).toBe(rootCertPath(home));
    expect(rootCertPath(home)).toBe(join(dir, 'root-ca.pem'));
    expect(readFileSync(join(dir, 'root-ca.pem'), 'utf8')).toBe(ca.rootCertPem);
    expect(readFileSync(join(dir, 'root-ca-key.pem'), 'utf8')).toBe(ca.rootKeyPem);
    expect(readFileSync(join(dir, 'server.pem'), 'utf8')).toBe(ca.serverCertPem);
    expect(readFileSync(join(dir, 'server-key.pem'), 'utf8')).toBe(ca.serverKeyPem);
    expect(ca.rootKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('the root is a self-signed "QuoVadis Root CA 2" stand-in for 20 years: CA:true (critical), keyCertSign and cRLSign', async () => {
    const ca = await ensurePki(tempHome());
    const root = new X509Certificate(ca.rootCertPem);
    expect(root.subject).toBe('CN=QuoVadis Root CA 2 (exsh simulator)\nO=exsh simulator\nC=BM');
    expect(root.issuer).toBe(root.subject);
    expect(root.verify(root.publicKey)).toBe(true);
    expect(root.ca).toBe(true);
    const years = (Date.parse(root.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
    expect(years).toBeGreaterThan(19.99);
    expect(years).toBeLessThan(20.01);
    expect(Date.parse(root.validFrom)).toBeLessThanOrEqual(Date.now());
    const f = forge.pki.certificateFromPem(ca.rootCertPem);
    expect(f.getExtension('basicConstraints')).toMatchObject({ cA: true, critical: true });
    expect(f.getExtension('keyUsage')).toMatchObject({ keyCertSign: true, cRLSign: true, digitalSignature: false, critical: true });
    expect(f.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/); // random, 16 bytes, positive
    expect((await ensurePki(tempHome())).rootCertPem).not.toBe(ca.rootCertPem);
  });

  it('the server certificate is for localhost (and smartreceiver.cisco.com, 127.0.0.1, ::1), serverAuth, 2 years, signed by the root', async () => {
    const ca = await ensurePki(tempHome());
    const server = new X509Certificate(ca.serverCertPem);
    expect(server.subject).toBe('CN=localhost');
    expect(server.subjectAltName).toBe('DNS:localhost, DNS:smartreceiver.cisco.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(server.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(server.ca).toBe(false);
    expect(server.verify(new X509Certificate(ca.rootCertPem).publicKey)).toBe(true);
    expect(forge.pki.certificateFromPem(ca.rootCertPem).verify(forge.pki.certificateFromPem(ca.serverCertPem))).toBe(true);
    const years = (Date.parse(server.validTo) - Date.now()) / (365.25 * 24 * 3600 * 1000);
    expect(Math.round(years * 100) / 100).toBe(2);
  });

  it('a second call gives the same material; so does a new process (the cache forgotten), from the files', async () => {
    const home = tempHome();
    const first = await ensurePki(home);
    expect(await ensurePki(home)).toBe(first);
    expect(await ensurePki(join(home, '.', 'cssm', '..'))).toBe(first); // one cache entry per resolved home
    forgetPki(home);
    const again = await ensurePki(home);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('readRootCertificate: undefined before the PKI exists, the PEM after', async () => {
    const home = tempHome();
    expect(readRootCertificate(home)).toBeUndefined();
    const ca = await ensurePki(home);
    expect(readRootCertificate(home)).toBe(ca.rootCertPem);
  });
});

describe('ensurePki: what it refuses', () => {
  it.each([
    ['server.pem', 'garbage\n'],
    ['root-ca.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
    ['server-key.pem', ''],
  ])('a corrupt %s is pki.corrupt naming it, and is left as it is', async (name, text) => {
    const home = tempHome();
    await ensurePki(home);
    forgetPki(home);
    const file = join(pkiDir(home), name);
    writeFileSync(file, text);
    const bad = await refusal(ensurePki(home));
    expect(bad.code).toBe('pki.corrupt');
    expect(bad.message).toContain(file);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it("a root key that is not the root certificate's is pki.corrupt naming root-ca-key.pem", async () => {
    const home = tempHome();
    await ensurePki(home);
    forgetPki(home);
    const file = join(pkiDir(home), 'root-ca-key.pem');
    writeFileSync(file, generateDeviceKey());
    const bad = await refusal(ensurePki(home));
    expect([bad.code, bad.message]).toEqual([
      'pki.corrupt',
      `The PKI file ${file} is not the key of the root certificate; move the directory ${pkiDir(home)} aside to make a new PKI.`,
    ]);
  });

  it('a server certificate that another root signed is pki.corrupt naming server.pem', async () => {
    const home = tempHome();
    await ensurePki(home);
    forgetPki(home);
    const other = await ensurePki(tempHome());
    writeFileSync(join(pkiDir(home), 'server.pem'), other.serverCertPem);
    expect((await refusal(ensurePki(home))).message).toMatch(/server\.pem is not signed by the root CA/);
  });

  it('a PKI directory with a file missing is pki.corrupt, and nothing is created in it', async () => {
    const home = tempHome();
    await ensurePki(home);
    forgetPki(home);
    unlinkSync(join(pkiDir(home), 'server-key.pem'));
    expect((await refusal(ensurePki(home))).code).toBe('pki.corrupt');
    expect(existsSync(join(pkiDir(home), 'server-key.pem'))).toBe(false);
  });

  it('a symlink planted at a file path is refused (pki.corrupt), and neither it nor its target is touched', async () => {
    const home = tempHome();
    const ca = await ensurePki(home);
    forgetPki(home);
    const target = join(tempHome(), 'elsewhere.pem');
    writeFileSync(target, ca.serverCertPem, { mode: 0o600 });
    const file = join(pkiDir(home), 'server.pem');
    unlinkSync(file);
    symlinkSync(target, file);
    const bad = await refusal(ensurePki(home));
    expect(bad.code).toBe('pki.corrupt');
    expect(bad.message).toContain('symbolic link');
    expect(readlinkSync(file)).toBe(target);
    expect(readFileSync(target, 'utf8')).toBe(ca.serverCertPem);
    // readRootCertificate refuses a planted root the same way.
    const root = rootCertPath(home);
    unlinkSync(root);
    symlinkSync(target, root);
    expect(() => readRootCertificate(home)).toThrow(/symbolic link/);
  });

  it('a symlink planted at <home>/cssm/pki is refused before anything is written through it', async () => {
    const home = tempHome();
    const elsewhere = tempHome();
    mkdirSync(join(home, 'cssm'), { mode: 0o700 });
    symlinkSync(elsewhere, pkiDir(home));
    expect((await refusal(ensurePki(home))).code).toBe('home.symlink');
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(readdirSync(join(home, 'cssm'))).toEqual(['pki']);
  });

  it('a <home>/cssm others can write to is refused', async () => {
    const home = tempHome();
    mkdirSync(join(home, 'cssm'), { mode: 0o700 });
    chmodSync(join(home, 'cssm'), 0o777);
    expect((await refusal(ensurePki(home))).code).toBe('home.unsafeMode');
    expect(existsSync(pkiDir(home))).toBe(false);
  });

  it('a failure is not cached: once the file is fixed, ensurePki loads', async () => {
    const home = tempHome();
    const ca = await ensurePki(home);
    forgetPki(home);
    const file = join(pkiDir(home), 'server.pem');
    writeFileSync(file, 'garbage');
    expect((await refusal(ensurePki(home))).code).toBe('pki.corrupt');
    writeFileSync(file, ca.serverCertPem);
    expect((await ensurePki(home)).serverCertPem).toBe(ca.serverCertPem);
  });
});

describe('ensurePki: renewal and races', () => {
  it('a server certificate past its end (real time) is renewed for the same key, on disk too', async () => {
    const home = tempHome();
    const ca = await ensurePki(home);
    forgetPki(home);
    const csr = await createCsr(ca.serverKeyPem, { commonName: 'localhost' });
    const expired = await issueIdCertificate(ca, csr, {
      serialHex: '05',
      commonName: 'localhost',
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
    });
    const file = join(pkiDir(home), 'server.pem');
    writeFileSync(file, expired);
    const renewed = await ensurePki(home);
    expect(renewed.serverCertPem).not.toBe(expired);
    expect(renewed.serverKeyPem).toBe(ca.serverKeyPem);
    expect(readFileSync(file, 'utf8')).toBe(renewed.serverCertPem);
    expect(mode(file)).toBe('600');
    const cert = new X509Certificate(renewed.serverCertPem);
    expect(Date.parse(cert.validTo)).toBeGreaterThan(Date.now());
    expect(cert.subjectAltName).toContain('DNS:localhost');
  });

  it('publishing is first writer wins: a second set of files does not replace the first', async () => {
    const home = tempHome();
    const files = { rootCert: 'a\n', rootKey: 'b\n', serverCert: 'c\n', serverKey: 'd\n' };
    expect(publishPki(home, files)).toBe(true);
    expect(publishPki(home, { rootCert: 'A\n', rootKey: 'B\n', serverCert: 'C\n', serverKey: 'D\n' })).toBe(false);
    expect(readFileSync(rootCertPath(home), 'utf8')).toBe('a\n');
    expect(readdirSync(join(home, 'cssm'))).toEqual(['pki']);
    expect(statSync(pkiDir(home)).isDirectory()).toBe(true);
  });

  it('four processes creating the PKI of one home at once all end up with the same one', async () => {
    const out = tempHome();
    const script = join(out, 'ensure.mjs');
    await build({
      stdin: {
        contents: `import { ensurePki } from ${JSON.stringify(fileURLToPath(new URL('../../src/pki/pki.ts', import.meta.url)))};
          const ca = await ensurePki(process.argv[2]);
          process.stdout.write(JSON.stringify(ca));`,
        resolveDir: fileURLToPath(new URL('../../', import.meta.url)),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: script,
      logLevel: 'silent',
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
    const home = tempHome();
    const run = promisify(execFile);
    const results = await Promise.all(Array.from({ length: 4 }, () => run(process.execPath, [script, home])));
    const digests = new Set(results.map((r) => createHash('sha256').update(r.stdout).digest('hex')));
    expect(digests.size).toBe(1);
    expect(JSON.parse(results[0]?.stdout ?? '{}').rootCertPem).toBe(readFileSync(rootCertPath(home), 'utf8'));
    expect(readdirSync(join(home, 'cssm'))).toEqual(['pki']);
  });
});
