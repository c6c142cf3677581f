import { loadCatalogue, type CatalogueEntry } from '../catalogue.js';

export interface StockLine {
  tag: string;
  quantity: number;
  /** Epoch ms of UTC midnight; null for perpetual lines. */
  startDate: number | null;
  endDate: number | null;
}

/**
 * The inventory a new smart account starts with (docs/cssm.md lists it). Term lines
 * start on the day the database is created and run for whole years, so a fresh
 * database is never already expired whatever the clock says.
 */
const STOCK: ReadonlyArray<{ name: string; quantity: number; years?: number }> = [
  { name: 'Expressway Rich Media Session', quantity: 100 },
  { name: 'Expressway Rich Media Session (Term)', quantity: 40, years: 3 },
  { name: 'Expressway Rich Media Session (Term)', quantity: 20, years: 1 },
  { name: 'Expressway Room Registration', quantity: 50 },
  { name: 'Expressway Room Registration (Term)', quantity: 20, years: 3 },
  { name: 'Expressway Desktop Registration', quantity: 50 },
  { name: 'Expressway Desktop Registration (Term)', quantity: 20, years: 3 },
  { name: 'Expressway PLR without Export Control', quantity: 10 },
  { name: 'Expressway PLR with Export Control', quantity: 10 },
  { name: 'Expressway Advanced Account Security', quantity: 10 },
  { name: 'Expressway Advanced Account Security (Term)', quantity: 5, years: 1 },
  { name: 'UC Manager Enhanced License (12.x)', quantity: 25 },
  { name: 'UC Manager Enhanced Plus License (12.x)', quantity: 25 },
  { name: 'UC Manager Enhanced License (14.x)', quantity: 25 },
  { name: 'UC Manager Enhanced Plus License (14.x)', quantity: 25 },
  { name: 'UC Manager Enhanced License (12.x) (Term)', quantity: 10, years: 1 },
  { name: 'UC Manager Enhanced Plus License (12.x) (Term)', quantity: 10, years: 1 },
  { name: 'UC Manager Enhanced License (14.x) (Term)', quantity: 10, years: 3 },
  { name: 'UC Manager Enhanced Plus License (14.x) (Term)', quantity: 10, years: 3 },
];

export function stockInventory(now: Date): StockLine[] {
  const byName = new Map<string, CatalogueEntry>(loadCatalogue().entitlements.map((e) => [e.displayName, e]));
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return STOCK.map(({ name, quantity, years }) => {
    const entry = byName.get(name);
    if (!entry) throw new Error(`stock names ${name}, which the catalogue lacks`);
    if ((entry.licenseType === 'TERM') !== (years !== undefined)) {
      throw new Error(`stock line for ${name} does not match its licence type`);
    }
    return {
      tag: entry.tag,
      quantity,
      startDate: years === undefined ? null : start,
      endDate: years === undefined ? null : Date.UTC(now.getUTCFullYear() + years, now.getUTCMonth(), now.getUTCDate()),
    };
  });
}
