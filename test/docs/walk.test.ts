import { describe, expect, it } from 'vitest';
import { compareOutput, parseWalk, walk } from './walk.js';

describe('the walker', () => {
  it('learns a code that varies, and then holds the document to it', () => {
    const codes = new Map<string, string>();
    const learnt = compareOutput(
      ['Please enter the confirmation code to CSSM account: 83a955bb', 'OK'],
      ['Please enter the confirmation code to CSSM account: 0badc0de', 'OK'],
      codes,
    );
    expect(learnt).toEqual(new Map([['83a955bb', '0badc0de']]));
    expect(typeof compareOutput(['LastConfirmationCode: "83a955bb"'], ['LastConfirmationCode: "12345678"'], new Map([['83a955bb', '0badc0de']]))).toBe(
      'string',
    );
  });

  it('fails on any other difference, a missing line or an extra one', () => {
    expect(typeof compareOutput(['OK'], ['ERROR'], new Map())).toBe('string');
    expect(typeof compareOutput(['', 'OK'], ['OK'], new Map())).toBe('string');
    expect(typeof compareOutput(['OK'], ['OK', 'more'], new Map())).toBe('string');
    expect(compareOutput(['a', '…'], ['a', 'b', 'c'], new Map())).toEqual(new Map());
    expect(compareOutput(['CA6EAo-…'], ['CA6EAo-UEGLhx'], new Map())).toEqual(new Map());
  });

  it('reads commands, their output, exports and directives', () => {
    const steps = parseWalk(
      [
        '```',
        'export A=1 B=/tmp/x',
        '```',
        '<!-- walk: output varies -->',
        '```',
        '$ echo hi',
        'hi',
        '$ true',
        '```',
        '<!-- walk: skip -->',
        '```',
        '$ false',
        '```',
      ].join('\n'),
    );
    expect(steps).toEqual([
      { kind: 'env', line: 1, vars: { A: '1', B: '/tmp/x' } },
      { line: 6, command: 'echo hi', expected: ['hi'], compare: false },
      { line: 8, command: 'true', expected: [], compare: false },
    ]);
  });
});

describe('the documents, walked literally', () => {
  it('docs/connected.md: every command prints what the page shows', async () => {
    const results = await walk('docs/connected.md');
    expect(results.map((r) => r.failure).filter(Boolean)).toEqual([]);
    expect(results.length).toBeGreaterThan(6);
  }, 120_000);

  it('docs/reservation.md: every command prints what the page shows', async () => {
    const results = await walk('docs/reservation.md');
    expect(results.map((r) => r.failure).filter(Boolean)).toEqual([]);
    expect(results.length).toBeGreaterThan(30);
  }, 120_000);
});
