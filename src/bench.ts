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
