import { ExshError } from '../errors.js';
import { enumSpace, intSpace, stringSpace } from '../xapi/schema.js';
import type { StatusObject } from '../xapi/types.js';
import type { DeviceContext } from './context.js';
import type { Subsystem } from './model.js';
import { holdsRegistration } from './registration-state.js';
import { readReservation } from './reservation-state.js';
import { inUse } from './usage-state.js';
import { isObject, type DeviceState } from './state.js';

/**
 * Smart Licensing settings (§4), the evaluation period and the `xStatus License` tree.
 * Reservation (and, later, registration) add their parts of `License Smart` as status
 * parts in the model.
 */

export const EVALUATION_DAYS = 90;
const DAY_MS = 86_400_000;

export interface LicensingSection {
  evaluationStartedAt: string;
  /**
   * The evaluation counts only while the product is neither registered nor reserved
   * (§9.3): time spent so is added up here (ms), and `pausedAt` marks a pause in course.
   */
  pausedMs?: number;
  pausedAt?: string;
}

const SECTION = 'licensing';

export function licensingSection(state: DeviceState): LicensingSection {
  return state[SECTION] as LicensingSection;
}

/** Starts a new evaluation period (a Cisco VCS becoming an Expressway, §8.2). */
export function restartEvaluation(ctx: DeviceContext): void {
  const now = ctx.now().toISOString();
  const section = ctx.edit<LicensingSection>(SECTION, () => ({ evaluationStartedAt: now }));
  section.evaluationStartedAt = now;
  delete section.pausedMs;
  if (evaluationPaused(ctx.state)) section.pausedAt = now;
  else delete section.pausedAt;
}

/** Whether the evaluation period stands still: nothing is in use, or a registration or an installed reservation licenses the product (§9.3). */
export function evaluationPaused(state: DeviceState): boolean {
  return holdsRegistration(state) || Boolean(readReservation(state).installed) || !inUse(state);
}

export function evaluationDaysRemaining(ctx: Pick<DeviceContext, 'state' | 'now'>): number {
  const section = licensingSection(ctx.state);
  const now = ctx.now().getTime();
  const paused = (section.pausedMs ?? 0) + (section.pausedAt ? Math.max(0, now - Date.parse(section.pausedAt)) : 0);
  const end = Date.parse(section.evaluationStartedAt) + EVALUATION_DAYS * DAY_MS + paused;
  // A clock pinned (--now) before the evaluation began shows the whole period, not more.
  return Math.min(EVALUATION_DAYS, Math.max(0, Math.ceil((end - now) / DAY_MS)));
}

/** Starts or ends a pause of the evaluation when registration or reservation began or ended. */
function followPause(ctx: DeviceContext): void {
  const section = ctx.edit<LicensingSection>(SECTION);
  const now = ctx.now();
  if (section.pausedAt !== undefined) {
    section.pausedMs = (section.pausedMs ?? 0) + Math.max(0, now.getTime() - Date.parse(section.pausedAt));
    delete section.pausedAt;
  } else {
    section.pausedAt = now.toISOString();
  }
}

const pauseOutOfStep = (state: DeviceState) =>
  state[SECTION] !== undefined && smartLicensingAvailable(state) && evaluationPaused(state) !== (licensingSection(state).pausedAt !== undefined);

/** Transport settings are locked while registered (§9.2): deregister first. */
function lockedWhileRegistered(name: string) {
  return (ctx: DeviceContext, value: unknown, previous: unknown) => {
    if (value === previous || !holdsRegistration(ctx.state)) return;
    throw new ExshError(
      'registration.transportLocked',
      `License Smart Transport ${name} cannot be changed while this product is registered to the CSSM; deregister it first (xCommand License Smart Deregister).`,
    );
  };
}

/** §5.3: on a Cisco VCS every License Smart request is refused. */
export function smartLicensingAvailable(state: DeviceState): boolean {
  return state.brand === 'Expressway';
}

export const VCS_REFUSAL =
  'Smart Licensing is not available on Cisco VCS: this system uses option keys. Switch it to Expressway with xCommand ServiceSelect first.';

function isSmartPath(path: readonly string[]): boolean {
  return path[0] === 'License' && path[1] === 'Smart';
}

function validOnPremUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' && u.hostname !== '' && /\/SmartTransport$/.test(u.pathname);
  } catch {
    return false;
  }
}

export const licensing: Subsystem = {
  name: 'licensing',
  sections: [
    {
      key: SECTION,
      // Nothing is in use at first: the evaluation starts paused (§9.3).
      init: ({ createdAt }) => ({ evaluationStartedAt: createdAt, pausedAt: createdAt }) satisfies LicensingSection,
      validate: (v) =>
        isObject(v) &&
        typeof v.evaluationStartedAt === 'string' &&
        !Number.isNaN(Date.parse(v.evaluationStartedAt)) &&
        (v.pausedMs === undefined || (Number.isSafeInteger(v.pausedMs) && (v.pausedMs as number) >= 0)) &&
        (v.pausedAt === undefined || (typeof v.pausedAt === 'string' && !Number.isNaN(Date.parse(v.pausedAt))))
          ? undefined
          : 'licensing is invalid',
      // The evaluation clock belongs to the smart licensing settings a reset may keep (§8.1).
      reset: 'smart-licensing',
      restoreOntoOther: 'target',
    },
  ],
  configRetention: [['License Smart', 'smart-licensing']],
  catchUp: { due: (state) => pauseOutOfStep(state), run: followPause },
  guard: (ctx, target) => {
    if (isSmartPath(target.path) && !smartLicensingAvailable(ctx.state)) throw new ExshError('license.notAvailableOnVcs', VCS_REFUSAL);
  },
  // A different system keeps its own evaluation period; a VCS restored as an Expressway starts one.
  restore: (r) => {
    if (!r.sameSystem && r.target.brand !== 'Expressway')
      r.next[SECTION] = { evaluationStartedAt: r.now.toISOString(), pausedAt: r.now.toISOString() } satisfies LicensingSection;
  },
  config: [
    {
      path: ['License', 'Smart', 'Transport', 'Mode'],
      space: enumSpace('Direct', 'OnPrem', 'Proxy'),
      default: 'Direct',
      help: 'How this product instance reaches the CSSM: Direct (cisco.com), OnPrem (Smart Software Manager On-Prem) or Proxy.',
      onSet: lockedWhileRegistered('Mode'),
    },
    {
      path: ['License', 'Smart', 'Transport', 'OnPrem', 'Url'],
      space: stringSpace(0, 1024),
      default: '',
      help: 'The Smart Transport URL of the On-Prem server, for example https://example.com/SmartTransport.',
      onSet: lockedWhileRegistered('OnPrem Url'),
      validate: (v) =>
        String(v) === '' || validOnPremUrl(String(v))
          ? undefined
          : `Invalid value '${String(v)}' for License Smart Transport OnPrem Url: it must be https://<server>/SmartTransport, for example https://example.com/SmartTransport.`,
    },
    {
      path: ['License', 'Smart', 'Transport', 'Proxy', 'Address'],
      space: stringSpace(0, 1024),
      default: '',
      help: 'The proxy server: an IPv4 address or FQDN.',
      validate: (v) =>
        String(v) === '' || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(String(v))
          ? undefined
          : `Invalid value '${String(v)}' for License Smart Transport Proxy Address: expected an IPv4 address or a host name.`,
    },
    {
      path: ['License', 'Smart', 'Transport', 'Proxy', 'Port'],
      space: intSpace(1, 65535),
      default: 3128,
      help: 'The port the proxy server listens on.',
    },
    {
      path: ['License', 'Smart', 'Transport', 'Proxy', 'Username'],
      space: stringSpace(0, 128),
      default: '',
      help: 'The user name for proxy authentication.',
    },
    {
      path: ['License', 'Smart', 'Transport', 'Proxy', 'Password'],
      space: stringSpace(0, 128),
      default: '',
      secret: true,
      help: 'The password for proxy authentication (never printed back).',
    },
    {
      path: ['License', 'Smart', 'Privacy', 'HostnameAndIp'],
      space: enumSpace('Share', 'DoNotShare'),
      default: 'Share',
      help: 'DoNotShare: do not share my hostname or IP address with the CSSM.',
    },
    {
      path: ['Services', 'WebRTC', 'Mode'],
      space: enumSpace('On', 'Off'),
      default: 'Off',
      help: 'WebRTC; when On the export-control limit is 2244 instead of 2500.',
    },
  ],
  status: [
    {
      name: 'License',
      help: 'Smart Licensing: registration, authorization, evaluation, reservation and entitlements.',
      build: (ctx) => {
        if (!smartLicensingAvailable(ctx.state)) {
          // A Cisco VCS is licensed by option keys: no smart licensing authorization applies
          // and no evaluation period runs (a fresh one starts when it becomes an Expressway).
          return {
            Smart: {
              Enabled: 'False',
              Registration: { Status: 'Unregistered' },
              Authorization: { Status: 'Not Applicable' },
              Evaluation: { DaysRemaining: 0, Status: 'Not In Use' },
              SmartAccount: '',
              VirtualAccount: '',
              ExportControlled: 'Not Allowed',
            },
          };
        }
        const days = evaluationDaysRemaining(ctx);
        const smart: StatusObject = {
          Enabled: 'True',
          Registration: { Status: 'Unregistered' },
          Authorization: { Status: days > 0 ? 'Evaluation Mode' : 'Evaluation Expired' },
          // Counting only while in use and neither registered nor reserved (§9.3): otherwise it stands still.
          Evaluation: { DaysRemaining: days, Status: days === 0 ? 'Expired' : evaluationPaused(ctx.state) ? 'Not In Use' : 'In Use' },
          SmartAccount: '',
          VirtualAccount: '',
          ExportControlled: 'Not Allowed',
        };
        return { Smart: smart };
      },
    },
  ],
};
