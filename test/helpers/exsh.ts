import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

/**
 * Black-box helpers for e2e tests: they spawn the built CLI (dist/, made by
 * `npm test`'s pretest step) with a temporary home, so no test touches $HOME.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXSH_BIN = fileURLToPath(new URL('../../bin/exsh.cjs', import.meta.url));

/** The pinned clock most e2e tests use (`--now`), for deterministic output. */
export const NOW = '2026-01-01T00:00:00Z';

const homes: string[] = [];

/** A fresh, empty home directory; removed by cleanHomes(). */
export function tempHome(prefix = 'exsh-e2e-'): string {
  const home = mkdtempSync(join(tmpdir(), prefix));
  homes.push(home);
  return home;
}

export function cleanHomes(): void {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}

/**
 * The environment a child runs with: the parent's minus everything exsh reads, so a
 * developer's EXSH_HOME / EXSH_NOW / NO_COLOR cannot change a test's outcome.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('EXSH_') || k === 'NO_COLOR' || k === 'FORCE_COLOR') continue;
    // Loading extra CA certificates costs Node ~90 ms a start on some machines; no exsh
    // process a test starts trusts anything but its own CA, so they do without.
    if (k === 'NODE_EXTRA_CA_CERTS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunOptions {
  /** Written to stdin, which is then closed (stdin is an empty pipe otherwise). */
  input?: string | Buffer;
  /** Added to (or, with undefined, removed from) the clean environment. */
  env?: Record<string, string | undefined>;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Starts `node bin/exsh.cjs <args>` without waiting (for concurrency tests). */
export function spawnExsh(args: readonly string[], opts: RunOptions = {}) {
  return execa(process.execPath, [EXSH_BIN, ...args], {
    reject: false,
    stripFinalNewline: false,
    extendEnv: false,
    env: cleanEnv(opts.env),
    cwd: REPO_ROOT,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'pipe' as const }),
  });
}

/** Runs `node bin/exsh.cjs <args>` to completion; output is kept exactly (final newline included). */
export async function runExsh(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = spawnExsh(args, opts);
  if (opts.input === undefined) child.stdin?.end();
  const r = await child;
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
