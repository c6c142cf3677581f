/**
 * Time as exsh prints and reads it: ISO 8601 in UTC, whole seconds (the device's
 * `Time: "2026-03-01T10:15:00Z"`), and the ISO forms `--now` and
 * `Simulator Clock Set` accept.
 */

export function isoSeconds(t: Date | string | number): string {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** The instant an ISO 8601 date or time names, or undefined when it is not one. */
export function parseIsoTime(text: string): Date | undefined {
  const t = ISO_TIME.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** The end of the simulated clock: the last second of year 9999 (ISO 8601's four-digit years). */
export const CLOCK_END = Date.UTC(9999, 11, 31, 23, 59, 59);
