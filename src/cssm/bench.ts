import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeNonce, makeRequestCode } from '../codes/index.js';
import { seededRng } from '../random.js';
import { resolveLicence } from '../catalogue.js';
import { closeDatabase, DEFAULT_ACCOUNT, DEFAULT_VIRTUAL_ACCOUNT, openDatabase } from './db.js';
import { reserve, type CssmEnv } from './service.js';
import { PROTOCOL, type RequestEnvelope } from '../protocol/messages.js';
import { signRequest } from '../protocol/sign.js';
import { handleDeviceMessage } from './connected.js';
import { createToken } from './tokens.js';

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

export interface RegistrationBenchResult {
  registrations: number;
  seconds: number;
  perSecond: number;
}

/** Device keys are the device's cost, not the CSSM's: a few, shared by many serials. */
const BENCH_KEYS = 4;

/**
 * §13: in-process connected-mode registrations per second against a fresh temporary
 * home: n register messages from n distinct devices with one unlimited token, each
 * answered by handleDeviceMessage (token check, CSR and signature checks, an ID
 * certificate issued, one write transaction, a signed reply). The devices' keys, CSRs
 * and signed requests are made before the clock starts, as is the home's PKI.
 */
export async function benchRegistrations(n: number): Promise<RegistrationBenchResult> {
  const { createCsr, ensurePki, generateDeviceKey } = await import('../pki/pki.js');
  const home = mkdtempSync(join(tmpdir(), 'exsh-cssm-bench-'));
  try {
    const now = new Date();
    const env: CssmEnv = { home, now: () => now, rng: seededRng('bench', 'cssm') };
    const { token } = createToken(env, {});
    await ensurePki(home);
    const keys = Array.from({ length: BENCH_KEYS }, () => generateDeviceKey());
    const requests: RequestEnvelope[] = [];
    for (let i = 0; i < n; i++) {
      const serial = `R${i.toString(16).padStart(7, '0').toUpperCase()}`;
      const key = keys[i % BENCH_KEYS] as string;
      const csr = await createCsr(key, { commonName: serial });
      requests.push(
        signRequest<RequestEnvelope<'register'>>(
          {
            protocol: PROTOCOL,
            kind: 'register',
            nonce: env.rng.bytes(16).toString('hex'),
            time: now.toISOString(),
            udi: { pid: 'Expressway', serial, vid: '1.0', hostId: 'b0000001', productType: 'ExpresswayC' },
            body: { token, force: false, csr, software: 'X15.3.0' },
          },
          key,
        ),
      );
    }
    const start = performance.now();
    for (const request of requests) {
      const reply = await handleDeviceMessage(env, request, 'cloud');
      if (reply.status !== 'OK') throw new Error(`bench registration refused: ${reply.error?.code} ${reply.error?.message}`);
    }
    const seconds = (performance.now() - start) / 1000;
    return { registrations: n, seconds, perSecond: n / seconds };
  } finally {
    closeDatabase(home);
    rmSync(home, { recursive: true, force: true });
  }
}
