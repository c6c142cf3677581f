import { readFileSync } from 'node:fs';
import { StoreError, ExshError } from './errors.js';
import { packageFile } from './paths.js';

/** What a licence is for; the device maps consumption and PLR variants by kind, not by name. */
export type LicenceKind = 'rms' | 'room' | 'desktop' | 'plr' | 'plr-export' | 'aas' | 'ucm-enhanced' | 'ucm-enhanced-plus';

export type LicenceType = 'PERPETUAL' | 'TERM';

export interface CatalogueEntry {
  /** ISO 19770-2 tag, `regid.<YYYY-MM>.com.cisco.<NAME>,<ver>_<uuid>`. */
  tag: string;
  displayName: string;
  description: string;
  kind: LicenceKind;
  licenseType: LicenceType;
  /** Major version for licences sold per release (UC Manager 12.x / 14.x). */
  version?: string;
}

export interface Catalogue {
  version: number;
  productType: string;
  entitlements: CatalogueEntry[];
}

const KINDS: ReadonlySet<string> = new Set<LicenceKind>(['rms', 'room', 'desktop', 'plr', 'plr-export', 'aas', 'ucm-enhanced', 'ucm-enhanced-plus']);
const TAG = /^regid\.\d{4}-\d{2}\.com\.cisco\.[A-Z0-9_]+,\d+\.\d+_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let cached: Catalogue | undefined;

/** The fixed licence catalogue of §6.6 (fixtures/catalogue.json), validated once per process. */
export function loadCatalogue(): Catalogue {
  if (cached) return cached;
  const raw: unknown = JSON.parse(readFileSync(packageFile('fixtures/catalogue.json'), 'utf8'));
  cached = validate(raw);
  return cached;
}

function validate(raw: unknown): Catalogue {
  const bad = (why: string): StoreError => new StoreError('cssm.catalogueInvalid', `The licence catalogue fixtures/catalogue.json is invalid: ${why}.`);
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.version !== 'number' || typeof r.productType !== 'string' || !Array.isArray(r.entitlements)) {
    throw bad('missing version, productType or entitlements');
  }
  const seenTags = new Set<string>();
  const seenNames = new Set<string>();
  const entitlements = r.entitlements.map((e: unknown, i: number): CatalogueEntry => {
    if (typeof e !== 'object' || e === null) throw bad(`entry ${i} is not an object`);
    const x = e as Record<string, unknown>;
    const { tag, displayName, description, kind, licenseType, version } = x;
    if (typeof tag !== 'string' || !TAG.test(tag)) throw bad(`entry ${i} has a malformed tag`);
    if (typeof displayName !== 'string' || displayName === '') throw bad(`entry ${i} has no display name`);
    if (typeof description !== 'string') throw bad(`entry ${i} has no description`);
    if (typeof kind !== 'string' || !KINDS.has(kind)) throw bad(`entry ${i} has an unknown kind`);
    if (licenseType !== 'PERPETUAL' && licenseType !== 'TERM') throw bad(`entry ${i} has an unknown licenseType`);
    if (version !== undefined && typeof version !== 'string') throw bad(`entry ${i} has a non-string version`);
    if (seenTags.has(tag)) throw bad(`tag ${tag} appears twice`);
    if (seenNames.has(displayName.toLowerCase())) throw bad(`display name ${displayName} appears twice`);
    seenTags.add(tag);
    seenNames.add(displayName.toLowerCase());
    return { tag, displayName, description, kind: kind as LicenceKind, licenseType, ...(version ? { version } : {}) };
  });
  return { version: r.version, productType: r.productType, entitlements };
}

export function catalogueEntry(tag: string): CatalogueEntry | undefined {
  return loadCatalogue().entitlements.find((e) => e.tag === tag);
}

/**
 * §7: a licence is named by its exact tag, or case-insensitively by its display name
 * or a unique prefix of it. An exact display name wins over a longer name it prefixes
 * ("Expressway Rich Media Session" is not ambiguous with its "(Term)" variant).
 */
export function resolveLicence(name: string): CatalogueEntry {
  const entries = loadCatalogue().entitlements;
  const byTag = entries.find((e) => e.tag === name);
  if (byTag) return byTag;
  const wanted = name.trim().toLowerCase();
  if (wanted === '') throw new ExshError('cssm.unknownLicence', 'A licence name is empty; give a tag or a display name.');
  const exact = entries.find((e) => e.displayName.toLowerCase() === wanted);
  if (exact) return exact;
  const prefixed = entries.filter((e) => e.displayName.toLowerCase().startsWith(wanted));
  const [only, ...more] = prefixed;
  if (only && more.length === 0) return only;
  if (prefixed.length > 1) {
    throw new ExshError(
      'cssm.ambiguousLicence',
      `The licence name "${name}" is ambiguous; it could be ${prefixed.map((e) => `"${e.displayName}"`).join(', ')}.`,
    );
  }
  throw new ExshError('cssm.unknownLicence', `No licence in the catalogue is named "${name}".`);
}
