import { AUTHORIZATION_VALUES, REGISTRATION_VALUES } from './rest-licensing.js';

/**
 * The Expressway REST API for Smart Licensing as exsh serves it: one table of routes,
 * from which the server routes and `GET /api/raml` describes (so the RAML is exactly what
 * is served). Paths follow the REST API Summary Guide: status under `/api/v1/status/…`
 * and `/api/status/…` (both are in use), actions under `/api/provisioning/…` (and
 * `/api/v1/provisioning/…`).
 */

export type Action = 'status' | 'register' | 'deregister' | 'renewAuthorization' | 'renewRegistration' | 'raml';

export interface RouteSpec {
  path: string;
  method: 'GET' | 'POST';
  action: Action;
  description: string;
}

const STATUS = 'status/common/smartlicensing/licensing';
const PROVISIONING = 'provisioning/common/smartlicensing';

const ACTIONS: { sub: string; action: Action; description: string }[] = [
  {
    sub: 'registration',
    action: 'register',
    description:
      'Registers this product instance with a product instance registration token (xCommand License Smart Register). Reregister "Yes" registers again a product that is already registered (Force: True).',
  },
  {
    sub: 'deregister',
    action: 'deregister',
    description:
      'Deregisters this product instance (xCommand License Smart Deregister): its licences return to the virtual account. Without the CSSM it deregisters anyway and Warning says what is left to do.',
  },
  {
    sub: 'renew/authorization',
    action: 'renewAuthorization',
    description: 'Renews the license authorization now (xCommand License Smart Renew Auth).',
  },
  {
    sub: 'renew/registration',
    action: 'renewRegistration',
    description: 'Renews the registration, the ID certificate, now (xCommand License Smart Renew ID).',
  },
];

const STATUS_DESCRIPTION = "The Smart Licensing status of this product instance, as xStatus License Smart shows it, in the REST API's words.";

export const ROUTES: readonly RouteSpec[] = [
  { path: `/api/v1/${STATUS}`, method: 'GET', action: 'status', description: STATUS_DESCRIPTION },
  { path: `/api/${STATUS}`, method: 'GET', action: 'status', description: STATUS_DESCRIPTION },
  ...ACTIONS.flatMap(({ sub, action, description }) => [
    { path: `/api/provisioning/common/smartlicensing/${sub}`, method: 'POST' as const, action, description },
    { path: `/api/v1/${PROVISIONING}/${sub}`, method: 'POST' as const, action, description },
  ]),
  { path: '/api/raml', method: 'GET', action: 'raml', description: 'This document: the RAML 1.0 description of what this server serves.' },
];

/** The fields of the registration request, and how the API checks them. */
export const TOKEN_MAX = 1024;
export const REGISTRATION_FIELDS = ['Token', 'Reregister'] as const;

// ---------------------------------------------------------------------------------------
// RAML 1.0

/** A YAML scalar: JSON's double-quoted strings are YAML's too. */
const q = (s: string) => JSON.stringify(s);

function enumLines(indent: string, values: readonly string[]): string[] {
  return [`${indent}enum:`, ...values.map((v) => `${indent}  - ${q(v)}`)];
}

/** The RAML of this server (its URL and the devices it serves make the base URI and the `device` parameter). */
export function ramlDocument(opts: { url: string; devices: readonly string[] }): string {
  const l: string[] = [
    '#%RAML 1.0',
    `title: ${q('Cisco Expressway REST API: Smart Licensing (exsh simulator)')}`,
    'version: v1',
    `baseUri: ${q(opts.url)}`,
    'protocols: [ HTTPS ]',
    'mediaType: application/json',
    'securitySchemes:',
    '  basic:',
    '    type: Basic Authentication',
    `    description: ${q('User admin and the password exsh serve was given (--password-file or EXSH_SSH_PASSWORD) or printed. A wrong or missing one is answered 401 after a short delay.')}`,
    'securedBy: [ basic ]',
    'types:',
    '  RestDate:',
    '    type: string',
    `    description: ${q('"<Month>, DD Mon YYYY HH:MM:SS GMT", or empty when not set.')}`,
    `    pattern: ${q('^$|^[A-Z][a-z]+, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$')}`,
    `    example: ${q('February, 05 Feb 2020 05:59:04 GMT')}`,
    '  LicensingStatus:',
    '    type: object',
    '    additionalProperties: false',
    '    properties:',
    '      ExportControlledFunctionality:',
    ...enumLines('        ', ['True', 'False']),
    '      VirtualAccount: string',
    '      SmartAccount: string',
    '      Authorization:',
    '        type: object',
    '        additionalProperties: false',
    '        properties:',
    '          LicenseAuthorizationStatus:',
    ...enumLines('            ', Object.values(AUTHORIZATION_VALUES)),
    '          AuthorizationExpires: RestDate',
    '          NextAuthorizationAttempt: RestDate',
    '          LastAuthorizationAttempt: RestDate',
    '      Registration:',
    '        type: object',
    '        additionalProperties: false',
    '        properties:',
    '          RegistrationStatus:',
    ...enumLines('            ', Object.values(REGISTRATION_VALUES)),
    '          InitialRegistration: RestDate',
    '          RegistrationExpires: RestDate',
    '          NextRenewalAttempt: RestDate',
    '  RegistrationRequest:',
    '    type: object',
    '    additionalProperties: false',
    '    properties:',
    '      Token:',
    '        type: string',
    '        minLength: 1',
    `        maxLength: ${TOKEN_MAX}`,
    `        description: ${q('The product instance registration token from the CSSM (exsh cssm tokens create).')}`,
    '      Reregister?:',
    ...enumLines('        ', ['Yes', 'No']),
    '        default: "No"',
    '  ActionRequest:',
    '    type: object',
    '    additionalProperties: false',
    `    description: ${q('No fields: an empty body or {}.')}`,
    '  ActionOutcome:',
    '    type: object',
    '    additionalProperties: false',
    '    properties:',
    '      RegistrationStatus: string',
    '      LicenseAuthorizationStatus: string',
    `      FailureReason:`,
    '        type: string',
    `        description: ${q("The device's sentence when the attempt did not succeed; empty otherwise.")}`,
    '      FailureCode:',
    '        type: string',
    `        description: ${q("exsh's stable code for the failure (docs/connected.md); empty otherwise.")}`,
    '      Warning:',
    '        type: string',
    `        description: ${q('Deregistration without the CSSM: what is left to do; empty otherwise.')}`,
    '  Error:',
    '    type: object',
    '    properties:',
    '      error:',
    '        type: string',
    `        description: ${q('A stable namespaced code, e.g. registration.alreadyRegistered.')}`,
    '      message: string',
    '      field?:',
    '        type: string',
    `        description: ${q('The request field that is missing or invalid (400 only).')}`,
    'traits:',
    '  servedDevice:',
    '    queryParameters:',
    '      device?:',
    `        description: ${q('Which served device to answer for (default: the first one exsh serve was given).')}`,
    ...enumLines('        ', opts.devices),
  ];
  const errors = (codes: number[]) => codes.flatMap((c) => [`      ${c}:`, '        body:', '          application/json:', '            type: Error']);
  for (const r of ROUTES) {
    l.push(`${r.path}:`, `  ${r.method.toLowerCase()}:`, `    description: ${q(r.description)}`);
    if (r.action === 'raml') {
      l.push('    responses:', '      200:', '        body:', '          application/raml+yaml:', '            type: string', ...errors([401]));
      continue;
    }
    l.push('    is: [ servedDevice ]');
    if (r.action === 'status') {
      l.push('    responses:', '      200:', '        body:', '          application/json:', '            type: LicensingStatus', ...errors([401, 404, 503]));
      continue;
    }
    l.push('    body:', '      application/json:', `        type: ${r.action === 'register' ? 'RegistrationRequest' : 'ActionRequest'}`);
    l.push(
      '    responses:',
      '      200:',
      '        body:',
      '          application/json:',
      '            type: ActionOutcome',
      ...errors([400, 401, 404, 409, 413, 503]),
    );
  }
  return `${l.join('\n')}\n`;
}
