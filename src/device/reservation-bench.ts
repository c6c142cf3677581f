import { performance } from 'node:perf_hooks';
import { buildSlrCode, derivePiid, loadDemoAuthority, makeNonce, makeRequestCode, SLR_FLAG, SLR_VERSION, type Entitlement } from '../codes/index.js';
import { loadCatalogue } from '../catalogue.js';
import { seededRng } from '../random.js';
import { WorkingState, workingContext } from './context.js';
import { deviceUdi, installReservation } from './reservation-engine.js';
import { emptyReservation, RESERVATION_ENABLE_KEY } from './reservation-state.js';
import { deepFreeze } from './state.js';
import { deviceModel } from './subsystems.js';

export interface InstallBenchResult {
  installs: number;
  seconds: number;
  perSecond: number;
}

/** Two catalogue licences, one perpetual and one term, as the CSSM would issue them. */
function benchEntitlements(): Entitlement[] {
  const pick = (name: string) => {
    const entry = loadCatalogue().entitlements.find((e) => e.displayName === name);
    if (!entry) throw new Error(`the catalogue has no ${name}`);
    return entry;
  };
  const rms = pick('Expressway Rich Media Session');
  const room = pick('Expressway Room Registration (Term)');
  return [
    {
      tag: rms.tag,
      count: 4,
      startDate: '',
      endDate: '',
      licenseType: 'PERPETUAL',
      displayName: rms.displayName,
      tagDescription: rms.description,
      subscriptionId: '',
    },
    {
      tag: room.tag,
      count: 10,
      startDate: '2026-Jan-01 UTC',
      endDate: '2027-Jan-01 UTC',
      licenseType: 'TERM',
      displayName: room.displayName,
      tagDescription: room.description,
      subscriptionId: '',
    },
  ];
}

/**
 * §11: SLR installs per second in-process — the whole of Install on a device's working
 * copy (canonical form, XML parse, signature against the trust store, UDI and request
 * binding, the confirmation code and the state change), without the store's disk write,
 * which the batch bar measures. Codes are signed beforehand: signing is CSSM's cost.
 */
export function benchInstalls(n: number): InstallBenchResult {
  const rng = seededRng('bench', 'reservation');
  const at = new Date('2026-03-01T10:00:00Z');
  const state = deviceModel().newState(rng, at);
  state.config[RESERVATION_ENABLE_KEY] = 'On';
  const udi = deviceUdi(state);
  const key = loadDemoAuthority().privateKey;
  const entitlements = benchEntitlements();
  const cases = Array.from({ length: n }, () => {
    const nonce = makeNonce(rng);
    const piid = derivePiid(udi, nonce);
    const request = { nonce, code: makeRequestCode(udi, nonce), piid, requestedAt: at.toISOString() };
    const code = buildSlrCode({ flag: SLR_FLAG, version: SLR_VERSION, piid, timestamp: at.getTime(), entitlements }, udi, key);
    return { request, code };
  });
  const bases = cases.map((c) => deepFreeze({ ...state, reservation: { ...emptyReservation(), request: c.request } }));
  const start = performance.now();
  cases.forEach((c, i) => {
    const work = new WorkingState(bases[i] as typeof state);
    installReservation(
      workingContext(work, 'bench', () => at, rng),
      c.code,
    );
    work.finish();
  });
  const seconds = (performance.now() - start) / 1000;
  return { installs: n, seconds, perSecond: n / seconds };
}
