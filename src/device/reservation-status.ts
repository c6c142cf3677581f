import { catalogueEntry, loadCatalogue, type CatalogueEntry } from '../catalogue.js';
import { parseSlrDate } from '../codes/dates.js';
import type { Entitlement } from '../codes/types.js';
import type { StatusObject } from '../xapi/types.js';
import type { DeviceContext } from './context.js';
import { smartLicensingAvailable } from './licensing.js';
import { readReservation, reservationEnabled, reservationStatus, type InstalledReservation } from './reservation-state.js';

/**
 * The reservation's part of `xStatus License Smart` (§4, §6.2): Registration and
 * Authorization status, ExportControlled, the Reservation subtree and the Entitlement
 * array. Consumption (InUse, "Not Authorized" over the count) is the later wave's (§9).
 */

const DAY_MS = 86_400_000;

export type EntitlementStatus = 'Authorized' | 'Not Authorized' | 'Expired';

/**
 * A term entitlement is valid from the start of its start day to the end of its end day
 * (UTC). Past its end it shows Expired; enforcement waits for a restart (§9, seed).
 */
export function entitlementStatus(e: Entitlement, now: Date): EntitlementStatus {
  if (e.licenseType !== 'TERM') return 'Authorized';
  const start = parseSlrDate(e.startDate);
  const end = parseSlrDate(e.endDate);
  const t = now.getTime();
  if (end && t >= end.getTime() + DAY_MS) return 'Expired';
  if (start && t < start.getTime()) return 'Not Authorized';
  return 'Authorized';
}

function isAdvancedAccountSecurity(e: Entitlement): boolean {
  const entry = catalogueEntry(e.tag);
  if (entry) return entry.kind === 'aas';
  // A tag outside the catalogue (another authority's catalogue, say): go by its name.
  return /\.EXPWY_AAS(_TERM)?,/.test(e.tag) || /advanced account security/i.test(e.displayName);
}

/**
 * PLR: the variant's flag. SLR: export control is linked with Expressway Advanced
 * Account Security; a count of 0 (or none reserved) means it cannot be enabled (seed).
 */
export function exportControlAllowed(installed: InstalledReservation): boolean {
  if (installed.type === 'PLR') return installed.exportControl;
  return installed.entitlements.some((e) => e.count > 0 && isAdvancedAccountSecurity(e));
}

function plrEntry(exportControl: boolean): CatalogueEntry | undefined {
  const kind = exportControl ? 'plr-export' : 'plr';
  return loadCatalogue().entitlements.find((e) => e.kind === kind);
}

/** The entitlements a reservation grants, as `xStatus License Smart Entitlement[n]` shows them. */
export function entitlementItems(installed: InstalledReservation, now: Date): StatusObject[] {
  if (installed.type === 'PLR') {
    const entry = plrEntry(installed.exportControl);
    return [
      {
        id: 1,
        Tag: entry?.tag ?? '',
        DisplayName: entry?.displayName ?? (installed.exportControl ? 'Expressway PLR with Export Control' : 'Expressway PLR without Export Control'),
        Count: 1,
        InUse: 0,
        Status: 'Authorized',
        LicenseType: 'PERPETUAL',
        StartDate: '',
        EndDate: '',
      },
    ];
  }
  return installed.entitlements.map((e, i) => ({
    id: i + 1,
    Tag: e.tag,
    DisplayName: e.displayName,
    Count: e.count,
    InUse: 0,
    Status: entitlementStatus(e, now),
    LicenseType: e.licenseType,
    StartDate: e.startDate,
    EndDate: e.endDate,
  }));
}

export function reservationStatusPart(ctx: DeviceContext, license: StatusObject): void {
  if (!smartLicensingAvailable(ctx.state)) return;
  const smart = license.Smart as StatusObject;
  const section = readReservation(ctx.state);
  const status = reservationStatus(section);
  const { installed, request } = section;
  smart.Reservation = {
    Enabled: reservationEnabled(ctx.state) ? 'On' : 'Off',
    Status: status,
    Type: installed?.type ?? '',
    RequestCode: request?.code ?? '',
    LastConfirmationCode: section.lastConfirmationCode,
    LastReturnCode: section.lastReturnCode,
    InstalledAt: installed?.installedAt ?? '',
  };
  if (request) {
    smart.Registration = { ...(smart.Registration as StatusObject), Status: 'Reservation In Progress' };
    return;
  }
  if (!installed) return;
  smart.Registration = {
    ...(smart.Registration as StatusObject),
    Status: installed.type === 'PLR' ? 'Registered - Permanent License Reservation' : 'Registered - Specific License Reservation',
  };
  smart.Authorization = { ...(smart.Authorization as StatusObject), Status: 'Authorized - Reserved' };
  const evaluation = smart.Evaluation as StatusObject | undefined;
  if (evaluation && evaluation.Status === 'In Use') smart.Evaluation = { ...evaluation, Status: 'Not In Use' };
  smart.ExportControlled = exportControlAllowed(installed) ? 'Allowed' : 'Not Allowed';
  smart.Entitlement = entitlementItems(installed, ctx.now());
}
