import { describe, expect, it } from 'vitest';
import { BASE58_ALPHABET, derivePiid, formatUdi, makeNonce, makeRequestCode, parseRequestCode, parseUdi } from '../../src/codes/index.js';
import { seededRng } from '../../src/random.js';
import { errorCode, errorOf, UDI } from './helpers.js';

const CODE = 'CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcjf-50';

describe('UDI', () => {
  it('formats and parses P:…,S:…,V:…,H:…', () => {
    expect(formatUdi(UDI)).toBe('P:Expressway,S:08F8FF3C,V:1.0,H:320aa69d');
    expect(parseUdi('P:Expressway,S:08F8FF3C,V:1.0,H:320aa69d')).toEqual(UDI);
  });

  it.each([
    'P:Expressway,S:08F8FF3C,V:1.0',
    'P:Expressway, S:08F8FF3C,V:1.0,H:320aa69d',
    'S:08F8FF3C,P:Expressway,V:1.0,H:320aa69d',
    'P:,S:08F8FF3C,V:1.0,H:320aa69d',
    'PExpressway,S08F8FF3C,V1.0,H320aa69d',
  ])('rejects %j with code.badUdi', (s) => {
    expect(errorCode(() => parseUdi(s))).toBe('code.badUdi');
  });

  it('refuses to format a field that would break the separators', () => {
    expect(errorCode(() => formatUdi({ ...UDI, serial: 'A,B' }))).toBe('code.badUdi');
    expect(errorCode(() => formatUdi({ ...UDI, hostId: '' }))).toBe('code.badUdi');
  });
});

describe('nonce', () => {
  it('is 8 Base58 characters, repeatable with a seed', () => {
    const a = makeNonce(seededRng('n'));
    expect(a).toMatch(/^[1-9A-HJ-NP-Za-km-z]{8}$/);
    expect(makeNonce(seededRng('n'))).toBe(a);
    expect(makeNonce(seededRng('m'))).not.toBe(a);
    const rng = seededRng('spread');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const c of makeNonce(rng)) seen.add(c);
    expect(seen.size).toBe(BASE58_ALPHABET.length);
  });
});

describe('request code', () => {
  it('has the §6.4 shape with the SHA-256 check byte', () => {
    expect(makeRequestCode(UDI, '7C3vjcjf')).toBe(CODE);
  });

  it('round-trips, trimming surrounding whitespace', () => {
    expect(parseRequestCode(`  ${CODE}\r\n`)).toEqual({ udi: UDI, nonce: '7C3vjcjf' });
  });

  it('reads UDI fields that contain dashes', () => {
    const udi = { pid: 'C9300-24UX', serial: 'FCW2134L0RN', vid: 'V01', hostId: 'ab-cd' };
    const code = makeRequestCode(udi, 'K9A6sMTr');
    expect(parseRequestCode(code)).toEqual({ udi, nonce: 'K9A6sMTr' });
  });

  it('rejects bad check digits as mistyped', () => {
    expect(errorOf(() => parseRequestCode(CODE.replace(/-50$/, '-51')))).toEqual({
      code: 'request.mistyped',
      message: 'The reservation request code is mistyped: its check digits do not match.',
    });
  });

  it.each([
    ['a changed serial', CODE.replace('S08F8FF3C', 'S08F8FF3D')],
    ['a changed nonce', CODE.replace('A7C3vjcjf', 'A7C3vjcjg')],
    ['lowercase check digits', 'CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcjf-ae'],
    ['a nonce of 7 characters', 'CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjcj-50'],
    ['a 0 in the nonce', 'CB-PExpressway,S08F8FF3C,V1.0,H320aa69d-A7C3vjc0f-50'],
    ['a missing field', 'CB-PExpressway,S08F8FF3C,H320aa69d-A7C3vjcjf-50'],
    ['another prefix', CODE.replace(/^CB/, 'CE')],
    ['an empty string', ''],
    ['an inner space', CODE.replace(',V1.0', ', V1.0')],
  ])('rejects %s as mistyped', (_, code) => {
    expect(errorCode(() => parseRequestCode(code))).toBe('request.mistyped');
  });

  it('refuses a nonce that is not 8 Base58 characters', () => {
    expect(errorCode(() => makeRequestCode(UDI, 'short'))).toBe('code.badNonce');
  });
});

describe('piid', () => {
  it('is a deterministic version-8 UUID', () => {
    const piid = derivePiid(UDI, '7C3vjcjf');
    expect(piid).toBe('a56dfa3a-58f7-8f80-8639-8c22a2bf7913');
    expect(piid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivePiid(UDI, '7C3vjcjg')).not.toBe(piid);
    expect(derivePiid({ ...UDI, hostId: '320aa69e' }, '7C3vjcjf')).not.toBe(piid);
  });
});
