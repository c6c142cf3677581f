import type { Reply } from '../xapi/reply.js';
import type { Scalar, StatusObject } from '../xapi/types.js';

/**
 * What the Expressway REST API for Smart Licensing shows (connected-mode notes §4.2), made
 * from what the device's own `xStatus License Smart` and `xCommand License Smart …` give:
 * the same words in upper case, dates as `"<Month>, DD Mon YYYY HH:MM:SS GMT"`, export
 * control as the string "True"/"False". Nothing here reads state: the REST server runs
 * the shell's requests and this module only translates their replies.
 */

/** `GET …/status/common/smartlicensing/licensing`, field for field as the REST API Summary Guide prints it. */
export interface LicensingStatus {
  ExportControlledFunctionality: 'True' | 'False';
  VirtualAccount: string;
  SmartAccount: string;
  Authorization: {
    LicenseAuthorizationStatus: string;
    AuthorizationExpires: string;
    NextAuthorizationAttempt: string;
    LastAuthorizationAttempt: string;
  };
  Registration: {
    RegistrationStatus: string;
    InitialRegistration: string;
    RegistrationExpires: string;
    NextRenewalAttempt: string;
  };
}

/** The answer of a registration, deregistration or renewal (exsh's shape: Expressway's is not public). */
export interface ActionOutcome {
  RegistrationStatus: string;
  LicenseAuthorizationStatus: string;
  FailureReason: string;
  FailureCode: string;
  Warning: string;
}

/**
 * The device's status words and their REST rendering (docs/rest.md has this table). The
 * Summary Guide shows `REGISTERED` and `OUT OF COMPLIANCE`: upper case, the hyphens of
 * "Out-of-compliance" as spaces; everything else keeps its words and separators.
 */
export const REGISTRATION_VALUES: Readonly<Record<string, string>> = {
  Registered: 'REGISTERED',
  Unregistered: 'UNREGISTERED',
  'Unregistered : Registration Pending': 'UNREGISTERED : REGISTRATION PENDING',
  'Unregistered : Registration Failed': 'UNREGISTERED : REGISTRATION FAILED',
  'Unregistered : Registration Expired': 'UNREGISTERED : REGISTRATION EXPIRED',
  'Reservation In Progress': 'RESERVATION IN PROGRESS',
  'Registered - Specific License Reservation': 'REGISTERED - SPECIFIC LICENSE RESERVATION',
  'Registered - Permanent License Reservation': 'REGISTERED - PERMANENT LICENSE RESERVATION',
};

export const AUTHORIZATION_VALUES: Readonly<Record<string, string>> = {
  Authorized: 'AUTHORIZED',
  'Authorization Expired': 'AUTHORIZATION EXPIRED',
  'Out-of-compliance': 'OUT OF COMPLIANCE',
  'No Licenses in Use': 'NO LICENSES IN USE',
  'Evaluation Mode': 'EVALUATION MODE',
  'Evaluation Expired': 'EVALUATION EXPIRED',
  'Not Applicable': 'NOT APPLICABLE',
  'Authorized - Reserved': 'AUTHORIZED - RESERVED',
};

/** A status word in REST form; a word the tables do not know yet is still shown, upper-cased. */
export function restValue(table: Readonly<Record<string, string>>, value: string): string {
  return Object.hasOwn(table, value) ? (table[value] as string) : value.toUpperCase();
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const two = (n: number) => String(n).padStart(2, '0');

/** `2020-02-05T05:59:04Z` → `February, 05 Feb 2020 05:59:04 GMT`; empty (unset) stays empty. */
export function restDate(text: string): string {
  if (text === '') return '';
  const t = new Date(text);
  if (Number.isNaN(t.getTime())) return '';
  const month = MONTHS[t.getUTCMonth()] as string;
  const time = `${two(t.getUTCHours())}:${two(t.getUTCMinutes())}:${two(t.getUTCSeconds())}`;
  return `${month}, ${two(t.getUTCDate())} ${month.slice(0, 3)} ${t.getUTCFullYear()} ${time} GMT`;
}

function node(parent: StatusObject | undefined, name: string): StatusObject | undefined {
  const v = parent?.[name];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as StatusObject) : undefined;
}

function text(parent: StatusObject | undefined, name: string): string {
  const v = parent?.[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

/** The REST status from the tree of `xStatus License Smart` (a VCS's sparse tree gives empty fields). */
export function licensingStatus(tree: StatusObject): LicensingStatus {
  const smart = node(node(tree, 'License'), 'Smart');
  const registration = node(smart, 'Registration');
  const authorization = node(smart, 'Authorization');
  return {
    ExportControlledFunctionality: text(smart, 'ExportControlled') === 'Allowed' ? 'True' : 'False',
    VirtualAccount: text(smart, 'VirtualAccount'),
    SmartAccount: text(smart, 'SmartAccount'),
    Authorization: {
      LicenseAuthorizationStatus: restValue(AUTHORIZATION_VALUES, text(authorization, 'Status')),
      AuthorizationExpires: restDate(text(authorization, 'Expires')),
      NextAuthorizationAttempt: restDate(text(authorization, 'NextAttempt')),
      LastAuthorizationAttempt: restDate(text(authorization, 'LastAttempt')),
    },
    Registration: {
      RegistrationStatus: restValue(REGISTRATION_VALUES, text(registration, 'Status')),
      InitialRegistration: restDate(text(registration, 'InitialRegistration')),
      RegistrationExpires: restDate(text(registration, 'RegistrationExpires')),
      NextRenewalAttempt: restDate(text(registration, 'NextRenewalAttempt')),
    },
  };
}

const field = (fields: Record<string, Scalar> | undefined, name: string): string => {
  const v = fields?.[name];
  return v === undefined ? '' : String(v);
};

/**
 * The outcome of a command that ran (OK): its result fields, the statuses it does not carry
 * (Deregister's result has no Authorization) taken from the status read after it.
 */
export function actionOutcome(reply: Extract<Reply, { kind: 'result' }>, after: LicensingStatus): ActionOutcome {
  const f = reply.fields;
  const registration = field(f, 'Registration');
  const authorization = field(f, 'Authorization');
  return {
    RegistrationStatus: registration === '' ? after.Registration.RegistrationStatus : restValue(REGISTRATION_VALUES, registration),
    LicenseAuthorizationStatus: authorization === '' ? after.Authorization.LicenseAuthorizationStatus : restValue(AUTHORIZATION_VALUES, authorization),
    FailureReason: field(f, 'FailureReason'),
    FailureCode: field(f, 'FailureCode'),
    Warning: field(f, 'Warning'),
  };
}
