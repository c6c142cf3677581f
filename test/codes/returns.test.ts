import { describe, expect, it } from 'vitest';
import { confirmationCode, makeReturnCode, parseReturnCode, returnCodeMatches } from '../../src/codes/index.js';
import { errorOf, golden, UDI } from './helpers.js';

const PIID = golden.piid;
const SIG = Buffer.alloc(71, 0xab);
const SHAPE = /^C[1-9A-HJ-NP-Za-km-z]{5}(-[1-9A-HJ-NP-Za-km-z]{6}){7}-[1-9A-HJ-NP-Za-km-z]{3}$/;

function mistyped(code: string): string {
  const e = errorOf(() => parseReturnCode(code));
  expect(e.code).toBe('return.mistyped');
  return e.message;
}

describe('return code', () => {
  it("is 'C' + exactly 50 Base58 characters, dashed every 6, for any input", () => {
    for (let i = 0; i < 200; i++) {
      const sig = Buffer.from([i, i >> 3, 1]);
      for (const kind of ['installed', 'unused'] as const) {
        const code = makeReturnCode(kind, UDI, PIID, sig);
        expect(code).toMatch(SHAPE);
        expect(code.replaceAll('-', '')).toHaveLength(51);
        expect(parseReturnCode(code).kind).toBe(kind);
      }
    }
  });

  it('matches only the kind, UDI, piid and signature it was made from', () => {
    const installed = makeReturnCode('installed', UDI, PIID, SIG);
    const unused = makeReturnCode('unused', UDI, PIID, SIG);
    expect(installed).not.toBe(unused);
    expect(returnCodeMatches(installed, UDI, PIID, SIG)).toBe('installed');
    expect(returnCodeMatches(unused, UDI, PIID, SIG)).toBe('unused');
    expect(returnCodeMatches(installed, { ...UDI, vid: '2.0' }, PIID, SIG)).toBeNull();
    expect(returnCodeMatches(installed, UDI, PIID.replace(/^a/, 'b'), SIG)).toBeNull();
    expect(returnCodeMatches(installed, UDI, PIID, Buffer.alloc(71, 0xac))).toBeNull();
    expect(parseReturnCode(installed).digest).toHaveLength(32);
  });

  it('accepts the code undashed, wrapped or quoted', () => {
    const code = makeReturnCode('unused', UDI, PIID, SIG);
    expect(returnCodeMatches(code.replaceAll('-', ''), UDI, PIID, SIG)).toBe('unused');
    expect(returnCodeMatches(`"${code.slice(0, 20)}\r\n${code.slice(20)}"\n`, UDI, PIID, SIG)).toBe('unused');
  });

  it('rejects wrong lengths', () => {
    const code = makeReturnCode('installed', UDI, PIID, SIG);
    expect(mistyped(code.slice(0, -1))).toBe('The return code is mistyped: it must have 50 characters after the C, not 49.');
    expect(mistyped(`${code}2`)).toBe('The return code is mistyped: it must have 50 characters after the C, not 51.');
    expect(mistyped('')).toBe("The return code is mistyped: it must start with 'C'.");
  });

  it('rejects a changed character through its check', () => {
    const code = makeReturnCode('installed', UDI, PIID, SIG);
    const at = 30;
    const changed = code.slice(0, at) + (code[at] === 'x' ? 'y' : 'x') + code.slice(at + 1);
    expect(mistyped(changed)).toBe('The return code is mistyped: its check characters do not match.');
  });

  it('rejects misplaced dashes, bad characters and other prefixes', () => {
    const code = makeReturnCode('installed', UDI, PIID, SIG);
    expect(mistyped(code.replace('-', ''))).toBe('The return code is mistyped: its dashes must come after every sixth character.');
    expect(mistyped(code.replace(/^C(.)/, 'C0'))).toBe("The return code is mistyped: '0' is not a Base58 character (Base58 has no 0, O, I or l).");
    expect(mistyped(code.replace(/^C/, 'D'))).toBe("The return code is mistyped: it must start with 'C'.");
  });

  it('throws return.mistyped from returnCodeMatches for a malformed code', () => {
    expect(errorOf(() => returnCodeMatches('C123', UDI, PIID, SIG)).code).toBe('return.mistyped');
  });
});

describe('confirmation code', () => {
  it('is 8 lowercase hex digits that depend on UDI, piid and signature', () => {
    const c = confirmationCode(UDI, PIID, SIG);
    expect(c).toMatch(/^[0-9a-f]{8}$/);
    expect(confirmationCode(UDI, PIID, SIG)).toBe(c);
    expect(confirmationCode({ ...UDI, serial: 'X' }, PIID, SIG)).not.toBe(c);
    expect(confirmationCode(UDI, PIID, Buffer.alloc(71, 0))).not.toBe(c);
  });
});
