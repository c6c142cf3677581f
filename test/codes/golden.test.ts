import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  confirmationCode,
  derivePiid,
  formatUdi,
  keyFingerprint,
  loadDemoAuthority,
  makeRequestCode,
  makeReturnCode,
  parseAuthorizationCode,
  parseRequestCode,
  returnCodeMatches,
  signatureBytes,
  verifySignature,
} from '../../src/codes/index.js';
import { loadCatalogue } from '../../src/catalogue.js';
import { golden, UDI } from './helpers.js';

const { publicKey } = loadDemoAuthority();

describe('golden vectors (fixtures/golden/codes.json)', () => {
  it('deterministic parts recompute exactly', () => {
    expect(formatUdi(UDI)).toBe(golden.udiString);
    expect(makeRequestCode(UDI, golden.nonce)).toBe(golden.requestCode);
    expect(parseRequestCode(golden.requestCode)).toEqual({ udi: UDI, nonce: golden.nonce });
    expect(derivePiid(UDI, golden.nonce)).toBe(golden.piid);
    expect(keyFingerprint(publicKey)).toBe(golden.demoKeyFingerprint);
  });

  it('the SLR code parses, verifies with the demo key, and its derived codes recompute', () => {
    const code = parseAuthorizationCode(golden.slr.code);
    expect(code.type).toBe('SLR');
    expect(code.payload).toEqual(golden.slr.payload);
    expect(verifySignature(code, UDI, [publicKey])).toBe(true);
    const sig = signatureBytes(code);
    expect(makeReturnCode('installed', UDI, golden.piid, sig)).toBe(golden.slr.returnCodeInstalled);
    expect(makeReturnCode('unused', UDI, golden.piid, sig)).toBe(golden.slr.returnCodeUnused);
    expect(returnCodeMatches(golden.slr.returnCodeInstalled, UDI, golden.piid, sig)).toBe('installed');
    expect(confirmationCode(UDI, golden.piid, sig)).toBe(golden.slr.confirmationCode);
  });

  it('the PLR code parses, verifies with the demo key, and its return codes recompute', () => {
    const code = parseAuthorizationCode(golden.plr.code);
    expect(code.type).toBe('PLR');
    expect(code.payload).toEqual(golden.plr.payload);
    expect(verifySignature(code, UDI, [publicKey])).toBe(true);
    const sig = signatureBytes(code);
    expect(makeReturnCode('installed', UDI, golden.piid, sig)).toBe(golden.plr.returnCodeInstalled);
    expect(makeReturnCode('unused', UDI, golden.piid, sig)).toBe(golden.plr.returnCodeUnused);
  });

  it('every <tag> in the SLR code is a catalogue entry with the same displayName', () => {
    const tags = [...golden.slr.code.matchAll(/<tag>([^<]*)<\/tag>/g)].map((m) => m[1]!);
    expect(tags).toHaveLength(golden.slr.payload.entitlements.length);
    const catalogue = loadCatalogue().entitlements;
    for (const [i, tag] of tags.entries()) {
      const entry = catalogue.find((e) => e.tag === tag);
      expect(entry, `catalogue entry for ${tag}`).toBeDefined();
      expect(golden.slr.payload.entitlements[i]!.tag).toBe(tag);
      expect(golden.slr.payload.entitlements[i]!.displayName).toBe(entry!.displayName);
    }
  });
});

describe('demo authority', () => {
  it('loads once and is a P-256 key pair', () => {
    const a = loadDemoAuthority();
    expect(loadDemoAuthority()).toBe(a);
    expect(a.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(a.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(keyFingerprint(a.privateKey)).toBe(keyFingerprint(a.publicKey));
    expect(keyFingerprint(a.publicKey)).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('docs/codes.md', () => {
  it('shows the golden vectors as they are (fixtures/golden/generate.mjs updates both)', () => {
    const doc = readFileSync(new URL('../../docs/codes.md', import.meta.url), 'utf8');
    const signature = /<signature>([^<]*)</.exec(golden.slr.code)?.[1] as string;
    for (const [what, value] of Object.entries({
      'the PLR code': golden.plr.code,
      'the SLR signature': signature,
      'the SLR return code (installed)': golden.slr.returnCodeInstalled,
      'the SLR return code (never installed)': golden.slr.returnCodeUnused,
      'the SLR confirmation code': golden.slr.confirmationCode,
      'the request code': golden.requestCode,
      'the piid': golden.piid,
    })) {
      expect({ what, shown: doc.includes(value) }).toEqual({ what, shown: true });
    }
  });
});
