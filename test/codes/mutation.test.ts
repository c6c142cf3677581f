import { describe, expect, it } from 'vitest';
import { buildSlrCode, loadDemoAuthority, parseAuthorizationCode, verifySignature } from '../../src/codes/index.js';
import { golden, UDI } from './helpers.js';

const { privateKey, publicKey } = loadDemoAuthority();
const trusted = [publicKey];

/**
 * A short SLR code whose signature is 70 bytes, so its Base64 ends in `==`: the digit
 * before the padding has unused bits that a lax decoder would ignore.
 */
function paddedSlrCode(): string {
  const payload = { ...golden.slr.payload, entitlements: golden.slr.payload.entitlements.slice(2) };
  for (let t = 0; ; t++) {
    const code = buildSlrCode({ ...payload, timestamp: payload.timestamp + t }, UDI, privateKey);
    if (code.includes('<signature>MEQC')) return code;
  }
}

/** Every text one substitution or one deletion away from `code`. */
function* mutants(code: string): Generator<string> {
  for (let i = 0; i < code.length; i++) {
    const c = code[i] as string;
    const next = String.fromCharCode(c.charCodeAt(0) + 1);
    for (const r of new Set([next, 'A', '1', '<', ' ', '-', '\n'])) {
      if (r !== c) yield code.slice(0, i) + r + code.slice(i + 1);
    }
    yield code.slice(0, i) + code.slice(i + 1);
  }
}

/** 'accepted' only when the mutant parses and verifies for this device; a crash fails the test. */
function outcome(text: string): string {
  try {
    return verifySignature(parseAuthorizationCode(text), UDI, trusted) ? 'accepted' : 'rejected';
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'code.parse') return 'rejected';
    throw e;
  }
}

describe('every single-character change to a valid code is rejected (§11)', () => {
  it.each([
    ['SLR', golden.slr.code],
    ['PLR', golden.plr.code],
    ['SLR with a 70-byte signature', paddedSlrCode()],
  ])('%s', (_, code) => {
    expect(outcome(code)).toBe('accepted');
    const accepted: string[] = [];
    let n = 0;
    for (const m of mutants(code)) {
      n++;
      if (outcome(m) === 'accepted') accepted.push(m);
    }
    expect(n).toBeGreaterThan(code.length * 6);
    expect(accepted).toEqual([]);
  });
});
