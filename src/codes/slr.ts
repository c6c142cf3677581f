import { sign, type KeyObject } from 'node:crypto';
import { ExshError } from '../errors.js';
import { parseSlrDate } from './dates.js';
import { UUID } from './request.js';
import type { AuthorizationCode, Entitlement, SlrPayload } from './types.js';
import { formatUdi, parseUdi, type Udi } from './udi.js';
import { escapeXmlText, parseXml, xmlProblem, type XmlNode } from './xml.js';

export const SLR_FLAG = 'A';
export const SLR_VERSION = 'C';

/** Base64 of a DER ECDSA P-256 signature of 70, 71 or 72 bytes is always 96 characters (§6.4). */
export const SLR_SIGNATURE_CHARS = 96;
const MIN_DER = 70;
const MAX_DER = 72;

const AUTH_ORDER = ['flag', 'version', 'piid', 'timestamp', 'entitlements'] as const;
const ENTITLEMENT_ORDER = ['tag', 'count', 'startDate', 'endDate', 'licenseType', 'displayName', 'tagDescription', 'subscriptionID'] as const;
const ROOT_ORDER = ['authorizationCode', 'signature', 'udi'] as const;

// ---------------------------------------------------------------- building

function buildError(why: string): ExshError {
  return new ExshError('code.build', `Cannot build the SLR authorization code: ${why}.`);
}

/**
 * Text that canonicalisation would alter (line breaks; a value of nothing but blanks,
 * which would sit between two tags) could never verify after a paste, so refuse it here.
 */
function text(value: string, what: string): string {
  if (/[\r\n]/.test(value)) throw buildError(`${what} contains a line break`);
  if (/^[ \t]+$/.test(value)) throw buildError(`${what} is only blanks`);
  return escapeXmlText(value);
}

function leaf(name: string, value: string): string {
  return `<${name}>${text(value, `<${name}>`)}</${name}>`;
}

function checkPayload(p: SlrPayload): void {
  if (!/^[A-Z]$/.test(p.flag)) throw buildError(`the flag '${p.flag}' must be one capital letter`);
  if (p.version !== SLR_VERSION) throw buildError(`the version must be '${SLR_VERSION}'`);
  if (!UUID.test(p.piid)) throw buildError(`the piid '${p.piid}' is not a lowercase UUID`);
  if (!Number.isSafeInteger(p.timestamp) || p.timestamp < 0) throw buildError('the timestamp must be epoch milliseconds');
  for (const e of p.entitlements) {
    const problem = entitlementProblem(e);
    if (problem) throw buildError(problem);
  }
}

function entitlementProblem(e: Entitlement): string | null {
  if (e.tag === '') return 'an entitlement has an empty <tag>';
  if (!Number.isSafeInteger(e.count) || e.count < 0) return `the count of ${e.tag} must be a whole number`;
  if (e.licenseType === 'PERPETUAL') {
    if (e.startDate !== '' || e.endDate !== '') return `the perpetual entitlement ${e.tag} must have empty dates`;
  } else if (e.licenseType === 'TERM') {
    const start = parseSlrDate(e.startDate);
    const end = parseSlrDate(e.endDate);
    if (!start) return `the <startDate> '${e.startDate}' of ${e.tag} is not a date like 2022-Aug-08 UTC`;
    if (!end) return `the <endDate> '${e.endDate}' of ${e.tag} is not a date like 2022-Aug-08 UTC`;
    if (end < start) return `the term entitlement ${e.tag} ends before it starts`;
  } else {
    return `the <licenseType> of ${e.tag} must be PERPETUAL or TERM`;
  }
  return null;
}

function entitlementXml(e: Entitlement): string {
  return (
    '<entitlement>' +
    leaf('tag', e.tag) +
    leaf('count', String(e.count)) +
    leaf('startDate', e.startDate) +
    leaf('endDate', e.endDate) +
    leaf('licenseType', e.licenseType) +
    leaf('displayName', e.displayName) +
    leaf('tagDescription', e.tagDescription) +
    leaf('subscriptionID', e.subscriptionId) +
    '</entitlement>'
  );
}

/**
 * ECDSA signatures come out of OpenSSL as minimal DER, 70–72 bytes in 127 of 128 cases;
 * when r or s happens to start with a zero byte the DER is shorter. Rather than emit
 * non-minimal DER (which strict verifiers reject) we sign again with a fresh nonce until
 * the length is 70–72, so the Base64 is always 96 characters like Cisco's.
 */
function signDer(data: Buffer, key: KeyObject): Buffer {
  for (;;) {
    const der = sign('sha256', data, key);
    if (der.length >= MIN_DER && der.length <= MAX_DER) return der;
  }
}

export function buildSlrCode(p: SlrPayload, u: Udi, key: KeyObject): string {
  checkPayload(p);
  const auth =
    '<authorizationCode>' +
    leaf('flag', p.flag) +
    leaf('version', p.version) +
    leaf('piid', p.piid) +
    leaf('timestamp', String(p.timestamp)) +
    '<entitlements>' +
    p.entitlements.map(entitlementXml).join('') +
    '</entitlements></authorizationCode>';
  const udi = `<udi>${escapeXmlText(formatUdi(u))}</udi>`;
  const signature = signDer(Buffer.from(auth + udi, 'utf8'), key).toString('base64');
  return `<specificPLR>${auth}<signature>${signature}</signature>${udi}</specificPLR>`;
}

// ---------------------------------------------------------------- parsing

function parseError(why: string): ExshError {
  return new ExshError('code.parse', `The SLR authorization code is malformed: ${why}.`);
}

interface Element {
  name: string;
  children: XmlNode[];
}

function nodeName(n: XmlNode): string {
  return Object.keys(n).find((k) => k !== ':@') ?? '';
}

/** The child elements of `parent`, refusing attributes and stray text between them. */
function elementsOf(nodes: XmlNode[], parent: string): Element[] {
  const out: Element[] = [];
  for (const n of nodes) {
    const name = nodeName(n);
    if (name === '#text') throw parseError(`<${parent}> contains text '${String(n['#text'])}' outside any element`);
    if (n[':@'] !== undefined) throw parseError(`<${name}> must not have attributes`);
    out.push({ name, children: n[name] as XmlNode[] });
  }
  return out;
}

/** Exactly the elements `order`, in that order, under `parent`. */
function sequence<const N extends readonly string[]>(nodes: XmlNode[], parent: string, order: N): Record<N[number], XmlNode[]> {
  const found = elementsOf(nodes, parent);
  const out = {} as Record<N[number], XmlNode[]>;
  order.forEach((want, i) => {
    const got = found[i];
    if (!got) throw parseError(`<${want}> is missing from <${parent}>`);
    if (got.name !== want) {
      if (!found.some((f) => f.name === want)) throw parseError(`<${want}> is missing from <${parent}>`);
      const later = order.indexOf(got.name);
      throw parseError(
        later >= 0
          ? `<${got.name}> is out of order in <${parent}>: expected <${want}> there (order: ${order.join(', ')})`
          : `<${got.name}> is not allowed in <${parent}>: expected <${want}>`,
      );
    }
    out[want as N[number]] = got.children;
  });
  const extra = found[order.length];
  if (extra) {
    throw parseError(`<${extra.name}> is not allowed after <${order[order.length - 1]}> in <${parent}>`);
  }
  return out;
}

function textOf(children: XmlNode[], name: string): string {
  if (children.length === 0) return '';
  const only = children[0];
  if (!only || children.length > 1 || nodeName(only) !== '#text') throw parseError(`<${name}> must hold text, not elements`);
  return String(only['#text']);
}

function wholeNumber(s: string, name: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw parseError(`<${name}> '${s}' is not a whole number`);
  return n;
}

function parseEntitlement(children: XmlNode[]): Entitlement {
  const el = sequence(children, 'entitlement', ENTITLEMENT_ORDER);
  const licenseType = textOf(el.licenseType, 'licenseType');
  if (licenseType !== 'PERPETUAL' && licenseType !== 'TERM') {
    throw parseError(`<licenseType> '${licenseType}' must be PERPETUAL or TERM`);
  }
  const e: Entitlement = {
    tag: textOf(el.tag, 'tag'),
    count: wholeNumber(textOf(el.count, 'count'), 'count'),
    startDate: textOf(el.startDate, 'startDate'),
    endDate: textOf(el.endDate, 'endDate'),
    licenseType,
    displayName: textOf(el.displayName, 'displayName'),
    tagDescription: textOf(el.tagDescription, 'tagDescription'),
    subscriptionId: textOf(el.subscriptionID, 'subscriptionID'),
  };
  const problem = entitlementProblem(e);
  if (problem) throw parseError(problem);
  return e;
}

function decodeSignature(b64: string): Buffer {
  if (b64.length !== SLR_SIGNATURE_CHARS) {
    throw parseError(`<signature> must be ${SLR_SIGNATURE_CHARS} Base64 characters, not ${b64.length}`);
  }
  const der = Buffer.from(b64, 'base64');
  // Node ignores stray characters and the unused bits of the last digit; re-encoding
  // makes sure no other spelling of the same bytes is accepted.
  if (der.toString('base64') !== b64) throw parseError('<signature> is not valid Base64');
  if (der.length < MIN_DER || der.length > MAX_DER || der[0] !== 0x30 || der[1] !== der.length - 2) {
    throw parseError('<signature> is not a DER-encoded ECDSA P-256 signature');
  }
  return der;
}

function slice(text: string, open: string, close: string): string {
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  return text.slice(a, b + close.length);
}

/**
 * An SLR code nests five deep (specificPLR › authorizationCode › entitlements ›
 * entitlement › tag); the structure check explains a misplaced element. This limit only
 * keeps hostile nesting from reaching the parser.
 */
const MAX_DEPTH = 32;

/**
 * Before the XML parser sees the text: only the elements of an SLR code, nested no deeper
 * than it nests, so hostile names (`__proto__`) and deep nesting get a parse error, not a
 * failure inside the parser.
 */
function checkElements(text: string): void {
  let depth = 0;
  for (const m of text.matchAll(/<(\/?)([^\s/>]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name = '', , selfClosing] = m;
    // Which names belong where is the structure check's to say; a name that is no plain
    // identifier, or one that names a property of every object, never belongs anywhere.
    if (!/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name) || name in Object.prototype || name === 'prototype') {
      throw parseError(`<${name.slice(0, 40)}> is not an element of an SLR authorization code`);
    }
    if (closing) depth--;
    else if (!selfClosing) depth++;
    if (depth > MAX_DEPTH) throw parseError(`its elements are nested more than ${MAX_DEPTH} deep`);
  }
}

/** `canonical` must already be canonical and start with `<`. */
export function parseSlrCode(canonical: string): Extract<AuthorizationCode, { type: 'SLR' }> {
  // Comments, CDATA and declarations are dropped by the parser yet would sit in the
  // signed text; nothing legitimate carries them, so refusing them keeps what is signed
  // exactly what is read.
  if (/<[!?]/.test(canonical)) throw parseError('comments, CDATA sections and XML declarations are not allowed');
  checkElements(canonical);
  const problem = xmlProblem(canonical);
  if (problem) throw parseError(`it is not well-formed XML: ${problem}`);
  const roots = elementsOf(parseXml(canonical), 'document');
  const [top] = roots;
  if (roots.length !== 1 || !top || top.name !== 'specificPLR') {
    throw parseError('the document must be exactly one <specificPLR> element');
  }
  const root = sequence(top.children, 'specificPLR', ROOT_ORDER);
  const auth = sequence(root.authorizationCode, 'authorizationCode', AUTH_ORDER);

  const flag = textOf(auth.flag, 'flag');
  if (!/^[A-Z]$/.test(flag)) throw parseError(`<flag> '${flag}' must be one capital letter`);
  const version = textOf(auth.version, 'version');
  if (version !== SLR_VERSION) throw parseError(`<version> '${version}' is not supported (expected ${SLR_VERSION})`);
  const piid = textOf(auth.piid, 'piid');
  if (!UUID.test(piid)) throw parseError(`<piid> '${piid}' is not a lowercase UUID`);
  const timestamp = wholeNumber(textOf(auth.timestamp, 'timestamp'), 'timestamp');
  const entitlements = elementsOf(auth.entitlements, 'entitlements').map((e) => {
    if (e.name !== 'entitlement') throw parseError(`<${e.name}> is not allowed in <entitlements>`);
    return parseEntitlement(e.children);
  });

  const signature = decodeSignature(textOf(root.signature, 'signature'));
  const udi = textOf(root.udi, 'udi');
  try {
    parseUdi(udi);
  } catch {
    throw parseError(`<udi> '${udi}' is not a UDI like P:Expressway,S:<serial>,V:<vid>,H:<hostid>`);
  }

  const signedBytes = Buffer.from(slice(canonical, '<authorizationCode>', '</authorizationCode>') + slice(canonical, '<udi>', '</udi>'), 'utf8');
  return {
    type: 'SLR',
    payload: { flag, version, piid, timestamp, entitlements },
    udi,
    signature,
    signedBytes,
    canonical,
  };
}
