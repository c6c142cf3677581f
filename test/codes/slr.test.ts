import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildSlrCode,
  canonicalizeCode,
  formatSlrDate,
  loadDemoAuthority,
  parseAuthorizationCode,
  parseSlrDate,
  signatureBytes,
  verifySignature,
  type AuthorizationCode,
  type SlrPayload,
} from '../../src/codes/index.js';
import { errorCode, errorOf, golden, UDI, wrap } from './helpers.js';

const { privateKey, publicKey } = loadDemoAuthority();
const CODE = golden.slr.code;

function slr(code: AuthorizationCode): Extract<AuthorizationCode, { type: 'SLR' }> {
  if (code.type !== 'SLR') throw new Error('expected SLR');
  return code;
}

function parseMessage(text: string): string {
  const e = errorOf(() => parseAuthorizationCode(text));
  expect(e.code).toBe('code.parse');
  return e.message;
}

/** The golden code with its signature replaced, so structural tests reach the check they aim at. */
const withSignature = (code: string, b64: string) => code.replace(/<signature>[^<]*</, `<signature>${b64}<`);
const SIG = /<signature>([^<]*)</.exec(CODE)![1]!;

describe('SLR authorization code: build and parse', () => {
  it('builds the §6.5 element order on one line and parses back to the payload', () => {
    const code = buildSlrCode(golden.slr.payload, UDI, privateKey);
    expect(code).toMatch(
      /^<specificPLR><authorizationCode><flag>A<\/flag><version>C<\/version><piid>a56dfa3a-58f7-8f80-8639-8c22a2bf7913<\/piid><timestamp>1660000000000<\/timestamp><entitlements><entitlement><tag>/,
    );
    expect(code).toMatch(
      /<\/entitlements><\/authorizationCode><signature>ME[QUY]C[A-Za-z0-9+/=]{92}<\/signature><udi>P:Expressway,S:08F8FF3C,V:1.0,H:320aa69d<\/udi><\/specificPLR>$/,
    );
    const parsed = slr(parseAuthorizationCode(code));
    expect(parsed.payload).toEqual(golden.slr.payload);
    expect(parsed.udi).toBe('P:Expressway,S:08F8FF3C,V:1.0,H:320aa69d');
    expect(parsed.canonical).toBe(code);
    expect(verifySignature(parsed, UDI, [publicKey])).toBe(true);
    expect(signatureBytes(parsed)).toBe(parsed.signature);
  });

  it('signs exactly canonical(<authorizationCode>) ‖ canonical(<udi>)', () => {
    const parsed = slr(parseAuthorizationCode(CODE));
    const auth = CODE.slice(CODE.indexOf('<authorizationCode>'), CODE.indexOf('<signature>'));
    expect(parsed.signedBytes.toString('utf8')).toBe(`${auth}<udi>P:Expressway,S:08F8FF3C,V:1.0,H:320aa69d</udi>`);
  });

  it('always writes a 96-character Base64 DER signature', () => {
    const payload: SlrPayload = { ...golden.slr.payload, entitlements: [] };
    const prefixes = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const sig = /<signature>([^<]*)</.exec(buildSlrCode({ ...payload, timestamp: i }, UDI, privateKey))![1]!;
      expect(sig).toHaveLength(96);
      prefixes.add(sig.slice(0, 4));
    }
    expect([...prefixes].sort()).toEqual(['MEQC', 'MEUC', 'MEYC'].filter((p) => prefixes.has(p)));
    expect(prefixes.has('MEYC')).toBe(true);
  });

  it('escapes and restores markup characters in text', () => {
    const payload: SlrPayload = {
      ...golden.slr.payload,
      entitlements: [{ ...golden.slr.payload.entitlements[1]!, displayName: 'Rooms <&> "more"' }],
    };
    const code = buildSlrCode(payload, UDI, privateKey);
    expect(code).toContain('<displayName>Rooms &lt;&amp;&gt; "more"</displayName>');
    const parsed = parseAuthorizationCode(code);
    expect(parsed.payload).toEqual(payload);
    expect(verifySignature(parsed, UDI, [publicKey])).toBe(true);
  });

  it('does not verify against another key, and skips keys of other types', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const parsed = parseAuthorizationCode(CODE);
    expect(verifySignature(parsed, UDI, [other])).toBe(false);
    expect(verifySignature(parsed, UDI, [])).toBe(false);
    expect(verifySignature(parsed, UDI, [rsa, other, publicKey])).toBe(true);
  });

  it('carries the UDI it was issued for; the signature holds whatever device checks it', () => {
    const elsewhere = { ...UDI, serial: '0A0A0A0A' };
    const parsed = slr(parseAuthorizationCode(buildSlrCode(golden.slr.payload, elsewhere, privateKey)));
    expect(parsed.udi).toBe('P:Expressway,S:0A0A0A0A,V:1.0,H:320aa69d');
    expect(verifySignature(parsed, UDI, [publicKey])).toBe(true);
  });

  it.each([
    ['a line break in a value', { displayName: 'Rich\nMedia' }],
    ['a blank-only value', { tagDescription: '  ' }],
    ['a perpetual licence with dates', { startDate: '2021-Aug-13 UTC' }],
  ])('refuses to build %s', (_, change) => {
    const payload: SlrPayload = {
      ...golden.slr.payload,
      entitlements: [{ ...golden.slr.payload.entitlements[1]!, ...change }],
    };
    expect(errorCode(() => buildSlrCode(payload, UDI, privateKey))).toBe('code.build');
  });

  it('refuses to build a bad term date, piid or version', () => {
    const term = golden.slr.payload.entitlements[0]!;
    const bad = (p: Partial<SlrPayload>) => errorCode(() => buildSlrCode({ ...golden.slr.payload, ...p }, UDI, privateKey));
    expect(bad({ entitlements: [{ ...term, endDate: '2022-08-08' }] })).toBe('code.build');
    expect(bad({ entitlements: [{ ...term, endDate: '2020-Aug-08 UTC' }] })).toBe('code.build');
    expect(bad({ piid: 'A56DFA3A-58F7-8F80-8639-8C22A2BF7913' })).toBe('code.build');
    expect(bad({ version: 'D' })).toBe('code.build');
  });
});

describe('SLR dates', () => {
  it('formats and parses YYYY-Mon-DD UTC', () => {
    expect(formatSlrDate(new Date('2022-08-08T23:59:59Z'))).toBe('2022-Aug-08 UTC');
    expect(parseSlrDate('2021-Aug-13 UTC')?.toISOString()).toBe('2021-08-13T00:00:00.000Z');
    expect(parseSlrDate('2021-Feb-30 UTC')).toBeNull();
    expect(parseSlrDate('2021-aug-13 UTC')).toBeNull();
    expect(parseSlrDate('2021-08-13')).toBeNull();
  });
});

describe('SLR canonical form: pastes that must still verify', () => {
  const pretty = CODE.replace(/></g, '>\n<')
    .split('\n')
    .map((line, i) => `${'  '.repeat(i % 4)}${line}`)
    .join('\n');

  it.each([
    ['wrapped every 40 characters', wrap(CODE, 40)],
    ['wrapped every 73 characters', wrap(CODE, 73)],
    ['wrapped every 73 with CRLF', wrap(CODE, 73, '\r\n')],
    ['pretty-printed and indented', pretty],
    ['pretty-printed with tabs and CRLF', CODE.replace(/></g, '>\r\n\t\t<')],
    ['in double quotes with surrounding blanks', `  "${wrap(CODE, 64)}"\n`],
  ])('%s', (_, text) => {
    expect(canonicalizeCode(text)).toBe(CODE);
    const parsed = parseAuthorizationCode(text);
    expect(parsed.canonical).toBe(CODE);
    expect(parsed.payload).toEqual(golden.slr.payload);
    expect(verifySignature(parsed, UDI, [publicKey])).toBe(true);
  });

  it('wraps that land inside tags, the Base64 and display names are covered', () => {
    const breaks = (w: number) => Array.from({ length: Math.floor(CODE.length / w) }, (_, i) => CODE.slice(0, (i + 1) * w));
    for (const w of [40, 73]) {
      const heads = breaks(w);
      expect(heads.some((h) => /<[a-zA-Z/]+$/.test(h))).toBe(true);
      expect(heads.some((h) => /<signature>[^<]+$/.test(h))).toBe(true);
      expect(heads.some((h) => /<displayName>[^<]+$/.test(h))).toBe(true);
    }
  });

  it('keeps spaces inside text', () => {
    expect(canonicalizeCode('<a>Rich  Media </a>  <b> x</b>')).toBe('<a>Rich  Media </a><b> x</b>');
  });

  it('a space removed from a display name no longer verifies', () => {
    const parsed = parseAuthorizationCode(CODE.replace('Room Registration', 'RoomRegistration'));
    expect(verifySignature(parsed, UDI, [publicKey])).toBe(false);
  });
});

describe('SLR parse errors', () => {
  it('wrong element order', () => {
    const swapped = CODE.replace('<flag>A</flag><version>C</version>', '<version>C</version><flag>A</flag>');
    expect(parseMessage(swapped)).toBe(
      'The SLR authorization code is malformed: <version> is out of order in <authorizationCode>: expected <flag> there (order: flag, version, piid, timestamp, entitlements).',
    );
    const rootSwapped = CODE.replace(/(<signature>[^<]*<\/signature>)(<udi>[^<]*<\/udi>)/, '$2$1');
    expect(parseMessage(rootSwapped)).toBe(
      'The SLR authorization code is malformed: <udi> is out of order in <specificPLR>: expected <signature> there (order: authorizationCode, signature, udi).',
    );
  });

  it('missing elements', () => {
    expect(parseMessage(CODE.replace(/<timestamp>\d+<\/timestamp>/, ''))).toBe(
      'The SLR authorization code is malformed: <timestamp> is missing from <authorizationCode>.',
    );
    expect(parseMessage(CODE.replace(/<udi>[^<]*<\/udi>/, ''))).toBe('The SLR authorization code is malformed: <udi> is missing from <specificPLR>.');
    expect(parseMessage(CODE.replace('<subscriptionID></subscriptionID></entitlement>', '</entitlement>'))).toBe(
      'The SLR authorization code is malformed: <subscriptionID> is missing from <entitlement>.',
    );
  });

  it('unknown and extra elements', () => {
    expect(parseMessage(CODE.replace('<flag>A</flag>', '<flags>A</flags>'))).toBe(
      'The SLR authorization code is malformed: <flag> is missing from <authorizationCode>.',
    );
    expect(parseMessage(CODE.replace('<flag>A</flag>', '<flags>A</flags><flag>A</flag>'))).toBe(
      'The SLR authorization code is malformed: <flags> is not allowed in <authorizationCode>: expected <flag>.',
    );
    expect(parseMessage(CODE.replace('</udi>', '</udi><extra></extra>'))).toBe(
      'The SLR authorization code is malformed: <extra> is not allowed after <udi> in <specificPLR>.',
    );
    expect(parseMessage(CODE.replace('<entitlements><entitlement>', '<entitlements><license></license><entitlement>'))).toBe(
      'The SLR authorization code is malformed: <license> is not allowed in <entitlements>.',
    );
  });

  it('truncated code', () => {
    expect(parseMessage(CODE.slice(0, CODE.length - 20))).toMatch(/^The SLR authorization code is malformed: it is not well-formed XML: .+\(column \d+\)\.$/);
    expect(parseMessage(CODE.slice(0, 500))).toMatch(/^The SLR authorization code is malformed: it is not well-formed XML: /);
  });

  it('attributes, stray text, comments and declarations', () => {
    expect(parseMessage(CODE.replace('<flag>', '<flag x="1">'))).toBe('The SLR authorization code is malformed: <flag> must not have attributes.');
    expect(parseMessage(CODE.replace('<entitlements>', '<entitlements>junk'))).toBe(
      "The SLR authorization code is malformed: <entitlements> contains text 'junk' outside any element.",
    );
    expect(parseMessage(CODE.replace('<flag>', '<!-- x --><flag>'))).toBe(
      'The SLR authorization code is malformed: comments, CDATA sections and XML declarations are not allowed.',
    );
    expect(parseMessage(`<?xml version="1.0"?>${CODE}`)).toBe(
      'The SLR authorization code is malformed: comments, CDATA sections and XML declarations are not allowed.',
    );
    expect(parseMessage(`${CODE}<specificPLR></specificPLR>`)).toMatch(/not well-formed XML: Multiple possible root nodes/);
    expect(parseMessage(CODE.replaceAll('specificPLR>', 'specificSLR>'))).toBe(
      'The SLR authorization code is malformed: the document must be exactly one <specificPLR> element.',
    );
  });

  it('bad values', () => {
    expect(parseMessage(CODE.replace('<version>C</version>', '<version>D</version>'))).toBe(
      "The SLR authorization code is malformed: <version> 'D' is not supported (expected C).",
    );
    expect(parseMessage(CODE.replace('<count>4</count>', '<count>-4</count>'))).toBe(
      "The SLR authorization code is malformed: <count> '-4' is not a whole number.",
    );
    expect(parseMessage(CODE.replace('<licenseType>TERM', '<licenseType>SUBSCRIPTION'))).toBe(
      "The SLR authorization code is malformed: <licenseType> 'SUBSCRIPTION' must be PERPETUAL or TERM.",
    );
    expect(parseMessage(CODE.replace('2022-Aug-08 UTC', '2022-08-08'))).toMatch(/<endDate> '2022-08-08' of .* is not a date/);
    expect(parseMessage(CODE.replace('<tag>regid', '<tag><b>x</b>regid'))).toBe('The SLR authorization code is malformed: <tag> must hold text, not elements.');
    expect(parseMessage(CODE.replace('P:Expressway,S:08F8FF3C', 'P:Expressway, S:08F8FF3C'))).toBe(
      "The SLR authorization code is malformed: <udi> 'P:Expressway, S:08F8FF3C,V:1.0,H:320aa69d' is not a UDI like P:Expressway,S:<serial>,V:<vid>,H:<hostid>.",
    );
  });

  it('signature of the wrong length or spelling', () => {
    expect(parseMessage(withSignature(CODE, SIG.slice(0, 95)))).toBe(
      'The SLR authorization code is malformed: <signature> must be 96 Base64 characters, not 95.',
    );
    expect(parseMessage(withSignature(CODE, `${SIG.slice(0, 95)}*`))).toBe('The SLR authorization code is malformed: <signature> is not valid Base64.');
    expect(parseMessage(withSignature(CODE, 'A'.repeat(96)))).toBe(
      'The SLR authorization code is malformed: <signature> is not a DER-encoded ECDSA P-256 signature.',
    );
  });

  it('neither SLR nor PLR, or empty', () => {
    expect(errorOf(() => parseAuthorizationCode('  \n '))).toEqual({
      code: 'code.parse',
      message: 'The authorization code is empty.',
    });
    expect(parseMessage('hello')).toBe('The authorization code is neither SLR XML (starting with <specificPLR>) nor a PLR code (starting with C).');
  });
});
