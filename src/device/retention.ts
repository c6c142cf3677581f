import type { ResetName } from './reset.js';

/**
 * What each factory-reset answer keeps (§8.1), and what a restore onto another system
 * leaves out (§8.4). Each subsystem declares its own state here, beside its defaults:
 * a state section (`state.reservation`) or the configuration under a path prefix
 * (`License Smart`). What nobody declares goes back to factory defaults.
 */

/** A reset category, or 'always' (survives every reset) / 'never' (back to defaults). */
export type Retention = ResetName | 'always' | 'never';

const sectionRetention = new Map<string, Retention>();
/** Which reset answer keeps a state section (`state.reservation`, …). Unlisted sections go back to defaults. */
export function registerResetSection(key: string, retention: Retention): void {
  sectionRetention.set(key, retention);
}
export function sectionRetentionOf(key: string): Retention {
  return sectionRetention.get(key) ?? 'never';
}
/** The state sections an answer keeps (e.g. every 'smart-licensing' section). */
export function sectionsRetainedBy(retention: Retention): string[] {
  return [...sectionRetention].filter(([, r]) => r === retention).map(([k]) => k);
}

const configRetention: Array<[prefix: string, retention: Retention]> = [];
/** Which reset answer keeps the configuration leaves under a path prefix ('IP', 'License Smart'). */
export function registerResetConfig(prefix: string, retention: Retention): void {
  configRetention.push([prefix, retention]);
}
/** The longest registered prefix decides; unlisted leaves go back to defaults. */
export function configRetentionOf(key: string): Retention {
  let best: [string, Retention] | undefined;
  for (const entry of configRetention) {
    const [prefix] = entry;
    if ((key === prefix || key.startsWith(`${prefix} `)) && (!best || prefix.length > best[0].length)) best = entry;
  }
  return best?.[1] ?? 'never';
}
