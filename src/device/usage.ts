import { isoSeconds } from '../clock.js';
import { intSpace } from '../xapi/schema.js';
import type { StatusObject } from '../xapi/types.js';
import { clearAlarm, isAlarmRaised, raiseAlarm } from './alarms.js';
import { allocate, CLUSTER, clusterSection, readCluster, sumLoans, type ClusterSection } from './cluster-state.js';
import type { DeviceContext } from './context.js';
import { evaluationDaysRemaining, smartLicensingAvailable } from './licensing.js';
import type { Subsystem } from './model.js';
import { holdsRegistration, readRegistration } from './registration-state.js';
import { entitlementStatus, readReservation } from './reservation-state.js';
import type { DeviceState } from './state.js';
import {
  approachingAt,
  connectedTag,
  consumption,
  editUsage,
  enforcementKey,
  exportLimit,
  KIND_OF_TRAFFIC,
  kindOfTag,
  LICENCE_KINDS,
  ownLicences,
  readUsage,
  reallowBelow,
  stoppedKinds,
  total,
  TRAFFIC_KINDS,
  TRAFFIC_MAX,
  usageSection,
  type LicenceUseKind,
  type Traffic,
  type TrafficKind,
} from './usage-state.js';

/**
 * Traffic, consumption, export control, cluster sharing and Boot (§10). Traffic is the
 * simulator's (`xCommand Simulator Traffic Set`); what it consumes shows in
 * `xStatus License Smart Entitlement[n]`, `xStatus ResourceUsage` and `xStatus Cluster`,
 * and what a connected device reports goes with its authorization renewals.
 */

const PARAMS: Record<TrafficKind, string> = { video: 'VideoCalls', audio: 'AudioCalls', room: 'RoomRegistrations', desktop: 'DesktopRegistrations' };
const EXPORT_APPROACHING = 30046;
const EXPORT_REACHED = 30048;
const LICENCE_STOPPED = 30050;

/** Whether the product may take new calls and registrations at all (§9.3: an expired evaluation refuses them until licensed). */
function licensedForTraffic(ctx: DeviceContext): boolean {
  if (!smartLicensingAvailable(ctx.state)) return true;
  if (holdsRegistration(ctx.state) || readReservation(ctx.state).installed) return true;
  return evaluationDaysRemaining(ctx) > 0;
}

/** Where export control should stand: "reached" latches at the limit and lets go only below 99%. */
function exportTarget(state: DeviceState): { reached: boolean; approaching: boolean } {
  const usage = readUsage(state);
  const limit = exportLimit(state);
  const n = total(usage.current);
  return { reached: n >= limit ? true : n < reallowBelow(limit) ? false : usage.exportReached, approaching: n >= approachingAt(limit) };
}

function exportOutOfStep(state: DeviceState): boolean {
  const { reached, approaching } = exportTarget(state);
  return (
    reached !== readUsage(state).exportReached || approaching !== isAlarmRaised(state, EXPORT_APPROACHING) || reached !== isAlarmRaised(state, EXPORT_REACHED)
  );
}

/** Keeps the export-control latch and its alarms in step with the traffic and the limit in force. */
function followExportControl(ctx: DeviceContext): void {
  if (!exportOutOfStep(ctx.state)) return;
  const { reached, approaching } = exportTarget(ctx.state);
  if (reached !== readUsage(ctx.state).exportReached) editUsage(ctx).exportReached = reached;
  const alarms = ctx.edit('alarms');
  if (approaching) raiseAlarm(alarms, EXPORT_APPROACHING, ctx.now());
  else clearAlarm(alarms, EXPORT_APPROACHING);
  if (reached) raiseAlarm(alarms, EXPORT_REACHED, ctx.now());
  else clearAlarm(alarms, EXPORT_REACHED);
}

/** Recomputes the loans of this node's cluster (one transaction over every peer, §10). */
export function shareLicences(ctx: DeviceContext): void {
  const cluster = readCluster(ctx.state);
  if (!cluster || !ctx.peer) return;
  const contexts = new Map<string, DeviceContext>();
  for (const name of cluster.peers) {
    const peer = ctx.peer(name);
    if (peer && readCluster(peer.state)?.name === cluster.name) contexts.set(name, peer);
  }
  const loans = allocate([...contexts.keys()], new Map([...contexts].map(([n, c]) => [n, c.state])), ctx.now());
  for (const [name, peer] of contexts) {
    const mine = loans.get(name) ?? { borrowed: {}, lent: {} };
    const current = readCluster(peer.state);
    if (!current || (JSON.stringify(current.borrowed) === JSON.stringify(mine.borrowed) && JSON.stringify(current.lent) === JSON.stringify(mine.lent)))
      continue;
    const section = peer.edit<ClusterSection>(CLUSTER);
    section.borrowed = mine.borrowed;
    section.lent = mine.lent;
  }
}

/** Applies a traffic change: drops first, then admits new calls and registrations as far as the rules allow. */
export function setTraffic(ctx: DeviceContext, wanted: Partial<Traffic>): { refused: Traffic } {
  const usage = editUsage(ctx);
  const refused: Traffic = { video: 0, audio: 0, room: 0, desktop: 0 };
  for (const k of TRAFFIC_KINDS) {
    const target = wanted[k];
    if (target !== undefined && target < usage.current[k]) usage.current[k] = target;
  }
  followExportControl(ctx);
  const limit = exportLimit(ctx.state);
  const stopped = stoppedKinds(ctx.state);
  const licensed = licensedForTraffic(ctx);
  for (const k of TRAFFIC_KINDS) {
    const target = wanted[k];
    if (target === undefined || target <= usage.current[k]) continue;
    const more = target - usage.current[k];
    const blocked = !licensed || stopped.has(KIND_OF_TRAFFIC[k]) || usage.exportReached;
    const admit = blocked ? 0 : Math.min(more, Math.max(0, limit - total(usage.current)));
    usage.current[k] += admit;
    refused[k] = more - admit;
    usage.refused[k] += refused[k];
    if (total(usage.current) >= limit) usage.exportReached = true;
  }
  for (const k of TRAFFIC_KINDS) usage.peak[k] = Math.max(usage.peak[k], usage.current[k]);
  followExportControl(ctx);
  shareLicences(ctx);
  return { refused };
}

/** `xCommand Boot`: a restart. Uptime from 0, traffic dropped, and a term licence past its end stops now (seed: "hard enforcement"). */
export function boot(ctx: DeviceContext): { stopped: string[] } {
  const now = ctx.now();
  ctx.state.bootedAt = now.toISOString();
  const usage = editUsage(ctx);
  for (const k of TRAFFIC_KINDS) {
    usage.current[k] = 0;
    usage.peak[k] = 0;
    usage.refused[k] = 0;
  }
  usage.exportReached = false;
  const installed = readReservation(ctx.state).installed;
  const stopped: string[] = [];
  // Only the licences installed now can be stopped: what an earlier code had is forgotten.
  const keys = installed?.type === 'SLR' ? installed.entitlements.map(enforcementKey) : [];
  usage.enforced = usage.enforced.filter((k) => keys.includes(k));
  if (installed?.type === 'SLR') {
    for (const e of installed.entitlements) {
      if (entitlementStatus(e, now) === 'Expired' && !usage.enforced.includes(enforcementKey(e))) {
        usage.enforced.push(enforcementKey(e));
        stopped.push(e.displayName);
      }
    }
  }
  const alarms = ctx.edit('alarms');
  if (usage.enforced.length > 0) raiseAlarm(alarms, LICENCE_STOPPED, now);
  else clearAlarm(alarms, LICENCE_STOPPED);
  followExportControl(ctx);
  shareLicences(ctx);
  return { stopped };
}

// ---------------------------------------------------------------------------------------
// status

function resourceUsage(ctx: DeviceContext): StatusObject {
  const usage = readUsage(ctx.state);
  const limit = exportLimit(ctx.state);
  const n = total(usage.current);
  const item = (k: TrafficKind) => ({ Current: usage.current[k], Peak: usage.peak[k], Refused: usage.refused[k] });
  const use = consumption(usage.current);
  return {
    Calls: { Video: item('video'), Audio: item('audio') },
    Registrations: { Room: item('room'), Desktop: item('desktop') },
    Total: n,
    Licenses: { RichMediaSession: use.rms, RoomRegistration: use.room, DesktopRegistration: use.desktop },
    ExportControl: {
      Limit: limit,
      State: usage.exportReached ? 'Reached' : n >= approachingAt(limit) ? 'Approaching' : 'Normal',
      AllowedAgainBelow: Math.ceil(reallowBelow(limit)),
    },
  };
}

function clusterStatus(ctx: DeviceContext): StatusObject {
  const cluster = readCluster(ctx.state);
  if (!cluster) return { Enabled: 'False', Name: '', Role: '' };
  const use = consumption(readUsage(ctx.state).current);
  const own = ownLicences(ctx.state, ctx.now());
  const licences: StatusObject = {};
  const names: Record<LicenceUseKind, string> = { rms: 'RichMediaSession', room: 'RoomRegistration', desktop: 'DesktopRegistration' };
  for (const kind of LICENCE_KINDS) {
    const installed = own?.[kind] ?? 0;
    licences[names[kind]] = {
      Installed: installed,
      InUse: use[kind],
      Borrowed: sumLoans(cluster.borrowed, kind),
      Lent: sumLoans(cluster.lent, kind),
      // Each node reports at most what it has installed (seed).
      Reported: own ? Math.min(use[kind], installed) : use[kind],
    };
  }
  return {
    Enabled: 'True',
    Name: cluster.name,
    Role: cluster.peers[0] === ctx.deviceName ? 'Primary' : 'Peer',
    Peer: cluster.peers.map((name, i) => ({ id: i + 1, Name: name, This: name === ctx.deviceName ? 'True' : 'False' })),
    Licenses: licences,
  };
}

const ITEM_STATUS = { InCompliance: 'Authorized', OutOfCompliance: 'Out of compliance', InvalidTag: 'Invalid Tag' } as const;

/** `License Smart Entitlement[n]`: what is in use, and how it is licensed in each mode (§10). */
function entitlementPart(ctx: DeviceContext, license: StatusObject): void {
  if (!smartLicensingAvailable(ctx.state)) return;
  const smart = license.Smart as StatusObject;
  const use = consumption(readUsage(ctx.state).current);
  const installed = readReservation(ctx.state).installed;
  const now = ctx.now();
  if (installed?.type === 'SLR' && Array.isArray(smart.Entitlement)) {
    const cluster = readCluster(ctx.state);
    const left: Record<LicenceUseKind, number> = { ...use };
    const enforced = readUsage(ctx.state).enforced;
    const items = smart.Entitlement as StatusObject[];
    installed.entitlements.forEach((e, i) => {
      const kind = kindOfTag(e.tag);
      const item = items[i];
      if (!kind || !item) return;
      if (enforced.includes(enforcementKey(e))) {
        item.Status = 'Authorization Expired';
        return;
      }
      if (entitlementStatus(e, now) === 'Not Authorized') return;
      const last = !installed.entitlements.some((x, j) => j > i && kindOfTag(x.tag) === kind && !enforced.includes(enforcementKey(x)));
      const take = last ? left[kind] : Math.min(left[kind], e.count);
      left[kind] -= take;
      item.InUse = take;
      const borrowed = cluster ? sumLoans(cluster.borrowed, kind) : 0;
      if (take > e.count + borrowed) item.Status = 'Not Authorized';
    });
    return;
  }
  if (installed?.type === 'PLR' && Array.isArray(smart.Entitlement)) {
    const first = (smart.Entitlement as StatusObject[])[0];
    if (first) first.InUse = use.rms + use.room + use.desktop;
    return;
  }
  if (installed) return;
  // Connected or evaluation: each licence type in use (types not in use are not shown).
  const registration = readRegistration(ctx.state);
  const usage = readUsage(ctx.state);
  const registered = registration.phase === 'registered' || registration.phase === 'expired';
  const authExpired =
    registration.phase === 'expired' ||
    registration.authorization.phase === 'expired' ||
    (registration.authorization.expires !== '' && Date.parse(registration.authorization.expires) <= now.getTime());
  const evaluation = evaluationDaysRemaining(ctx) > 0 ? 'Evaluation Mode' : 'Evaluation Expired';
  const items = LICENCE_KINDS.filter((k) => use[k] > 0).map((kind, i) => {
    const { tag, displayName } = connectedTag(kind);
    const reported = usage.reported[tag] ?? 0;
    const verdict = registration.authorization.entitlements.find((e) => e.tag === tag)?.verdict;
    const status = !registered ? evaluation : authExpired ? 'Authorization Expired' : reported !== use[kind] || !verdict ? 'Waiting' : ITEM_STATUS[verdict];
    return {
      id: i + 1,
      Tag: tag,
      DisplayName: displayName,
      Count: registered ? reported : 0,
      InUse: use[kind],
      Status: status,
      LicenseType: 'PERPETUAL',
      StartDate: '',
      EndDate: '',
    };
  });
  if (items.length > 0) smart.Entitlement = items;
}

// ---------------------------------------------------------------------------------------
// the subsystem

function trafficParam(kind: TrafficKind) {
  return {
    name: PARAMS[kind],
    space: intSpace(0, TRAFFIC_MAX),
    help: `How many ${PARAMS[kind].replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} there are now (omitted: unchanged).`,
  };
}

export const usage: Subsystem = {
  name: 'usage',
  sections: [usageSection, clusterSection],
  statusParts: [{ node: 'License', build: entitlementPart }],
  catchUp: { due: (state) => exportOutOfStep(state), run: followExportControl },
  status: [
    {
      name: 'ResourceUsage',
      help: 'Calls and registrations now, their peaks and refusals since the last Boot, the licences they use and the export-control limit in force.',
      build: resourceUsage,
    },
    { name: 'Cluster', help: "This node's cluster: name, peers, its role, and the licences it holds, uses, borrows, lends and reports.", build: clusterStatus },
  ],
  commands: [
    {
      path: ['Simulator', 'Traffic', 'Set'],
      help: 'Sets how many calls and registrations are up now (omitted: unchanged). New ones beyond the export-control limit, or without a licence that works, are refused and counted.',
      simulator: true,
      mutates: true,
      peers: true,
      params: TRAFFIC_KINDS.map(trafficParam),
      handler: (ctx, p) => {
        const wanted: Partial<Traffic> = {};
        for (const k of TRAFFIC_KINDS) if (p[PARAMS[k]] !== undefined) wanted[k] = Number(p[PARAMS[k]]);
        const { refused } = setTraffic(ctx, wanted);
        const now = readUsage(ctx.state).current;
        return {
          fields: {
            VideoCalls: now.video,
            AudioCalls: now.audio,
            RoomRegistrations: now.room,
            DesktopRegistrations: now.desktop,
            Refused: total(refused),
          },
        };
      },
    },
    {
      path: ['Boot'],
      help: 'Restarts the system: uptime starts again from 0, calls and registrations drop, and a term licence past its end date stops (its alarm is raised).',
      mutates: true,
      peers: true,
      params: [],
      handler: (ctx) => {
        const { stopped } = boot(ctx);
        return { fields: { BootedAt: isoSeconds(ctx.now()), ...(stopped.length ? { Stopped: stopped.join(', ') } : {}) } };
      },
    },
  ],
};

/** Cluster commands refuse a peer that no licence covers (§9.3: an evaluation allows no cluster change). */
export function clusterRefusal(state: DeviceState, name: string): string | undefined {
  if (state.brand !== 'Expressway') return `${name} is a Cisco VCS: only Expressways share licences in a cluster.`;
  if (!holdsRegistration(state) && !readReservation(state).installed) {
    return `${name} is in evaluation (neither registered nor reserved): register it or install a reservation before clustering it.`;
  }
  return undefined;
}
