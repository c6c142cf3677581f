import { catalogueEntry, loadCatalogue } from '../catalogue.js';
import type { Entitlement } from '../codes/types.js';
import type { EntitlementUse } from '../protocol/messages.js';
import type { DeviceContext } from './context.js';
import type { SectionSpec } from './model.js';
import { entitlementStatus, readReservation } from './reservation-state.js';
import { isObject, type DeviceState } from './state.js';

/**
 * Traffic and licence consumption (§10): the simulated calls and registrations, their
 * peaks and refusals, the export-control latch, what was last reported to the CSSM and
 * which term licences a Boot stopped. Plain data; the rules are in usage.ts.
 */

export const TRAFFIC_KINDS = ['video', 'audio', 'room', 'desktop'] as const;
export type TrafficKind = (typeof TRAFFIC_KINDS)[number];
export type Traffic = Record<TrafficKind, number>;

/** The licence kinds traffic consumes (catalogue kinds). */
export const LICENCE_KINDS = ['rms', 'room', 'desktop'] as const;
export type LicenceUseKind = (typeof LICENCE_KINDS)[number];

export interface UsageSection {
  current: Traffic;
  peak: Traffic;
  refused: Traffic;
  /** Export control reached (100%): new calls and registrations wait until usage is below 99%. */
  exportReached: boolean;
  /** Connected mode: what the CSSM was last told (tag → count), and when the next 6-hour report is due. */
  reported: Record<string, number>;
  nextReport: string;
  /** Term licences a Boot found past their end date (`enforcementKey`): their features stopped. */
  enforced: string[];
}

export const USAGE = 'usage';
export const TRAFFIC_MAX = 10_000;
export const EXPORT_LIMIT = 2500;
export const EXPORT_LIMIT_WEBRTC = 2244;

const zero = (): Traffic => ({ video: 0, audio: 0, room: 0, desktop: 0 });

export function freshUsage(): UsageSection {
  return { current: zero(), peak: zero(), refused: zero(), exportReached: false, reported: {}, nextReport: '', enforced: [] };
}

export function readUsage(state: DeviceState): UsageSection {
  return (state[USAGE] as UsageSection | undefined) ?? freshUsage();
}

export function editUsage(ctx: DeviceContext): UsageSection {
  return ctx.edit<UsageSection>(USAGE, freshUsage);
}

/** Licences in use: a Rich Media Session per video call and per two audio-only calls, one per registration. */
export function consumption(t: Traffic): Record<LicenceUseKind, number> {
  return { rms: t.video + Math.ceil(t.audio / 2), room: t.room, desktop: t.desktop };
}

export function inUse(state: DeviceState): boolean {
  const c = consumption(readUsage(state).current);
  return c.rms + c.room + c.desktop > 0;
}

export const total = (t: Traffic) => t.video + t.audio + t.room + t.desktop;

/** The export-control limit in force: 2500 calls and registrations, 2244 while WebRTC is on (256 WebRTC sessions). */
export function exportLimit(state: DeviceState): number {
  return state.config['Services WebRTC Mode'] === 'On' ? EXPORT_LIMIT_WEBRTC : EXPORT_LIMIT;
}

/** 90% raises "approaching"; 100% "reached"; new traffic is allowed again only below 99%. */
export const approachingAt = (limit: number) => limit * 0.9;
export const reallowBelow = (limit: number) => limit * 0.99;

/** The catalogue's perpetual licence of a kind: the tag connected mode reports. */
export function connectedTag(kind: LicenceUseKind): { tag: string; displayName: string } {
  const entry = loadCatalogue().entitlements.find((e) => e.kind === kind && e.licenseType === 'PERPETUAL');
  return { tag: entry?.tag ?? kind, displayName: entry?.displayName ?? kind };
}

export function kindOfTag(tag: string): LicenceUseKind | undefined {
  const kind = catalogueEntry(tag)?.kind;
  return (LICENCE_KINDS as readonly string[]).includes(kind ?? '') ? (kind as LicenceUseKind) : undefined;
}

/** What a connected device reports: each kind in use under its catalogue tag. */
export function usageReport(state: DeviceState): EntitlementUse[] {
  const c = consumption(readUsage(state).current);
  return LICENCE_KINDS.filter((k) => c[k] > 0).map((k) => ({ tag: connectedTag(k).tag, count: c[k] }));
}

/** Which installed licence a Boot stopped: its tag and end date (a renewed term licence is a new one). */
export const enforcementKey = (e: Entitlement) => `${e.tag}|${e.endDate}`;

/** Whether an installed SLR entitlement grants now: valid dates (an expired term still works until a Boot stops it). */
export function grants(e: Entitlement, state: DeviceState, now: Date): boolean {
  if (readUsage(state).enforced.includes(enforcementKey(e))) return false;
  return entitlementStatus(e, now) !== 'Not Authorized';
}

/** The licences of each kind this node holds itself: an SLR's reserved counts (undefined: no counted licences, as with PLR or connected). */
export function ownLicences(state: DeviceState, now: Date): Record<LicenceUseKind, number> | undefined {
  const installed = readReservation(state).installed;
  if (installed?.type !== 'SLR') return undefined;
  const own: Record<LicenceUseKind, number> = { rms: 0, room: 0, desktop: 0 };
  for (const e of installed.entitlements) {
    const kind = kindOfTag(e.tag);
    if (kind && grants(e, state, now)) own[kind] += e.count;
  }
  return own;
}

/** Traffic kinds whose licence a Boot stopped (their new traffic is refused). */
export function stoppedKinds(state: DeviceState): Set<LicenceUseKind> {
  const installed = readReservation(state).installed;
  const stopped = new Set<LicenceUseKind>();
  if (installed?.type !== 'SLR') return stopped;
  const enforced = readUsage(state).enforced;
  const live = new Set<LicenceUseKind>();
  for (const e of installed.entitlements) {
    const kind = kindOfTag(e.tag);
    if (!kind) continue;
    if (enforced.includes(enforcementKey(e))) stopped.add(kind);
    else if (e.count > 0) live.add(kind);
  }
  for (const k of live) stopped.delete(k);
  return stopped;
}

export const KIND_OF_TRAFFIC: Record<TrafficKind, LicenceUseKind> = { video: 'rms', audio: 'rms', room: 'room', desktop: 'desktop' };

// ---------------------------------------------------------------------------------------
// validation

/** Counts now and peaks are at most what Traffic Set takes; refusals add up without bound. */
function trafficProblem(t: unknown, what: string, max: number): string | undefined {
  if (!isObject(t)) return `usage ${what} is not an object`;
  for (const k of TRAFFIC_KINDS) {
    const v = t[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > max) return `usage ${what}.${k} is invalid`;
  }
  return undefined;
}

export const usageSection: SectionSpec = {
  key: USAGE,
  validate: (raw) => {
    if (raw === undefined) return undefined;
    if (!isObject(raw)) return 'usage is not an object';
    for (const [what, max] of [
      ['current', TRAFFIC_MAX],
      ['peak', TRAFFIC_MAX],
      ['refused', Number.MAX_SAFE_INTEGER],
    ] as const) {
      const p = trafficProblem(raw[what], what, max);
      if (p) return p;
    }
    if (typeof raw.exportReached !== 'boolean') return 'usage exportReached is invalid';
    if (!isObject(raw.reported) || Object.values(raw.reported).some((v) => !Number.isSafeInteger(v))) return 'usage reported is invalid';
    if (typeof raw.nextReport !== 'string' || (raw.nextReport !== '' && Number.isNaN(Date.parse(raw.nextReport)))) return 'usage nextReport is invalid';
    if (!Array.isArray(raw.enforced) || raw.enforced.some((t) => typeof t !== 'string')) return 'usage enforced is invalid';
    return undefined;
  },
  // Traffic is the running system's, not configuration: a reset (a restart) drops it.
  reset: 'never',
  restoreOntoOther: 'fresh',
};
