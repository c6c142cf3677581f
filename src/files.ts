import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { storeError } from './errors.js';

/**
 * Files exsh creates are private to their owner (0600 in 0700 directories) and never
 * reached through a symlink someone else planted: new files are opened with O_EXCL and
 * O_NOFOLLOW, and a directory that exists already is used only when it is a real
 * directory of the current user that nobody else can write to (as ssh insists for ~/.ssh).
 */

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY, O_APPEND, O_RDONLY } = constants;
const NOFOLLOW = O_NOFOLLOW ?? 0;

/** The current user's id, or undefined where the platform has none (Windows). */
function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

/**
 * Why a directory that exists may not hold exsh's files, or undefined when it may.
 * `what` names it in the sentence ("The exsh home /x").
 */
function unsafeDirectory(st: Stats, what: string, dir: string): { code: string; sentence: string } | undefined {
  if (!st.isDirectory()) return { code: 'home.notDirectory', sentence: `${what} ${dir} is not a directory` };
  const uid = currentUid();
  if (uid === undefined) return undefined;
  if (st.uid !== uid) {
    return {
      code: 'home.notOwned',
      sentence: `${what} ${dir} is owned by another user (uid ${st.uid}), so exsh will not use it: that user could read or replace what exsh keeps there. Choose another directory with --home or EXSH_HOME`,
    };
  }
  if ((st.mode & 0o022) !== 0) {
    return {
      code: 'home.unsafeMode',
      sentence: `${what} ${dir} can be written by other users (mode ${modeText(st.mode)}), so exsh will not use it. Make it private (chmod 700 ${dir}) or choose another directory with --home`,
    };
  }
  return undefined;
}

/**
 * mkdir -p with mode 0700, one level at a time (Node 20's recursive mkdir can spin
 * forever on some file systems, such as /proc; a hang is the one failure exsh must never
 * have). Directories that exist are checked, not changed: a real directory of the
 * current user that only they can write to. Throws a StoreError naming the problem.
 */
export function ensurePrivateDir(dir: string, what = 'The directory'): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const parent = dirname(dir);
      if (parent === dir) throw unusableDir(what, dir, e);
      ensureAncestor(parent);
      try {
        mkdirSync(dir, { mode: 0o700 });
        return;
      } catch (again) {
        if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw unusableDir(what, dir, again);
      }
    } else if (code !== 'EEXIST') {
      throw unusableDir(what, dir, e);
    }
  }
  checkPrivateDir(dir, what);
}

/** Parents of a home are created 0700 when missing, and otherwise left as they are. */
function ensureAncestor(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw unusableDir('The directory', dir, e);
    ensureAncestor(parent);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw unusableDir('The directory', dir, again);
    }
  }
}

function unusableDir(what: string, dir: string, e: unknown): Error {
  return storeError('home.unusable', `${what} ${dir} cannot be created: ${(e as Error).message}.`);
}

/**
 * A directory exsh keeps files in must be the current user's and not writable by
 * others. The home itself may be a symlink (a user's own choice); directories inside it
 * may not, since exsh made them.
 */
export function checkPrivateDir(dir: string, what = 'The directory', allowSymlink = false): void {
  let st: Stats;
  try {
    st = lstatSync(dir);
    if (st.isSymbolicLink()) {
      if (!allowSymlink)
        throw storeError('home.symlink', `${what} ${dir} is a symbolic link, so exsh will not use it. Remove it, or choose another directory with --home.`);
      const uid = currentUid();
      if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
        throw storeError(
          'home.notOwned',
          `${what} ${dir} is a symbolic link owned by another user (uid ${st.uid}), so exsh will not use it. Choose another directory with --home or EXSH_HOME.`,
        );
      }
      st = statSync(dir);
    }
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('home.')) throw e;
    throw storeError('home.unusable', `${what} ${dir} cannot be used: ${(e as Error).message}.`);
  }
  const problem = unsafeDirectory(st, what, dir);
  if (problem) throw storeError(problem.code, `${problem.sentence}.`);
}

/** Creates the home (0700) if it is missing, and checks it when it exists. */
export function prepareHome(home: string): void {
  try {
    lstatSync(home);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError('home.unusable', `The exsh home ${home} cannot be used: ${(e as Error).message}.`);
    ensurePrivateDir(home, 'The exsh home');
    return;
  }
  checkPrivateDir(home, 'The exsh home', true);
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, O_RDONLY);
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory (Windows); the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function tempName(file: string): string {
  const tag = `${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
  return join(dirname(file), `.${basename(file)}.${tag}.tmp`);
}

/**
 * Writes a file so that readers see the old or the new content, never a mix, and the
 * new content survives a power cut once this returns: a fresh 0600 temp file beside it
 * (O_EXCL | O_NOFOLLOW, an unpredictable name), fsync, rename, fsync of the directory.
 * Renaming over a symlink replaces the link itself, never what it points to.
 */
export function writePrivateFile(file: string, text: string | Buffer): void {
  let tmp = tempName(file);
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | NOFOLLOW, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 5) throw e;
      tmp = tempName(file);
    }
  }
  try {
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  fsyncDir(dirname(file));
}

/**
 * Creates a file that must not exist yet (0600, O_EXCL | O_NOFOLLOW); returns false when
 * it already exists. What exists is the caller's to check (checkPrivateFile).
 */
export function createPrivateFile(file: string): boolean {
  try {
    closeSync(openSync(file, O_WRONLY | O_CREAT | O_EXCL | NOFOLLOW, 0o600));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/**
 * A file exsh keeps its state in must be a regular file of the current user, not a
 * symlink; a mode wider than 0600 is narrowed. Returns a sentence when it is unusable.
 */
export function privateFileProblem(file: string): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(file);
  } catch (e) {
    return `it cannot be read: ${(e as Error).message}`;
  }
  if (st.isSymbolicLink()) return 'it is a symbolic link, and exsh never follows one to its state';
  if (!st.isFile()) return 'it is not a regular file';
  const uid = currentUid();
  if (uid !== undefined && st.uid !== uid) return `it is owned by another user (uid ${st.uid})`;
  if ((st.mode & 0o077) !== 0) {
    try {
      const fd = openSync(file, O_RDONLY | NOFOLLOW);
      try {
        fchmodSync(fd, 0o600);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      return `its mode ${modeText(st.mode)} cannot be made private: ${(e as Error).message}`;
    }
  }
  return undefined;
}

/**
 * Appends to a private file (0600), creating it if needed, never through a symlink
 * (O_NOFOLLOW) and never to a file of another user. Returns false when it could not.
 */
export function appendPrivateFile(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, O_WRONLY | O_APPEND | O_CREAT | NOFOLLOW, 0o600);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    const uid = currentUid();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid)) return false;
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    writeSync(fd, text);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Reads a file of at most `maxBytes`, never through a symlink when `noFollow`; undefined when it is larger. */
export function readFileCapped(file: string, maxBytes: number, noFollow = false): Buffer | undefined {
  const fd = openSync(file, O_RDONLY | (noFollow ? NOFOLLOW : 0));
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) {
      const e = new Error(`EISDIR: illegal operation on a directory, read '${file}'`) as NodeJS.ErrnoException;
      e.code = 'EISDIR';
      throw e;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return undefined;
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
