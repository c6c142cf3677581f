import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { sink } from '../device/helpers.js';
import { cleanHomes, request, T0, tempHome, udi } from './helpers.js';

/**
 * `--out` is written only after the transaction committed: a crash between the two must
 * never leave an installable code for a reservation the CSSM does not have.
 */
const hook = vi.hoisted(() => ({ beforeWrite: undefined as ((file: string) => void) | undefined }));
vi.mock('../../src/files.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/files.js')>();
  return {
    ...actual,
    writePrivateFile: (file: string, text: string | Buffer) => {
      hook.beforeWrite?.(file);
      actual.writePrivateFile(file, text);
    },
  };
});

afterEach(() => {
  hook.beforeWrite = undefined;
  cleanHomes();
});

async function run(home: string, ...args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const stdout = sink();
  const stderr = sink();
  const exitCode = await main(['--home', home, '--now', T0.toISOString(), '--seed', '1', 'cssm', ...args], { stdin: process.stdin, stdout, stderr, env: {} });
  return { exitCode, stdout: stdout.text(), stderr: stderr.text() };
}

/** What another process sees in the database: only what has been committed. */
function committedSerials(home: string): string[] {
  const db = new Database(join(home, 'cssm.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT udi_serial AS s FROM product_instance ORDER BY id').all() as Array<{ s: string }>).map((r) => r.s);
  } finally {
    db.close();
  }
}

function pendingUpdates(home: string): number {
  const db = new Database(join(home, 'cssm.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM pending_update').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('cssm reserve/update --out', () => {
  it('reserve writes the file only once the reservation is committed', async () => {
    const home = tempHome();
    const out = join(home, 'auth.txt');
    const seen: string[][] = [];
    hook.beforeWrite = () => seen.push(committedSerials(home));
    const r = await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--plr', '--out', out);
    expect(r).toEqual({ exitCode: 0, stdout: '', stderr: `Authorization code written to ${out}.\n` });
    expect(seen).toEqual([['08F8FF3C']]);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('update writes the file only once the update is committed', async () => {
    const home = tempHome();
    await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--license', 'Expressway Rich Media Session=4');
    const seen: number[] = [];
    hook.beforeWrite = () => seen.push(pendingUpdates(home));
    const out = join(home, 'update.xml');
    const r = await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=6', '--out', out);
    expect(r.exitCode).toBe(0);
    expect(seen).toEqual([1]);
    expect(readFileSync(out, 'utf8')).toMatch(/^<specificPLR>.*\n$/);
  });

  it('a write that fails after the commit says the reservation exists and how to show the code; exit 1', async () => {
    const home = tempHome();
    const out = join(home, 'auth.txt');
    hook.beforeWrite = () => {
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    const r = await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--plr', '--out', out);
    expect(r).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: `exsh: Product instance 08F8FF3C now holds the reservation, but its authorization code could not be written to ${out} (ENOSPC: no space left on device); show the code with exsh cssm code --instance 08F8FF3C. [cssm.codeNotWritten]\n`,
    });
    expect(existsSync(out)).toBe(false);
    hook.beforeWrite = undefined;
    const shown = await run(home, 'code', '--instance', '08F8FF3C');
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/^Current code, issued 2024-05-01 12:00:00 UTC:\nC[1-9A-HJ-NP-Za-km-z-]+\n$/);
  });

  it('an update whose file fails after the commit is in transit, and says so', async () => {
    const home = tempHome();
    await run(home, 'reserve', '--request', request(udi('08F8FF3C')).code, '--license', 'Expressway Rich Media Session=4');
    hook.beforeWrite = () => {
      throw new Error('EIO: i/o error');
    };
    const out = join(home, 'update.xml');
    const r = await run(home, 'update', '--instance', '08F8FF3C', '--license', 'Expressway Rich Media Session=6', '--out', out);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toBe(
      `exsh: The update of product instance 08F8FF3C is in transit, but its authorization code could not be written to ${out} (EIO: i/o error); show the code with exsh cssm code --instance 08F8FF3C. [cssm.codeNotWritten]\n`,
    );
    expect(pendingUpdates(home)).toBe(1);
  });

  it('a file that plainly cannot be written is refused before anything is reserved', async () => {
    const home = tempHome();
    const calls: string[] = [];
    hook.beforeWrite = (f) => calls.push(f);
    const missing = join(home, 'no', 'such', 'dir', 'x');
    const r = await run(home, 'reserve', '--request', request(udi('X1')).code, '--plr', '--out', missing);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^exsh: Cannot write the authorization code to ${missing}: .*; nothing was reserved\\. \\[cssm\\.outUnwritable\\]\\n$`),
    );
    const dir = await run(home, 'reserve', '--request', request(udi('X1')).code, '--plr', '--out', home);
    expect(dir.stderr).toBe(`exsh: Cannot write the authorization code to ${home}: it is a directory; nothing was reserved. [cssm.outUnwritable]\n`);
    expect(calls).toEqual([]);
    // Refused before the database was even opened.
    expect(existsSync(join(home, 'cssm.sqlite'))).toBe(false);
  });
});
