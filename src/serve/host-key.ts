import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { storeError } from '../errors.js';
import { ensurePrivateDir, privateFileProblem, readFileCapped, writePrivateFile } from '../files.js';
import { ssh2 } from './ssh2.js';

/**
 * The SSH host key (§11): made once (ed25519, in OpenSSH's private key format, which
 * ssh2 reads and OpenSSH and paramiko negotiate with), kept 0600 in the home and used
 * again at every start, so that clients' known_hosts entries stay valid.
 */

export interface HostKey {
  /** The private key as ssh2 takes it. */
  privateKey: Buffer;
  /** `SHA256:…`, as `ssh-keygen -lf` and OpenSSH's first-connection question show it. */
  fingerprint: string;
  /** True when this start made it. */
  created: boolean;
}

const MAX_KEY_BYTES = 64 * 1024;

export function fingerprintOf(publicBlob: Buffer): string {
  const { createHash } = process.getBuiltinModule('node:crypto');
  return `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`;
}

function parse(path: string, key: Buffer): { fingerprint: string } {
  const parsed = ssh2().utils.parseKey(key);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    const why = parsed instanceof Error ? parsed.message : 'it is not one unencrypted private key';
    throw storeError(
      'serve.badHostKey',
      `The SSH host key ${path} cannot be used (${why}); remove it and exsh makes a new one (clients will then see a new host key).`,
    );
  }
  return { fingerprint: fingerprintOf(parsed.getPublicSSH()) };
}

/** Reads the host key at `path`, making it first when there is none. */
export function loadHostKey(path: string): HostKey {
  ensurePrivateDir(dirname(path), 'The directory of the SSH host key');
  let created = false;
  if (!existsSync(path)) {
    const pair = ssh2().utils.generateKeyPairSync('ed25519', { comment: 'exsh host key' });
    writePrivateFile(path, pair.private);
    created = true;
  }
  const problem = privateFileProblem(path);
  if (problem) throw storeError('serve.badHostKey', `The SSH host key ${path} cannot be used: ${problem}.`);
  const key = readFileCapped(path, MAX_KEY_BYTES, true);
  if (!key) throw storeError('serve.badHostKey', `The SSH host key ${path} is larger than ${MAX_KEY_BYTES} bytes; it is not a key exsh made.`);
  return { privateKey: key, fingerprint: parse(path, key).fingerprint, created };
}
