import { loadCatalogue } from './catalogue.js';
import { loadDemoAuthority } from './codes/authority.js';
import { derivePiid, parseRequestCode } from './codes/request.js';
import { buildSlrCode, SLR_FLAG, SLR_VERSION } from './codes/slr.js';
import type { Entitlement } from './codes/types.js';

/** The in-process benchmarks `npm run bench` runs, and the codes it needs (bundled as dist/bench.cjs). */
export { benchRegistrations, benchReservations } from './cssm/bench.js';
export { benchInstalls } from './device/reservation-bench.js';

/**
 * An SLR authorization code with `n` entitlements for a request code, signed by the demo
 * authority: catalogue licences in turn, each line its own subscription.
 */
export function largeSlrCode(requestCode: string, n: number, timestamp: number): string {
  const { udi, nonce } = parseRequestCode(requestCode);
  const catalogue = loadCatalogue().entitlements.filter((e) => e.licenseType === 'PERPETUAL' && e.kind !== 'plr' && e.kind !== 'plr-export');
  const entitlements: Entitlement[] = Array.from({ length: n }, (_, i) => {
    const entry = catalogue[i % catalogue.length] as (typeof catalogue)[number];
    return {
      tag: entry.tag,
      count: 1 + (i % 7),
      startDate: '',
      endDate: '',
      licenseType: 'PERPETUAL',
      displayName: entry.displayName,
      tagDescription: entry.description,
      subscriptionId: `Sub${String(i).padStart(4, '0')}`,
    };
  });
  return buildSlrCode({ flag: SLR_FLAG, version: SLR_VERSION, piid: derivePiid(udi, nonce), timestamp, entitlements }, udi, loadDemoAuthority().privateKey);
}

export interface ClusterBenchResult {
  /** Median ms of one `xCommand Simulator Traffic Set` on a peer of a 6-node SLR cluster (all peers' loans recomputed and committed). */
  trafficSetMs: number;
  /** Median ms of one `xCommand License Smart Usage Update` against the CSSM in-process (plan, carry, check, settle). */
  usageUpdateMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/** §10's bench: one traffic change in a 6-node cluster, and the usage-report round trip. */
export async function benchCluster(rounds: number): Promise<ClusterBenchResult> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { Device } = await import('./device/device.js');
  const { deviceModel } = await import('./device/subsystems.js');
  const { Session } = await import('./shell/session.js');
  const { remoteEnv } = await import('./commands/remote.js');
  const { createToken } = await import('./cssm/tokens.js');
  const { CLUSTER } = await import('./device/cluster-state.js');
  const { seededRng } = await import('./random.js');
  const { DocumentStore } = await import('./store/documents.js');
  const { closeDatabases } = await import('./cssm/db.js');
  const home = mkdtempSync(join(tmpdir(), 'exsh-bench-cluster-'));
  const now = new Date('2026-03-01T10:00:00Z');
  const model = deviceModel();
  const rms = loadCatalogue().entitlements.find((e) => e.displayName === 'Expressway Rich Media Session');
  try {
    const names = Array.from({ length: 6 }, (_, i) => `node${i + 1}`);
    const sessions = [];
    for (const name of names) {
      const device = await Device.open({ home, name, model, now, seed: name });
      const session = new Session({ device });
      await session.text({ line: 'xConfiguration License Smart ReservationEnable: On' });
      const reply = await session.text({ line: 'xCommand License Smart Reservation Request' });
      const request = /^(CB-\S+)$/m.exec(reply)?.[1] ?? '';
      const { udi, nonce } = parseRequestCode(request);
      const code = buildSlrCode(
        {
          flag: SLR_FLAG,
          version: SLR_VERSION,
          piid: derivePiid(udi, nonce),
          timestamp: now.getTime(),
          entitlements: [
            {
              tag: rms?.tag ?? '',
              count: 10,
              startDate: '',
              endDate: '',
              licenseType: 'PERPETUAL',
              displayName: 'Expressway Rich Media Session',
              tagDescription: '',
              subscriptionId: '',
            },
          ],
        },
        udi,
        loadDemoAuthority().privateKey,
      );
      await session.text({ line: `xCommand License Smart Reservation Install "${code}"` });
      sessions.push(session);
    }
    const first = sessions[0];
    if (!first) throw new Error('no session');
    await first.device.changeWithPeers((ctx) => {
      for (const name of names) ctx.peer?.(name)?.edit(CLUSTER, () => ({ name: 'bench', peers: names, borrowed: {}, lent: {} }));
    });
    const traffic: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      await first.text({ line: `xCommand Simulator Traffic Set VideoCalls: ${10 + (i % 30)}` });
      traffic.push(performance.now() - t);
    }
    // The usage-report round trip: a registered device, the CSSM of the same home in-process.
    const cssm = { home, now: () => now, rng: seededRng('bench', 'cssm') };
    const connected = await Device.open({ home, name: 'connected', model, now, seed: 'c' });
    connected.services = remoteEnv(home, undefined, () => cssm);
    const session = new Session({ device: connected });
    await session.text({ line: 'xConfiguration IP DNS Domain Name: example.com' });
    await session.text({ line: `xCommand License Smart Register IdToken: ${createToken(cssm).token}` });
    const updates: number[] = [];
    for (let i = 0; i < rounds; i++) {
      await session.text({ line: `xCommand Simulator Traffic Set VideoCalls: ${1 + (i % 20)}` });
      const t = performance.now();
      await session.text({ line: 'xCommand License Smart Usage Update' });
      updates.push(performance.now() - t);
    }
    return { trafficSetMs: median(traffic), usageUpdateMs: median(updates) };
  } finally {
    DocumentStore.closeAll();
    closeDatabases();
    rmSync(home, { recursive: true, force: true });
  }
}
