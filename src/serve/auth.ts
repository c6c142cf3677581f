import { lstatSync } from 'node:fs';
import { usageError } from '../errors.js';
import { readFileCapped } from '../files.js';
import { printable } from '../text.js';

/**
 * The servers' one password (§11): from `--password-file` (its first line; the file must
 * be private), else EXSH_SSH_PASSWORD, else generated for this run and printed once.
 * There is never a fixed default. Checking takes the same time whatever is wrong, and a
 * refusal comes after a constant delay, so that guessing is slow and tells nothing.
 */

const crypto = () => process.getBuiltinModule('node:crypto');

/** A refused attempt is answered this long after it arrived, whatever was wrong with it. */
export const REFUSAL_DELAY_MS = 500;

/** Letters and digits that cannot be mistaken for one another when read off a screen. */
const ALPHABET = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const GENERATED_LENGTH = 20;

export interface ServerPassword {
  password: string;
  /** True when exsh made it for this run (then it is printed once, at start). */
  generated: boolean;
  /** Where it came from, for the start-up text. */
  source: 'file' | 'env' | 'generated';
}

export function generatePassword(length = GENERATED_LENGTH): string {
  const { randomInt } = crypto();
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** The first line of a private file: refused when others can read it, as ssh refuses a readable key. */
export function readPasswordFile(file: string): string {
  let mode: number;
  let uid: number;
  try {
    const st = lstatSync(file);
    if (st.isSymbolicLink()) {
      throw usageError('serve.passwordFile', `The password file ${printable(file)} is a symbolic link; give the file itself.`);
    }
    if (!st.isFile()) throw usageError('serve.passwordFile', `The password file ${printable(file)} is not a regular file.`);
    mode = st.mode & 0o777;
    uid = st.uid;
  } catch (e) {
    if ((e as { code?: string }).code === 'serve.passwordFile') throw e;
    throw usageError('serve.passwordFile', `Cannot read the password file ${printable(file)}: ${(e as Error).message}.`);
  }
  if ((mode & 0o077) !== 0) {
    throw usageError(
      'serve.passwordFileNotPrivate',
      `The password file ${printable(file)} can be read by other users (mode 0${mode.toString(8)}), so exsh will not use it: make it private with chmod 600 ${printable(file)}.`,
    );
  }
  const me = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (me !== undefined && uid !== me) {
    throw usageError('serve.passwordFileNotPrivate', `The password file ${printable(file)} belongs to another user (uid ${uid}), so exsh will not use it.`);
  }
  const bytes = readFileCapped(file, 64 * 1024, true);
  if (bytes === undefined)
    throw usageError('serve.passwordFile', `The password file ${printable(file)} is larger than 64 kB; its first line should be the password.`);
  const first = bytes.toString('utf8').split(/\r?\n/, 1)[0] ?? '';
  if (first === '') throw usageError('serve.passwordFile', `The first line of the password file ${printable(file)} is empty; write the password there.`);
  return first;
}

/** The password the servers use, by the order of §11. */
export function serverPassword(file: string | undefined, env: Record<string, string | undefined>): ServerPassword {
  if (file !== undefined) return { password: readPasswordFile(file), generated: false, source: 'file' };
  const fromEnv = env.EXSH_SSH_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return { password: fromEnv, generated: false, source: 'env' };
  return { password: generatePassword(), generated: true, source: 'generated' };
}

/** Compares in constant time (digests of equal length), whatever the lengths of the two. */
export function passwordMatches(expected: string, given: string | undefined): boolean {
  const { createHash, timingSafeEqual } = crypto();
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  const ok = timingSafeEqual(digest(expected), digest(given ?? ''));
  return ok && given !== undefined;
}
