import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildPlrCode,
  encodeBase58,
  loadDemoAuthority,
  parseAuthorizationCode,
  signatureBytes,
  verifySignature,
  type PlrPayload,
} from '../../src/codes/index.js';
import { errorCode, errorOf, golden, UDI, wrap } from './helpers.js';

const { privateKey, publicKey } = loadDemoAuthority();
const CODE = golden.plr.code;
const payload: PlrPayload = golden.plr.payload;

function parseMessage(text: string): string {
  const e = errorOf(() => parseAuthorizationCode(text));
  expect(e.code).toBe('code.parse');
  return e.message;
}

describe('PLR authorization code', () => {
  it("is 'C' + 122 Base58 characters, dashed every 6, and round-trips", () => {
    for (const exportControl of [false, true]) {
      const p = { ...payload, exportControl };
      const code = buildPlrCode(p, UDI, privateKey);
      expect(code).toMatch(/^C[1-9A-HJ-NP-Za-km-z]{5}(-[1-9A-HJ-NP-Za-km-z]{6}){19}-[1-9A-HJ-NP-Za-km-z]{3}$/);
      expect(code.replaceAll('-', '')).toHaveLength(123);
      const parsed = parseAuthorizationCode(code);
      expect(parsed).toMatchObject({ type: 'PLR', payload: p, canonical: code });
      expect(signatureBytes(parsed)).toHaveLength(64);
      expect(verifySignature(parsed, UDI, [publicKey])).toBe(true);
    }
  });

  it('accepts the code undashed, wrapped, quoted or with CRLF', () => {
    for (const text of [CODE.replaceAll('-', ''), wrap(CODE, 40, '\r\n'), `  "${CODE}"  `]) {
      const parsed = parseAuthorizationCode(text);
      expect(parsed.canonical).toBe(CODE);
      expect(verifySignature(parsed, UDI, [publicKey])).toBe(true);
    }
  });

  it('fails signature verification on another device (the UDI is signed, not carried)', () => {
    const parsed = parseAuthorizationCode(CODE);
    expect(verifySignature(parsed, { ...UDI, serial: '08F8FF3D' }, [publicKey])).toBe(false);
    expect(verifySignature(parsed, UDI, [generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey])).toBe(false);
  });

  it('rejects misplaced dashes', () => {
    expect(parseMessage(CODE.replace('-', ''))).toBe('The PLR authorization code is malformed: its dashes must come after every sixth character.');
  });

  it('rejects a character outside Base58', () => {
    expect(parseMessage(`C0${CODE.slice(2)}`)).toBe("The PLR authorization code is malformed: '0' is not a Base58 character (Base58 has no 0, O, I or l).");
  });

  it('rejects truncated and overlong codes', () => {
    expect(parseMessage(CODE.slice(0, -4))).toBe('The PLR authorization code is malformed: it must have 122 characters after the C (dashes aside), not 119.');
    expect(parseMessage(`${CODE}a`)).toBe('The PLR authorization code is malformed: it must have 122 characters after the C (dashes aside), not 123.');
  });

  it('rejects unknown versions and flags', () => {
    const raw = (b0: number, b1: number) => {
      const bytes = Buffer.alloc(90, 7);
      bytes[0] = b0;
      bytes[1] = b1;
      return `C${encodeBase58(bytes)}`;
    };
    expect(parseMessage(raw(2, 0))).toBe('The PLR authorization code is malformed: version 2 is not supported (expected 1).');
    expect(parseMessage(raw(1, 2))).toBe('The PLR authorization code is malformed: it sets unknown flags.');
  });

  it('refuses to build another version', () => {
    expect(errorCode(() => buildPlrCode({ ...payload, version: 2 }, UDI, privateKey))).toBe('code.build');
  });
});
