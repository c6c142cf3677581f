import { catalogueEntry, loadCatalogue, type CatalogueEntry } from '../catalogue.js';
import type { Entitlement } from '../codes/types.js';
import type { StatusObject } from '../xapi/types.js';
import type { DeviceContext } from './context.js';
import { smartLicensingAvailable } from './licensing.js';
import { entitlementStatus, readReservation, reservationEnabled, reservationStatus, type InstalledReservation } from './reservation-state.js';

/**
 * The reservation's part of `xStatus License Smart` (§4, §6.2): Registration and
 * Authorization status, ExportControlled, the Reservation subtree and the Entitlement
 * array. Consumption (InUse, "Not Authorized" over the count) is the later wave's (§9).
 */

export { entitlementStatus, type EntitlementStatus } from './reservation-state.js';

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
  smart.ExportControlled = exportControlAllowed(installed) ? 'Allowed' : 'Not Allowed';
  smart.Entitlement = entitlementItems(installed, ctx.now());
}
