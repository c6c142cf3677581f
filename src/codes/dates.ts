const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An SLR entitlement date as CSSM prints it: `2022-Aug-08 UTC`. */
export function formatSlrDate(d: Date): string {
  const day = String(d.getUTCDate()).padStart(2, '0');
  return `${d.getUTCFullYear()}-${MONTHS[d.getUTCMonth()]}-${day} UTC`;
}

const SLR_DATE = /^(\d{4})-([A-Z][a-z]{2})-(\d{2}) UTC$/;

/** Midnight UTC of an SLR date, or null when `s` is not one (including impossible days). */
export function parseSlrDate(s: string): Date | null {
  const m = SLR_DATE.exec(s);
  if (!m) return null;
  const month = MONTHS.indexOf(m[2] ?? '');
  if (month < 0) return null;
  const d = new Date(Date.UTC(Number(m[1]), month, Number(m[3])));
  return formatSlrDate(d) === s ? d : null;
}
