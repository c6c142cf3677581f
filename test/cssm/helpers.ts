import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeNonce, makeRequestCode, type Udi } from '../../src/codes/index.js';
import { closeDatabases } from '../../src/cssm/db.js';
import type { CssmEnv } from '../../src/cssm/service.js';
import { exitStatusOf, isExshError } from '../../src/errors.js';
import { seededRng } from '../../src/random.js';

export const T0 = new Date('2024-05-01T12:00:00.000Z');

const homes: string[] = [];

export function tempHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'exsh-cssm-'));
  homes.push(home);
  return home;
}

export function cleanHomes(): void {
  closeDatabases();
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}

/** An environment whose clock can be moved with `at.set(...)`. */
export function testEnv(home = tempHome(), start = T0): CssmEnv & { at: { set(d: Date): void; advance(ms: number): void } } {
  let now = start;
  return {
    home,
    now: () => now,
    rng: seededRng(1, 'cssm-test'),
    at: {
      set: (d) => {
        now = d;
      },
      advance: (ms) => {
        now = new Date(now.getTime() + ms);
      },
    },
  };
}

export function udi(serial: string, hostId = '320aa69d'): Udi {
  return { pid: 'Expressway', serial, vid: '1.0', hostId };
}

let nonceCounter = 0;

export function request(u: Udi): { code: string; nonce: string } {
  const nonce = makeNonce(seededRng(`${u.serial}/${nonceCounter++}`, 'nonce'));
  return { code: makeRequestCode(u, nonce), nonce };
}

/** Asserts `fn` throws an ExshError with exactly this code (and exit status, when given). */
export function expectCode(fn: () => unknown, code: string, exitCode = 1): Error {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isExshError(thrown), `expected ExshError ${code}, got ${String(thrown)}`).toBe(true);
  if (!isExshError(thrown)) throw new Error('unreachable');
  expect(thrown.code).toBe(code);
  expect(exitStatusOf(thrown)).toBe(exitCode);
  return thrown;
}
