import { readFileSync } from 'node:fs';
import type { PlrPayload, SlrPayload, Udi } from '../../src/codes/index.js';

export interface Golden {
  demoKeyFingerprint: string;
  udi: Udi;
  udiString: string;
  nonce: string;
  requestCode: string;
  piid: string;
  slr: {
    payload: SlrPayload;
    code: string;
    returnCodeInstalled: string;
    returnCodeUnused: string;
    confirmationCode: string;
  };
  plr: { payload: PlrPayload; code: string; returnCodeInstalled: string; returnCodeUnused: string };
}

export const golden: Golden = JSON.parse(readFileSync(new URL('../../fixtures/golden/codes.json', import.meta.url), 'utf8')) as Golden;

export const UDI: Udi = golden.udi;

/** Runs `f` and returns the ExshError code it throws (or fails the test when it does not throw). */
export function errorCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code ?? `not an ExshError: ${String(e)}`;
  }
  throw new Error('expected an error');
}

export function errorOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    const x = e as { code?: string; message: string };
    return { code: x.code ?? 'none', message: x.message };
  }
  throw new Error('expected an error');
}

/** Hard-wrap every `width` characters, as a terminal or mail client does. */
export function wrap(s: string, width: number, eol = '\n'): string {
  const lines: string[] = [];
  for (let i = 0; i < s.length; i += width) lines.push(s.slice(i, i + width));
  return lines.join(eol);
}
