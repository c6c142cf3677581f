import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeNonce, makeRequestCode } from '../codes/index.js';
import { seededRng } from '../random.js';
import { resolveLicence } from '../catalogue.js';
import { closeDatabase, DEFAULT_ACCOUNT, DEFAULT_VIRTUAL_ACCOUNT, openDatabase } from './db.js';
import { reserve, type CssmEnv } from './service.js';

export interface BenchResult {
  reservations: number;
  seconds: number;
  perSecond: number;
}

/**
 * §11: in-process SLR reservations per second against a fresh temporary database
 * (one transaction and one signature each). The stock is topped up first so none fail.
 */
export function benchReservations(n: number): BenchResult {
  const home = mkdtempSync(join(tmpdir(), 'exsh-cssm-bench-'));
  try {
    const now = new Date();
    const env: CssmEnv = { home, now: () => now, rng: seededRng('bench', 'cssm') };
    const { db } = openDatabase(home, { account: DEFAULT_ACCOUNT, virtualAccount: DEFAULT_VIRTUAL_ACCOUNT, now });
    const rms = resolveLicence('Expressway Rich Media Session');
    db.prepare('INSERT INTO licence_line (virtual_account_id, tag, quantity) SELECT default_virtual_account_id, ?, ? FROM smart_account').run(rms.tag, n);
    const requests = Array.from({ length: n }, (_, i) =>
      makeRequestCode({ pid: 'Expressway', serial: `B${i.toString(16).padStart(7, '0').toUpperCase()}`, vid: '1.0', hostId: 'b0000001' }, makeNonce(env.rng)),
    );
    const start = performance.now();
    for (const request of requests) reserve({ ...env, request, licenses: [{ name: rms.displayName, qty: 1 }] });
    const seconds = (performance.now() - start) / 1000;
    return { reservations: n, seconds, perSecond: n / seconds };
  } finally {
    closeDatabase(home);
    rmSync(home, { recursive: true, force: true });
  }
}
