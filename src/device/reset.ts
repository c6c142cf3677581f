import { isoSeconds } from '../clock.js';
import { usageError } from '../errors.js';
import { didYouMean } from '../suggest.js';
import type { StatusObject } from '../xapi/types.js';
import { ALARMS, clearAlarm, raiseAlarm, type AlarmId } from './alarms.js';
import type { DeviceContext } from './context.js';
import type { DeviceModel, Subsystem } from './model.js';
import { RESET_ITEMS, RESET_NAMES, type ResetItem, type ResetName, type Retention } from './reset-items.js';
import { isObject, type Brand, type DeviceState, type ProductType } from './state.js';
import { OPTION_KEYS_SECTION } from './optionkeys.js';
import { DNS_DOMAIN_KEY, productName } from './systemunit.js';

/**
 * The root shell's `factory-reset` (§8.1): which answers keep what, and the reset itself
 * as one state change. The questions are in reset-items.ts; asking them (the flow shared
 * by `exsh factory-reset` and the shell verb) is in reset-flow.ts.
 */

export { RESET_ITEMS, RESET_NAMES, type ResetItem, type ResetName } from './reset-items.js';

// ---------------------------------------------------------------------------
// The questions

export const FINAL_QUESTION = 'Are you sure you want to continue';
export const BANNER = [
  '*****',
  'Warning! This operation resets the unit to factory default settings!',
  '*****',
  '',
  'To cancel operation before final confirmation press Ctrl+C',
];

/** A question as the device prints it, before the answer. */
export function promptText(question: string): string {
  return `${question} [YES/NO]?`;
}

/** The device accepts YES/NO in any case; y/n as a courtesy. */
export function parseYesNo(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'yes' || t === 'y') return true;
  if (t === 'no' || t === 'n') return false;
  return undefined;
}

// ---------------------------------------------------------------------------
// Planning: flags and lists → which questions to ask

export interface ResetRequest {
  /** -v: ask only about brand and type (plus -t's question if given); Expressway only. */
  brandType?: boolean;
  /** -t: ask only about smart licensing settings (plus -v's); Expressway only. */
  smartLicensing?: boolean;
  /** -o: keep option keys. Removed from Expressway in X14.2 (refused there); a Cisco VCS still has it. */
  optionKeys?: boolean;
  /** --yes: answers the final confirmation. */
  yes?: boolean;
  /** --keep / --discard, each a comma-separated list, possibly repeated. */
  keep?: readonly string[];
  discard?: readonly string[];
}

export interface ResetStep {
  item: ResetItem;
  /** Given by --keep/--discard (or implied); undefined → asked. */
  answer?: boolean;
  /**
   * Not asked about: with -v/-t only the flagged questions (and those named in a list)
   * are asked, and every other category is kept (§8.1). Implied answers are YES and are
   * neither asked nor printed.
   */
  implied?: true;
}

export interface ResetPlan {
  brand: Brand;
  /** Every question that applies to the brand, in the seed's order, each asked, answered by a list, or implied. */
  steps: ResetStep[];
  confirmed: boolean;
  /** -o on a Cisco VCS: its option keys survive the reset. */
  keepOptionKeys: boolean;
}

export const OPTION_KEYS_FLAG_REMOVED =
  'The -o flag (keep option keys) was removed from the Expressway factory-reset in X14.2: option keys, Microsoft Interoperability included, are never kept.';

function parseNames(lists: readonly string[] | undefined, option: string): Set<ResetName | 'all'> {
  const out = new Set<ResetName | 'all'>();
  for (const list of lists ?? []) {
    const words = list.split(',').map((w) => w.trim().toLowerCase());
    for (const w of words) {
      if (w === '') throw usageError('reset.badList', `${option} takes a comma-separated list of names: ${RESET_NAMES.join(', ')} or all.`);
      if (w !== 'all' && !(RESET_NAMES as readonly string[]).includes(w)) {
        throw usageError(
          'reset.unknownName',
          `Unknown name '${w}' in ${option}: use ${RESET_NAMES.join(', ')} or all.${didYouMean(w, [...RESET_NAMES, 'all'])}`,
        );
      }
      out.add(w as ResetName | 'all');
    }
  }
  return out;
}

/** The questions X14.2 added, asked on an Expressway only: a Cisco VCS's reset is unchanged from earlier releases. */
const EXPRESSWAY_ONLY: readonly ResetName[] = ['brand-type', 'smart-licensing'];

/** Items that apply to a brand: a Cisco VCS is asked neither -v's nor -t's question. */
export function applicableItems(brand: Brand): ResetItem[] {
  return RESET_ITEMS.filter((i) => brand === 'Expressway' || !EXPRESSWAY_ONLY.includes(i.name));
}

export function planReset(brand: Brand, req: ResetRequest): ResetPlan {
  if (req.optionKeys && brand === 'Expressway') throw usageError('reset.optionKeysFlagRemoved', OPTION_KEYS_FLAG_REMOVED);
  if (req.brandType && brand === 'VCS') {
    throw usageError(
      'reset.noBrandTypeOnVcs',
      'The -v flag (keep brand and type of the device) is for Expressway: a Cisco VCS stays a Cisco VCS, and its factory reset is unchanged.',
    );
  }
  if (req.smartLicensing && brand === 'VCS') {
    throw usageError(
      'reset.noSmartLicensingOnVcs',
      'The -t flag (keep smart licensing settings) is for Expressway: Cisco VCS has no Smart Licensing, and its factory reset is unchanged.',
    );
  }
  const keep = parseNames(req.keep, '--keep');
  const discard = parseNames(req.discard, '--discard');
  if (keep.has('all') && discard.has('all')) throw usageError('reset.conflictingAnswers', 'all is in both --keep and --discard.');
  const both = RESET_NAMES.filter((n) => keep.has(n) && discard.has(n));
  if (both.length > 0) throw usageError('reset.conflictingAnswers', `${both.join(', ')} ${both.length === 1 ? 'is' : 'are'} in both --keep and --discard.`);
  // A name wins over 'all' on the other side: --keep all --discard ip keeps everything but IP.
  const given = (n: ResetName): boolean | undefined =>
    keep.has(n) ? true : discard.has(n) ? false : keep.has('all') ? true : discard.has('all') ? false : undefined;
  const named = (n: ResetName): boolean => keep.has(n) || discard.has(n);
  const flagged = req.brandType === true || req.smartLicensing === true;
  // With -v/-t, only the flagged questions and those named in a list are in scope ('all'
  // answers the questions in scope, it brings none in); every other category is kept.
  const inScope = (n: ResetName): boolean =>
    !flagged || (n === 'brand-type' && req.brandType === true) || (n === 'smart-licensing' && req.smartLicensing === true) || named(n);
  const steps = applicableItems(brand).map(
    (item): ResetStep => (inScope(item.name) ? { item, answer: given(item.name) } : { item, answer: true, implied: true }),
  );
  return { brand, steps, confirmed: req.yes === true, keepOptionKeys: brand === 'VCS' && req.optionKeys === true };
}

/** What still has to be asked: the unanswered questions, then the final confirmation. */
export function missingAnswers(plan: ResetPlan): string[] {
  const out: string[] = plan.steps.filter((s) => s.answer === undefined).map((s) => s.item.question);
  if (!plan.confirmed) out.push(FINAL_QUESTION);
  return out;
}

export function missingAnswersError(plan: ResetPlan, why: string) {
  const parts = plan.steps.filter((s) => s.answer === undefined).map((s) => `${s.item.name} ("${s.item.question}")`);
  if (!plan.confirmed) parts.push(`the final confirmation ("${FINAL_QUESTION}")`);
  return usageError(
    'reset.missingAnswer',
    `factory-reset cannot ask ${why}; missing ${parts.length === 1 ? 'answer' : 'answers'}: ${parts.join(', ')}. Give them with --keep/--discard <names> and --yes.`,
  );
}

// ---------------------------------------------------------------------------
// The reset

export type ResetAnswers = Partial<Record<ResetName, boolean>>;

export interface LastReset {
  at: string;
  count: number;
  /** true kept, false returned to defaults, null not applicable (smart licensing on a VCS). */
  answers: Record<ResetName, boolean | null>;
}

export interface SmartLicensingOffline {
  since: string;
}

export interface ResetOutcome {
  kept: ResetName[];
  /** -o on a Cisco VCS kept the option keys. */
  optionKeysKept: boolean;
  product: string;
  brandChanged: boolean;
  offline: boolean;
  /** YES to smart licensing, but the system did not stay an Expressway. */
  smartLicensingLost: boolean;
}

const OFFLINE_ALARMS: readonly AlarmId[] = [30042, 30044];

export function isSmartLicensingOffline(state: DeviceState): boolean {
  return state.smartLicensingOffline !== undefined;
}

/**
 * The seed: after a reset that kept smart licensing, the device is offline until the
 * DNS domain is configured, with alarms 30042 and 30044 up; they clear once it is.
 */
function settles(state: DeviceState): boolean {
  const domain = state.config[DNS_DOMAIN_KEY];
  return isSmartLicensingOffline(state) && typeof domain === 'string' && domain !== '';
}

export function settleOffline(ctx: DeviceContext): void {
  if (!settles(ctx.state)) return;
  const alarms = ctx.edit('alarms');
  for (const id of OFFLINE_ALARMS) clearAlarm(alarms, id);
  delete ctx.state.smartLicensingOffline;
}

/** What a reset keeps beyond the nine answers. */
export interface ResetOptions {
  /** -o on a Cisco VCS: its option keys survive (ignored on an Expressway, where -o was removed). */
  keepOptionKeys?: boolean;
}

/**
 * Factory reset as one state change. `answers` are the answers to the questions that
 * apply (the plan's, implied ones included); a missing answer means "no". Identity, the
 * simulated clock and the device's birth survive; everything not kept returns to its
 * factory default. A Cisco VCS is asked neither about brand and type nor about smart
 * licensing: it comes back a Cisco VCS of the default type.
 */
export function applyFactoryReset(ctx: DeviceContext, model: DeviceModel, answers: ResetAnswers, opts: ResetOptions = {}): ResetOutcome {
  const old = { ...ctx.state };
  const oldBrand = old.brand;
  const now = ctx.now();
  const applicable = new Set(applicableItems(old.brand).map((i) => i.name));
  const wants = (n: ResetName) => applicable.has(n) && answers[n] === true;
  const brand: Brand = wants('brand-type') ? old.brand : 'VCS';
  const type: ProductType = wants('brand-type') ? old.type : 'ExpresswayC';
  // Smart licensing settings only mean something on a system that is still an Expressway.
  const smartKept = brand === 'Expressway' && old.brand === 'Expressway' && wants('smart-licensing');
  const optionKeysKept = old.brand === 'VCS' && opts.keepOptionKeys === true;
  const keeps = (r: Retention): boolean => r === 'always' || (r !== 'never' && (r === 'smart-licensing' ? smartKept : wants(r)));

  const next = model.newState(ctx.rng, now, brand, type);
  next.identity = old.identity;
  next.createdAt = old.createdAt;
  next.software = old.software;
  next.clock = old.clock;
  next.generation = old.generation;

  for (const [key, value] of Object.entries(old.config)) {
    if (keeps(model.configRetention(key))) next.config[key] = value;
  }
  for (const key of model.sections.keys()) {
    if (!keeps(model.sectionRetention(key)) && !(optionKeysKept && key === OPTION_KEYS_SECTION)) continue;
    if (old[key] === undefined) delete next[key];
    else next[key] = old[key];
  }

  const kept = (n: ResetName): boolean => (n === 'smart-licensing' ? smartKept : wants(n));
  const previous = old.lastReset as LastReset | undefined;
  const record: LastReset = {
    at: now.toISOString(),
    count: (previous?.count ?? 0) + 1,
    answers: Object.fromEntries(RESET_NAMES.map((n) => [n, applicable.has(n) ? kept(n) : null])) as Record<ResetName, boolean | null>,
  };
  next.lastReset = record;

  if (smartKept) {
    next.smartLicensingOffline = { since: now.toISOString() } satisfies SmartLicensingOffline;
    for (const id of OFFLINE_ALARMS) raiseAlarm(next.alarms, id, now);
  }

  ctx.replace(next);
  settleOffline(ctx);

  return {
    kept: RESET_NAMES.filter((n) => applicable.has(n) && kept(n)),
    optionKeysKept,
    product: productName(ctx.state),
    brandChanged: oldBrand !== brand,
    offline: isSmartLicensingOffline(ctx.state),
    smartLicensingLost: wants('smart-licensing') && !smartKept,
  };
}

/** The closing lines: what was kept, what the system is now, and whether it is offline. */
export function outcomeLines(o: ResetOutcome): string[] {
  const labels: string[] = o.kept.map((n) => RESET_ITEMS.find((i) => i.name === n)?.label ?? n);
  if (o.optionKeysKept) labels.push('option keys');
  const lines = [
    labels.length === 0
      ? 'Factory reset done: everything was returned to factory default settings.'
      : `Factory reset done: kept ${labels.join(', ')}; everything else was returned to factory default settings.`,
    `The system restarted as ${o.product}.`,
  ];
  if (o.smartLicensingLost) {
    lines.push('Smart licensing settings were not kept: brand and type were not kept, so the system is no longer an Expressway.');
  }
  if (o.offline) {
    const ids = OFFLINE_ALARMS.map(String).join(' and ');
    lines.push(`Smart Licensing is offline until the DNS domain is configured (alarms ${ids}: ${OFFLINE_ALARMS.map((id) => ALARMS[id].title).join('; ')}).`);
  }
  return lines;
}

// ---------------------------------------------------------------------------
// State validation and status

function isTime(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

function validateLastReset(r: unknown): string | undefined {
  if (r === undefined) return undefined;
  if (!isObject(r) || !isTime(r.at) || typeof r.count !== 'number' || !isObject(r.answers)) return 'lastReset is invalid';
  if (!Number.isSafeInteger(r.count) || r.count < 1) return 'lastReset.count is invalid';
  for (const [k, v] of Object.entries(r.answers)) {
    if (!(RESET_NAMES as readonly string[]).includes(k) || (v !== null && typeof v !== 'boolean')) return 'lastReset.answers is invalid';
  }
  return undefined;
}

function validateOffline(o: unknown): string | undefined {
  return o === undefined || (isObject(o) && isTime(o.since)) ? undefined : 'smartLicensingOffline is invalid';
}

function statusOf(state: DeviceState): StatusObject {
  const r = state.lastReset as LastReset | undefined;
  if (!r) return { Count: 0 };
  const out: StatusObject = { Count: r.count, Time: isoSeconds(r.at) };
  for (const item of RESET_ITEMS) {
    const v = r.answers[item.name];
    out[item.status] = v === null ? 'Not applicable' : item.name === 'logs' ? (v ? 'Saved' : 'Deleted') : v ? 'Kept' : 'Reset';
  }
  out.SmartLicensingOffline = isSmartLicensingOffline(state) ? 'True' : 'False';
  return out;
}

export const factoryReset: Subsystem = {
  name: 'factoryReset',
  sections: [
    // The reset writes its own record; a restore does not roll back this hardware's history.
    { key: 'lastReset', validate: validateLastReset, reset: 'always' },
    // Set by a reset that kept smart licensing; another system has not been reset that way.
    { key: 'smartLicensingOffline', validate: validateOffline, reset: 'never', restoreOntoOther: 'fresh' },
  ],
  catchUp: { due: settles, run: settleOffline },
  restore: (r) => {
    if (r.sameSystem) return;
    r.next.alarms = r.next.alarms.filter((a) => !OFFLINE_ALARMS.includes(a.id as AlarmId));
  },
  status: [
    {
      name: 'FactoryReset',
      help: 'The last factory reset: when, and what each answer kept (exsh records answers that have no other state here).',
      build: (ctx) => statusOf(ctx.state),
    },
  ],
};
