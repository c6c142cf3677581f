import { isoSeconds } from '../clock.js';
import { ExshError } from '../errors.js';
import {
  AUTH_RENEW_INTERVAL_MS,
  ID_RENEW_INTERVAL_MS,
  OUT_OF_COMPLIANCE_RETRY_MS,
  RETRY_MS,
  USAGE_REPORT_MS,
  type AuthorizationGrant,
  type MessageKind,
  type RegisterReply,
  type RenewAuthReply,
  type RenewIdReply,
} from '../protocol/messages.js';
import { enumSpace, stringSpace } from '../xapi/schema.js';
import type { CommandOutcome } from '../xapi/types.js';
import type { StatusObject } from '../xapi/types.js';
import { clearAlarm, raiseAlarm } from './alarms.js';
import type { DeviceContext } from './context.js';
import { evaluationDaysRemaining, smartLicensingAvailable } from './licensing.js';
import type { RemoteIo, Subsystem } from './model.js';
import type { Attempt, RemoteEnv, Result } from './registration-client.js';
import {
  editRegistration,
  grantedAuthorization,
  holdsRegistration,
  networkSection,
  readRegistration,
  registrationSection,
  unregistered,
  type RegistrationSection,
} from './registration-state.js';
import { reservationEnabled } from './reservation-state.js';
import { isSmartLicensingOffline } from './reset.js';
import type { DeviceState } from './state.js';
import { editUsage, readUsage, usageReport } from './usage-state.js';

/**
 * Connected mode on the device (§9.2–§9.4): `xCommand License Smart Register`,
 * `Deregister`, `Renew Auth` and `Renew ID`, the renewal timers replayed by the remote
 * catch-up, the network switch, and the registration's part of `xStatus License Smart`.
 * Each talk with the CSSM is planned on a read, carried with no lock held, and settled
 * in a short change that re-checks the registration's revision (§12).
 */

const client = () => import('./registration-client.js');

// The device's own sentences (docs/connected.md): scripts match on them.
export const PENDING_PREFIX = 'The last attempt to renew smart software licensing registration is in progress because of the following reason: ';
export const TOKEN_INVALID = 'Product registration failed because the token is invalid or expired';
const AUTH_FAILED_PREFIX = 'The last attempt to renew the license authorization failed because of the following reason: ';
export const OFFLINE_DEREGISTER_WARNING =
  'The product was deregistered here, but the CSSM could not be reached: remove the product instance from the CSSM by hand to release its licences.';

export const REGISTRATION_STATUS = {
  unregistered: 'Unregistered',
  pending: 'Unregistered : Registration Pending',
  failed: 'Unregistered : Registration Failed',
  registered: 'Registered',
  expired: 'Unregistered : Registration Expired',
} as const;

const AUTHORIZATION_STATUS = {
  authorized: 'Authorized',
  outOfCompliance: 'Out-of-compliance',
  expired: 'Authorization Expired',
} as const;

const iso = (ms: number) => new Date(ms).toISOString();
const shown = (t: string) => (t === '' ? '' : isoSeconds(t));

// ---------------------------------------------------------------------------------------
// what is due (§9.3)

type DueKind = 'register' | 'renewId' | 'renewAuth' | 'usage';

/** Whether what is in use differs from what the CSSM was last told. */
function usageChanged(state: DeviceState): boolean {
  const reported = readUsage(state).reported;
  const now = usageReport(state);
  return now.length !== Object.keys(reported).length || now.some((e) => reported[e.tag] !== e.count);
}

/**
 * The earliest scheduled attempt due by `now`, or undefined. Usage goes with every
 * authorization renewal, and at the 6-hour mark when it changed since the last report.
 */
export function dueAttempt(state: DeviceState, now: Date): { kind: DueKind; at: Date } | undefined {
  const section = readRegistration(state);
  const t = now.getTime();
  if (section.phase === 'pending') {
    const at = Date.parse(section.nextRenewalAttempt);
    return at <= t ? { kind: 'register', at: new Date(at) } : undefined;
  }
  if (section.phase !== 'registered') return undefined;
  const expires = Date.parse(section.registrationExpires);
  const candidates: { kind: DueKind; at: number }[] = [
    { kind: 'renewId', at: Date.parse(section.nextRenewalAttempt) },
    { kind: 'renewAuth', at: Date.parse(section.authorization.nextAttempt) },
  ];
  const nextReport = Date.parse(readUsage(state).nextReport);
  if (!Number.isNaN(nextReport) && nextReport <= t && usageChanged(state)) candidates.push({ kind: 'usage', at: nextReport });
  const due = candidates.filter((c) => !Number.isNaN(c.at) && c.at <= t && c.at < expires).sort((a, b) => a.at - b.at)[0];
  return due ? { kind: due.kind, at: new Date(due.at) } : undefined;
}

/** The next retry slot after a failure at `at`: 15 minutes on, or the last slot up to `until` when it is known the network stays down. */
function retryAfter(at: number, until: number | undefined, limit: number): number {
  let next = at + RETRY_MS;
  if (until !== undefined && until > next) {
    const skipped = Math.floor((until - next) / RETRY_MS);
    next += skipped * RETRY_MS;
    // Attempts stop at an expiry: the last one is the last slot before it.
    while (next >= limit && next - RETRY_MS > at) next -= RETRY_MS;
    if (next <= until) next += RETRY_MS;
  }
  return next;
}

/** The last attempt made before `next` (the retries skipped over count as made, each failing alike). */
function lastSlot(at: number, next: string): string {
  return iso(Math.max(at, Date.parse(next) - RETRY_MS));
}

// ---------------------------------------------------------------------------------------
// settling a result (in a change, re-checking the revision)

function failureText(result: Extract<Result, { ok: false }>): string {
  return result.refused ? result.message : result.reason;
}

function setAlarms(ctx: DeviceContext, section: RegistrationSection): void {
  // After a reset that kept smart licensing, 30042/30044 belong to the offline state (reset.ts).
  if (isSmartLicensingOffline(ctx.state)) return;
  const alarms = ctx.edit('alarms');
  const now = ctx.now();
  const registrationTrouble = section.phase === 'expired' || (section.phase === 'registered' && section.failureReason !== '');
  const authorizationTrouble = holdsRegistration(ctx.state) && (section.authorization.phase === 'expired' || section.authorization.failureReason !== '');
  if (registrationTrouble) raiseAlarm(alarms, 30042, now);
  else clearAlarm(alarms, 30042);
  if (authorizationTrouble) raiseAlarm(alarms, 30044, now);
  else clearAlarm(alarms, 30044);
}

function applyGrant(section: RegistrationSection, grant: AuthorizationGrant, at: Date): void {
  const interval = grant.status === 'OutOfCompliance' ? OUT_OF_COMPLIANCE_RETRY_MS : AUTH_RENEW_INTERVAL_MS;
  section.authorization = grantedAuthorization(grant, at, new Date(at.getTime() + interval));
}

/** Applies the result of an attempt; false when the registration changed meanwhile (another process got there first). */
export function settle(ctx: DeviceContext, attempt: Attempt, result: Result, skipUntil?: Date): boolean {
  if (readRegistration(ctx.state).revision !== attempt.revision) return false;
  const section = editRegistration(ctx);
  const at = new Date(attempt.at);
  const atMs = at.getTime();
  const until = attempt.scheduled && !result.ok && !result.refused ? skipUntil?.getTime() : undefined;
  section.transportUrl = attempt.routeUrl ?? section.transportUrl;
  switch (attempt.kind) {
    case 'register': {
      settleRegister(section, attempt, result, at, until);
      if (result.ok) {
        const usage = editUsage(ctx);
        usage.reported = {};
        usage.nextReport = iso(atMs + USAGE_REPORT_MS);
      }
      break;
    }
    case 'renewId':
      section.lastRenewalAttempt = attempt.at;
      if (result.ok) {
        const body = result.body as RenewIdReply;
        section.idCertificate = body.idCertificate;
        section.registrationExpires = result.certificate?.notAfter ?? section.registrationExpires;
        section.nextRenewalAttempt = iso(atMs + ID_RENEW_INTERVAL_MS);
        section.failureReason = '';
        section.failureCode = '';
      } else if (result.refused && (result.code === 'instance.unknown' || result.code === 'certificate.invalid')) {
        dropRegistration(ctx, section, result);
      } else {
        section.failureReason = `${PENDING_PREFIX}${failureText(result)}`;
        section.failureCode = result.code;
        section.nextRenewalAttempt = iso(retryAfter(atMs, until, Date.parse(section.registrationExpires)));
        section.lastRenewalAttempt = lastSlot(atMs, section.nextRenewalAttempt);
      }
      break;
    case 'renewAuth': {
      const auth = section.authorization;
      auth.lastAttempt = attempt.at;
      const usage = editUsage(ctx);
      if (result.ok || attempt.usageReport) usage.nextReport = iso(atMs + USAGE_REPORT_MS);
      if (result.ok) {
        const sent = (attempt.request.body as { entitlements?: { tag: string; count: number }[] }).entitlements ?? [];
        usage.reported = Object.fromEntries(sent.map((e) => [e.tag, e.count]));
        applyGrant(section, (result.body as RenewAuthReply).authorization, at);
      } else if (attempt.usageReport && !result.refused) {
        // A usage report that did not get through waits for the next 6-hour mark (or the next renewal).
        auth.failureReason = `${AUTH_FAILED_PREFIX}${failureText(result)}`;
        if (until !== undefined) usage.nextReport = iso(atMs + Math.ceil((until - atMs + 1) / USAGE_REPORT_MS) * USAGE_REPORT_MS);
      } else if (result.refused && (result.code === 'instance.unknown' || result.code === 'certificate.invalid')) {
        dropRegistration(ctx, section, result);
      } else {
        auth.failureReason = `${AUTH_FAILED_PREFIX}${failureText(result)}`;
        auth.nextAttempt = iso(retryAfter(atMs, until, Date.parse(section.registrationExpires)));
        auth.lastAttempt = lastSlot(atMs, auth.nextAttempt);
      }
      break;
    }
    case 'deregister':
      break;
  }
  if (section.deviceKey === '') section.deviceKey = attempt.deviceKey;
  setAlarms(ctx, section);
  return true;
}

/** Back to unregistered (then as `rest` says), keeping the device key, the URL last used and the revision. */
function resetTo(section: RegistrationSection, rest: Partial<RegistrationSection> = {}): void {
  Object.assign(section, { ...unregistered(section.deviceKey), transportUrl: section.transportUrl, revision: section.revision, ...rest });
}

/** The FailureCode of a CSSM refusal: its own code under `registration.`. */
const refusalCode = (code: string) => (code === 'token.invalid' ? 'registration.tokenInvalid' : `registration.${code.replace(/\./g, '_')}`);

function settleRegister(section: RegistrationSection, attempt: Attempt, result: Result, at: Date, until: number | undefined): void {
  section.deviceKey = attempt.deviceKey;
  if (result.ok) {
    const body = result.body as RegisterReply;
    Object.assign(section, {
      phase: 'registered',
      idCertificate: body.idCertificate,
      smartAccount: body.smartAccount,
      virtualAccount: body.virtualAccount,
      exportControlled: body.exportControlled,
      initialRegistration: attempt.at,
      lastRenewalAttempt: '',
      nextRenewalAttempt: iso(at.getTime() + ID_RENEW_INTERVAL_MS),
      registrationExpires: result.certificate?.notAfter ?? '',
      failureReason: '',
      failureCode: '',
      pendingToken: '',
      pendingForce: false,
    } satisfies Partial<RegistrationSection>);
    applyGrant(section, body.authorization, at);
    return;
  }
  if (result.refused) {
    // The CSSM said no (a bad token, already registered …): not retried.
    resetTo(section, {
      phase: 'failed',
      failureReason: result.code === 'token.invalid' ? TOKEN_INVALID : result.message,
      failureCode: refusalCode(result.code),
    });
    return;
  }
  // Nothing usable came back: pending, retried every 15 minutes with the same token.
  resetTo(section, {
    phase: 'pending',
    failureReason: `${PENDING_PREFIX}${result.reason}`,
    failureCode: result.code,
    pendingToken: attempt.token ?? section.pendingToken,
    pendingForce: attempt.force ?? false,
    nextRenewalAttempt: iso(retryAfter(at.getTime(), until, Number.POSITIVE_INFINITY)),
  });
  section.lastRenewalAttempt = lastSlot(at.getTime(), section.nextRenewalAttempt);
}

/** Unregistered: nothing is reported any more. */
function forgetReports(ctx: DeviceContext): void {
  if (readUsage(ctx.state).nextReport === '' && Object.keys(readUsage(ctx.state).reported).length === 0) return;
  const usage = editUsage(ctx);
  usage.reported = {};
  usage.nextReport = '';
}

/** The CSSM no longer knows this instance (removed there): the device is unregistered. */
function dropRegistration(ctx: DeviceContext, section: RegistrationSection, result: Extract<Result, { ok: false; refused: true }>): void {
  forgetReports(ctx);
  resetTo(section, { failureReason: `The CSSM no longer accepts this registration: ${result.message}`, failureCode: refusalCode(result.code) });
}

// ---------------------------------------------------------------------------------------
// commands

interface Plan {
  attempt: Attempt;
  /** The state the plan was made from (its trust store checks the reply). */
  state: DeviceState;
  /** Deregister of a registration that never reached the CSSM: nothing to send. */
  localOnly?: boolean;
}

function refuseUnlessRegistered(state: DeviceState, what: string): void {
  const phase = readRegistration(state).phase;
  if (phase === 'registered') return;
  throw new ExshError(
    'registration.notRegistered',
    phase === 'expired'
      ? `Cannot ${what}: the registration has expired; register this product again with xCommand License Smart Register.`
      : `Cannot ${what}: this product is not registered to the CSSM; register it first with xCommand License Smart Register.`,
  );
}

async function plan(ctx: DeviceContext, kind: MessageKind, opts: { token?: string; force?: boolean } = {}): Promise<Plan> {
  const { planAttempt } = await client();
  return { attempt: await planAttempt(ctx.state, kind, ctx.now(), ctx.rng, opts), state: ctx.state };
}

async function perform(p: unknown, services: unknown): Promise<unknown> {
  const { attempt, localOnly, state } = p as Plan;
  if (localOnly) return undefined;
  const { carry } = await client();
  return carry(attempt, services as RemoteEnv | undefined, state);
}

/** A command's result fields: the outcome as the status shows it. */
function outcomeFields(ctx: DeviceContext): Record<string, string> {
  const section = readRegistration(ctx.state);
  const evaluation = evaluationDaysRemaining(ctx) > 0 ? 'Evaluation Mode' : 'Evaluation Expired';
  return {
    Registration: REGISTRATION_STATUS[section.phase],
    Authorization: authorizationStatus(section, ctx.now()) || evaluation,
    ...(section.failureReason ? { FailureReason: section.failureReason, FailureCode: section.failureCode } : {}),
  };
}

function changedMeanwhile(): never {
  throw new ExshError(
    'registration.changed',
    'The registration was changed by another session while this command talked to the CSSM; nothing was applied: check xStatus License Smart and run it again.',
  );
}

const tokenParam = {
  name: 'IdToken',
  space: stringSpace(1, 1024),
  required: true,
  positional: true,
  help: 'The product instance registration token from the CSSM.',
} as const;

// ---------------------------------------------------------------------------------------
// status (§9.4)

function authorizationStatus(section: RegistrationSection, now: Date | undefined): string {
  const auth = section.authorization;
  if (section.phase === 'expired') return AUTHORIZATION_STATUS.expired;
  if (section.phase !== 'registered') return '';
  const expired = auth.phase === 'expired' || (now !== undefined && auth.expires !== '' && Date.parse(auth.expires) <= now.getTime());
  if (expired) return AUTHORIZATION_STATUS.expired;
  return auth.phase === 'outOfCompliance' ? AUTHORIZATION_STATUS.outOfCompliance : AUTHORIZATION_STATUS.authorized;
}

function registrationStatusPart(ctx: DeviceContext, license: StatusObject): void {
  if (!smartLicensingAvailable(ctx.state)) return;
  const smart = license.Smart as StatusObject;
  const section = readRegistration(ctx.state);
  const now = ctx.now();
  const phase = section.phase === 'registered' && Date.parse(section.registrationExpires) <= now.getTime() ? 'expired' : section.phase;
  const effective = { ...section, phase };
  const registered = phase === 'registered' || phase === 'expired';
  smart.Registration = {
    Status: REGISTRATION_STATUS[phase],
    InitialRegistration: shown(section.initialRegistration),
    LastRenewalAttempt: shown(section.lastRenewalAttempt),
    NextRenewalAttempt: phase === 'registered' || phase === 'pending' ? shown(section.nextRenewalAttempt) : '',
    RegistrationExpires: registered ? shown(section.registrationExpires) : '',
    FailureReason: section.failureReason,
  };
  const auth = section.authorization;
  const evaluation = (smart.Authorization as StatusObject | undefined)?.Status ?? '';
  smart.Authorization = {
    Status: authorizationStatus(effective, now) || evaluation,
    LastAttempt: registered ? shown(auth.lastAttempt) : '',
    NextAttempt: phase === 'registered' ? shown(auth.nextAttempt) : '',
    Expires: registered ? shown(auth.expires) : '',
    FailureReason: registered ? auth.failureReason : '',
  };
  if (registered) {
    smart.SmartAccount = section.smartAccount;
    smart.VirtualAccount = section.virtualAccount;
    smart.ExportControlled = section.exportControlled ? 'Allowed' : 'Not Allowed';
  }
  const mode = String(ctx.state.config['License Smart Transport Mode'] ?? 'Direct');
  smart.Transport = { Mode: mode, Url: mode === 'OnPrem' ? String(ctx.state.config['License Smart Transport OnPrem Url'] ?? '') : section.transportUrl };
}

// ---------------------------------------------------------------------------------------
// the subsystem

/** The remote catch-up (§9.3): every renewal or retry that fell due, earliest first, each at its own time. */
const remote = {
  due: (state: DeviceState, now: Date) => smartLicensingAvailable(state) && dueAttempt(state, now) !== undefined,
  run: async (io: RemoteIo) => {
    const planned = await io.read(async (ctx) => {
      const section = readRegistration(ctx.state);
      const due = dueAttempt(ctx.state, ctx.now());
      if (!due) return undefined;
      const { planAttempt } = await client();
      const opts = due.kind === 'register' ? { token: section.pendingToken, force: section.pendingForce, scheduled: true } : { scheduled: true };
      const kind = due.kind === 'usage' ? 'renewAuth' : due.kind;
      const attempt = await planAttempt(ctx.state, kind, due.at, ctx.rng, opts);
      if (due.kind === 'usage') attempt.usageReport = true;
      return { attempt, state: ctx.state, now: ctx.now() };
    });
    if (!planned) return;
    const result = (await perform(planned, io.services)) as Result;
    await io.change((ctx) => {
      settle(ctx, planned.attempt, result, planned.now);
    });
  },
};

export const registration: Subsystem = {
  name: 'registration',
  sections: [registrationSection, networkSection],
  statusParts: [{ node: 'License', build: registrationStatusPart }],
  remote,
  catchUp: {
    // Expiries need no network: the ID certificate or the authorization ran out (§9.3).
    due: (state, now) => {
      const s = state.registration as RegistrationSection | undefined;
      if (s?.phase !== 'registered') return false;
      const t = now.getTime();
      return (
        Date.parse(s.registrationExpires) <= t ||
        (s.authorization.phase !== 'expired' && s.authorization.expires !== '' && Date.parse(s.authorization.expires) <= t)
      );
    },
    run: (ctx) => {
      const section = editRegistration(ctx);
      const t = ctx.now().getTime();
      if (Date.parse(section.registrationExpires) <= t) {
        section.phase = 'expired';
        section.failureReason = section.failureReason || 'The ID certificate expired before a renewal reached the CSSM: register this product again.';
      }
      if (section.authorization.expires !== '' && Date.parse(section.authorization.expires) <= t) section.authorization.phase = 'expired';
      setAlarms(ctx, section);
    },
  },
  commands: [
    {
      path: ['License', 'Smart', 'Register'],
      help: 'Registers this product instance to the CSSM with a registration token. Force: True re-registers a product that is already registered.',
      params: [
        tokenParam,
        { name: 'Force', space: enumSpace('True', 'False'), help: 'Re-register if already registered (the portal\'s "Reregister this product instance").' },
      ],
      mutates: true,
      remote: {
        prepare: async (ctx, p) => {
          const force = p.Force === 'True';
          if (reservationEnabled(ctx.state)) {
            throw new ExshError(
              'registration.reservationEnabled',
              'This product cannot be registered while license reservation is enabled; turn it off first with xConfiguration License Smart ReservationEnable: Off.',
            );
          }
          if (holdsRegistration(ctx.state) && !force) {
            throw new ExshError(
              'registration.alreadyRegistered',
              'This product is already registered to the CSSM; use Force: True to register it again (deregister first to leave the CSSM).',
            );
          }
          checkRoute(ctx.state);
          return plan(ctx, 'register', { token: String(p.IdToken), force });
        },
        perform,
        settle: (ctx, p, result) => {
          if (!settle(ctx, (p as Plan).attempt, result as Result)) changedMeanwhile();
          return { fields: outcomeFields(ctx) };
        },
      },
    },
    {
      path: ['License', 'Smart', 'Deregister'],
      help: 'Deregisters this product instance: its licences return to the virtual account and it goes back to evaluation. Without the CSSM it deregisters anyway.',
      params: [],
      mutates: true,
      remote: {
        prepare: async (ctx) => {
          const section = readRegistration(ctx.state);
          if (section.phase === 'unregistered') {
            throw new ExshError('registration.notRegistered', 'This product is not registered to the CSSM: there is nothing to deregister.');
          }
          if (!holdsRegistration(ctx.state)) return { attempt: { revision: section.revision }, localOnly: true, state: ctx.state };
          return plan(ctx, 'deregister');
        },
        perform,
        settle: (ctx, p, result) => {
          const { attempt, localOnly } = p as Plan;
          if (readRegistration(ctx.state).revision !== attempt.revision) changedMeanwhile();
          const section = editRegistration(ctx);
          const r = result as Result | undefined;
          const reached = localOnly || (r !== undefined && (r.ok || (r.refused && r.code === 'instance.unknown')));
          resetTo(section);
          forgetReports(ctx);
          setAlarms(ctx, section);
          const outcome: CommandOutcome = reached
            ? { fields: { Registration: REGISTRATION_STATUS.unregistered } }
            : { text: [OFFLINE_DEREGISTER_WARNING], fields: { Registration: REGISTRATION_STATUS.unregistered, Warning: OFFLINE_DEREGISTER_WARNING } };
          return outcome;
        },
      },
    },
    {
      path: ['License', 'Smart', 'Renew', 'Auth'],
      help: 'Renews the license authorization now (it renews by itself every 30 days).',
      params: [],
      mutates: true,
      remote: {
        prepare: async (ctx) => {
          refuseUnlessRegistered(ctx.state, 'renew the authorization');
          return plan(ctx, 'renewAuth');
        },
        perform,
        settle: (ctx, p, result) => {
          if (!settle(ctx, (p as Plan).attempt, result as Result)) changedMeanwhile();
          const s = readRegistration(ctx.state);
          return { fields: { ...outcomeFields(ctx), ...(s.authorization.failureReason ? { FailureReason: s.authorization.failureReason } : {}) } };
        },
      },
    },
    {
      path: ['License', 'Smart', 'Usage', 'Update'],
      help: 'Reports the licences in use to the CSSM now (it reports by itself every 6 hours when they change) and takes its authorization.',
      params: [],
      mutates: true,
      remote: {
        prepare: async (ctx) => {
          refuseUnlessRegistered(ctx.state, 'update the usage');
          const planned = await plan(ctx, 'renewAuth');
          planned.attempt.usageReport = true;
          return planned;
        },
        perform,
        settle: (ctx, p, result) => {
          if (!settle(ctx, (p as Plan).attempt, result as Result)) changedMeanwhile();
          const s = readRegistration(ctx.state);
          return { fields: { ...outcomeFields(ctx), ...(s.authorization.failureReason ? { FailureReason: s.authorization.failureReason } : {}) } };
        },
      },
    },
    {
      path: ['License', 'Smart', 'Renew', 'ID'],
      help: 'Renews the registration (the ID certificate) now (it renews by itself every 180 days).',
      params: [],
      mutates: true,
      remote: {
        prepare: async (ctx) => {
          refuseUnlessRegistered(ctx.state, 'renew the registration');
          return plan(ctx, 'renewId');
        },
        perform,
        settle: (ctx, p, result) => {
          if (!settle(ctx, (p as Plan).attempt, result as Result)) changedMeanwhile();
          return { fields: outcomeFields(ctx) };
        },
      },
    },
  ],
};

/** Refusals of a route that need no network (an On-Prem or proxy transport with nothing configured). */
function checkRoute(state: DeviceState): void {
  const mode = state.config['License Smart Transport Mode'] ?? 'Direct';
  if (mode === 'OnPrem' && !state.config['License Smart Transport OnPrem Url']) {
    throw new ExshError(
      'registration.noOnPremUrl',
      'The transport is OnPrem but no On-Prem URL is set: set xConfiguration License Smart Transport OnPrem Url: https://<server>/SmartTransport first.',
    );
  }
  if (mode === 'Proxy' && !state.config['License Smart Transport Proxy Address']) {
    throw new ExshError(
      'registration.noProxy',
      'The transport is Proxy but no proxy address is set: set xConfiguration License Smart Transport Proxy Address first.',
    );
  }
}
