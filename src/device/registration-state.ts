import type { Route, TransportMode } from '../protocol/link.js';
import type { AuthorizationGrant, EntitlementVerdict } from '../protocol/messages.js';
import type { DeviceContext } from './context.js';
import type { SectionSpec } from './model.js';
import { isObject, type DeviceState } from './state.js';
import { DNS_DOMAIN_KEY } from './systemunit.js';

/**
 * Connected mode's state (§9): the registration to the CSSM (token, ID certificate,
 * smart and virtual account), the authorization it holds, the timers of both, and the
 * simulator's network switch. Plain data, validated on every read; what the device
 * shows is derived from it (registration-status.ts), what becomes due is in
 * registration-timers.ts and the talk with the CSSM in registration-client.ts.
 */

/**
 * - unregistered: never registered, or deregistered.
 * - pending: a Register could not reach the CSSM; retried every 15 minutes.
 * - failed: the CSSM refused it (a bad token …); not retried.
 * - registered: the ID certificate is valid.
 * - expired: the ID certificate ran out before a renewal succeeded.
 */
export type RegistrationPhase = 'unregistered' | 'pending' | 'failed' | 'registered' | 'expired';

/** The authorization the CSSM granted, and its fate since. */
export type AuthorizationPhase = 'none' | 'authorized' | 'outOfCompliance' | 'expired';

export interface AuthorizationState {
  phase: AuthorizationPhase;
  lastAttempt: string;
  /** The next renewal (30 days after a success, 12 hours when out of compliance, 15 minutes after a failure). */
  nextAttempt: string;
  /** 90 days after the last successful renewal (backdated by the CSSM). */
  expires: string;
  failureReason: string;
  entitlements: { tag: string; count: number; verdict: EntitlementVerdict }[];
}

export interface RegistrationSection {
  phase: RegistrationPhase;
  /** The device key (PKCS#8 PEM), made at the first Register and kept: secret, masked by `devices show`. */
  deviceKey: string;
  /** The ID certificate (PEM) while registered or expired. */
  idCertificate: string;
  smartAccount: string;
  virtualAccount: string;
  exportControlled: boolean;
  initialRegistration: string;
  lastRenewalAttempt: string;
  /** Registered: the ID renewal (180 days after the last success, or a 15-minute retry); pending: the next Register retry. */
  nextRenewalAttempt: string;
  registrationExpires: string;
  failureReason: string;
  /** The stable code of the last failure (for scripts; see docs/connected.md). */
  failureCode: string;
  /** While pending: what to retry with. Secret. */
  pendingToken: string;
  pendingForce: boolean;
  /** The URL the last attempt used. */
  transportUrl: string;
  authorization: AuthorizationState;
  /** Advanced by every change, so a settle can tell that another process got there first. */
  revision: number;
}

export interface NetworkSection {
  /** `xCommand Simulator Network Cssm Reachable`: false cuts this device off the CSSM. */
  cssmReachable: boolean;
}

export const REGISTRATION = 'registration';
export const NETWORK = 'network';

const NO_AUTHORIZATION: AuthorizationState = {
  phase: 'none',
  lastAttempt: '',
  nextAttempt: '',
  expires: '',
  failureReason: '',
  entitlements: [],
};

export function unregistered(deviceKey = ''): RegistrationSection {
  return {
    phase: 'unregistered',
    deviceKey,
    idCertificate: '',
    smartAccount: '',
    virtualAccount: '',
    exportControlled: false,
    initialRegistration: '',
    lastRenewalAttempt: '',
    nextRenewalAttempt: '',
    registrationExpires: '',
    failureReason: '',
    failureCode: '',
    pendingToken: '',
    pendingForce: false,
    transportUrl: '',
    authorization: { ...NO_AUTHORIZATION, entitlements: [] },
    revision: 0,
  };
}

/** The registration of a device (a device from before connected mode has never registered). */
export function readRegistration(state: DeviceState): RegistrationSection {
  return (state[REGISTRATION] as RegistrationSection | undefined) ?? unregistered();
}

/** The section, copied for this change, with its revision advanced. */
export function editRegistration(ctx: DeviceContext): RegistrationSection {
  const before = readRegistration(ctx.state).revision;
  const section = ctx.edit<RegistrationSection>(REGISTRATION, () => unregistered());
  section.revision = before + 1;
  return section;
}

export function cssmReachable(state: DeviceState): boolean {
  const network = state[NETWORK] as NetworkSection | undefined;
  return network?.cssmReachable ?? true;
}

export function isRegistered(state: DeviceState): boolean {
  return readRegistration(state).phase === 'registered';
}

/** Holds an ID certificate the CSSM knows (registered, or expired but not deregistered). */
export function holdsRegistration(state: DeviceState): boolean {
  const phase = readRegistration(state).phase;
  return phase === 'registered' || phase === 'expired';
}

/** Where the device's settings send its messages (§9.5). */
export function routeOf(state: DeviceState): Route {
  const c = state.config;
  const text = (key: string) => (typeof c[key] === 'string' ? (c[key] as string) : '');
  const port = c['License Smart Transport Proxy Port'];
  return {
    mode: (text('License Smart Transport Mode') || 'Direct') as TransportMode,
    onPremUrl: text('License Smart Transport OnPrem Url'),
    proxy: {
      address: text('License Smart Transport Proxy Address'),
      port: typeof port === 'number' ? port : 3128,
      username: text('License Smart Transport Proxy Username'),
      password: text('License Smart Transport Proxy Password'),
    },
  };
}

export function dnsConfigured(state: DeviceState): boolean {
  const domain = state.config[DNS_DOMAIN_KEY];
  return typeof domain === 'string' && domain !== '';
}

/** The grant as the device keeps it, after a successful registration or renewal at `at`. */
export function grantedAuthorization(grant: AuthorizationGrant, at: Date, nextAttempt: Date): AuthorizationState {
  return {
    phase: grant.status === 'OutOfCompliance' ? 'outOfCompliance' : 'authorized',
    lastAttempt: at.toISOString(),
    nextAttempt: nextAttempt.toISOString(),
    expires: grant.expires,
    failureReason: '',
    entitlements: grant.entitlements.map((e) => ({ tag: e.tag, count: e.count, verdict: e.verdict })),
  };
}

// ---------------------------------------------------------------------------------------
// validation of a stored section (a failed check makes the store "corrupt", §5.2)

const PHASES: readonly RegistrationPhase[] = ['unregistered', 'pending', 'failed', 'registered', 'expired'];
const AUTH_PHASES: readonly AuthorizationPhase[] = ['none', 'authorized', 'outOfCompliance', 'expired'];
const VERDICTS: readonly EntitlementVerdict[] = ['InCompliance', 'OutOfCompliance', 'InvalidTag'];

const isTime = (v: unknown) => v === '' || (typeof v === 'string' && !Number.isNaN(Date.parse(v)));

function authorizationProblem(a: unknown): string | undefined {
  if (!isObject(a)) return 'registration authorization is not an object';
  if (!AUTH_PHASES.includes(a.phase as AuthorizationPhase)) return 'registration authorization phase is invalid';
  for (const k of ['lastAttempt', 'nextAttempt', 'expires']) if (!isTime(a[k])) return `registration authorization ${k} is invalid`;
  if (typeof a.failureReason !== 'string') return 'registration authorization failureReason is invalid';
  if (!Array.isArray(a.entitlements)) return 'registration authorization entitlements are invalid';
  for (const e of a.entitlements) {
    if (!isObject(e) || typeof e.tag !== 'string' || !Number.isSafeInteger(e.count) || !VERDICTS.includes(e.verdict as EntitlementVerdict)) {
      return 'registration authorization entitlement is invalid';
    }
  }
  return undefined;
}

export function registrationProblem(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) return 'registration is not an object';
  if (!PHASES.includes(raw.phase as RegistrationPhase)) return 'registration phase is invalid';
  for (const k of ['deviceKey', 'idCertificate', 'smartAccount', 'virtualAccount', 'failureReason', 'failureCode', 'pendingToken', 'transportUrl']) {
    if (typeof raw[k] !== 'string') return `registration ${k} is invalid`;
  }
  for (const k of ['initialRegistration', 'lastRenewalAttempt', 'nextRenewalAttempt', 'registrationExpires']) {
    if (!isTime(raw[k])) return `registration ${k} is invalid`;
  }
  if (typeof raw.exportControlled !== 'boolean' || typeof raw.pendingForce !== 'boolean') return 'registration flags are invalid';
  if (!Number.isSafeInteger(raw.revision) || (raw.revision as number) < 0) return 'registration revision is invalid';
  if ((raw.phase === 'registered' || raw.phase === 'expired') && raw.idCertificate === '') return 'registration has no ID certificate';
  if ((raw.phase === 'registered' || raw.phase === 'pending') && raw.nextRenewalAttempt === '') return 'registration has no next attempt';
  return authorizationProblem(raw.authorization);
}

export const registrationSection: SectionSpec = {
  key: REGISTRATION,
  validate: registrationProblem,
  // Registration is part of the smart licensing settings a reset may keep (§8.1).
  reset: 'smart-licensing',
  // Restored onto a different system, the product must register again (§8.4).
  restoreOntoOther: 'fresh',
  mask: (value) => {
    if (!isObject(value)) return value;
    const masked: Record<string, unknown> = { ...value };
    if (masked.deviceKey) masked.deviceKey = '********';
    if (masked.pendingToken) masked.pendingToken = '********';
    return masked;
  },
};

export const networkSection: SectionSpec = {
  key: NETWORK,
  validate: (v) => (v === undefined || (isObject(v) && typeof v.cssmReachable === 'boolean') ? undefined : 'network is invalid'),
  // The simulator's fault injection is not the device's configuration: a reset keeps it.
  reset: 'always',
  restoreOntoOther: 'target',
};
