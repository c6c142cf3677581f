import { lstatSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { storeError } from '../errors.js';
import { checkPrivateDir, ensurePrivateDir, privateFileProblem, readFileCapped, writePrivateFile } from '../files.js';

/**
 * Where a home's PKI lives, and how it gets there: `<home>/cssm/pki/` holds four PEM
 * files (0600, in 0700 directories). They are created together or not at all: written
 * into a fresh staging directory beside it, which is then renamed to `pki` in one step.
 * rename(2) refuses to replace a directory that has files in it, so when two processes
 * race, the first rename wins and the loser reads the winner's files (first writer wins,
 * no lock). A crash leaves at most a stray `.pki.*.tmp` staging directory, never half a PKI.
 */

export const PKI_FILES = {
  rootCert: 'root-ca.pem',
  rootKey: 'root-ca-key.pem',
  serverCert: 'server.pem',
  serverKey: 'server-key.pem',
} as const;

export type PkiFiles = Record<keyof typeof PKI_FILES, string>;

/** No PEM file of the PKI is anywhere near this size. */
const MAX_PEM_BYTES = 64 * 1024;

/** `<home>/cssm/pki`. */
export function pkiDir(home: string): string {
  return join(home, 'cssm', 'pki');
}

/** `<home>/cssm/pki/root-ca.pem`: what a device trusts. */
export function rootCertPath(home: string): string {
  return join(pkiDir(home), PKI_FILES.rootCert);
}

/** Whether `<home>/cssm/pki` exists at all (as anything: what it is, loading checks). */
export function pkiExists(home: string): boolean {
  try {
    lstatSync(pkiDir(home));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw storeError('pki.unusable', `The PKI directory ${pkiDir(home)} cannot be used: ${(e as Error).message}.`);
  }
}

/**
 * Publishes a complete set of PKI files as `<home>/cssm/pki`, unless one is there
 * already; returns whether these files are the ones now in place.
 */
export function publishPki(home: string, files: PkiFiles): boolean {
  const cssm = join(home, 'cssm');
  ensurePrivateDir(cssm, 'The CSSM directory');
  const staging = join(cssm, `.pki.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  ensurePrivateDir(staging, 'The PKI staging directory');
  try {
    for (const [key, name] of Object.entries(PKI_FILES)) writePrivateFile(join(staging, name), files[key as keyof PkiFiles]);
    try {
      renameSync(staging, pkiDir(home));
      return true;
    } catch (e) {
      // Something is there already: another process's PKI, or something loading refuses.
      if (['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR', 'EPERM'].includes((e as NodeJS.ErrnoException).code ?? '')) return false;
      throw e;
    }
  } catch (e) {
    throw storeError('pki.unusable', `The PKI directory ${pkiDir(home)} cannot be created: ${(e as Error).message}.`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The four PEM files as text; throws pki.corrupt naming the first file that cannot be used. */
export function readPkiFiles(home: string): PkiFiles {
  const dir = pkiDir(home);
  checkPrivateDir(join(home, 'cssm'), 'The CSSM directory');
  checkPrivateDir(dir, 'The PKI directory');
  const read = (name: string) => readPem(join(dir, name));
  return {
    rootCert: read(PKI_FILES.rootCert),
    rootKey: read(PKI_FILES.rootKey),
    serverCert: read(PKI_FILES.serverCert),
    serverKey: read(PKI_FILES.serverKey),
  };
}

/** The root CA certificate's text, or undefined when the home has no PKI yet; throws pki.corrupt when it cannot be used. */
export function readRootFile(home: string): string | undefined {
  const file = rootCertPath(home);
  try {
    lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  }
  return readPem(file);
}

function readPem(file: string): string {
  const problem = privateFileProblem(file);
  if (problem) throw storeError('pki.corrupt', `The PKI file ${file} cannot be used: ${problem}.`);
  let bytes: Buffer | undefined;
  try {
    bytes = readFileCapped(file, MAX_PEM_BYTES, true);
  } catch (e) {
    throw storeError('pki.corrupt', `The PKI file ${file} cannot be read: ${(e as Error).message}.`);
  }
  if (bytes === undefined)
    throw storeError('pki.corrupt', `The PKI file ${file} is larger than ${MAX_PEM_BYTES / 1024} KiB, so it is not a PEM file exsh wrote.`);
  return bytes.toString('utf8');
}

/** Replaces the server certificate (renewed for the same key); atomic, never through a symlink. */
export function writeServerCert(home: string, pem: string): void {
  writePrivateFile(join(pkiDir(home), PKI_FILES.serverCert), pem);
}
