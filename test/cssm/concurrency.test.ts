import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instances, licenses } from '../../src/cssm/service.js';
import { cleanHomes, request, testEnv, udi } from './helpers.js';
import { transpileForChildren } from './compile.js';

const CHILD = fileURLToPath(new URL('./fixtures/reserve-one.mjs', import.meta.url));
const AAS = 'Expressway Advanced Account Security';

let built: ReturnType<typeof transpileForChildren>;
beforeAll(() => {
  built = transpileForChildren();
});
afterAll(() => {
  cleanHomes();
  built.cleanup();
});

describe('concurrency', () => {
  // §11: no oversubscription with 20 concurrent reservations on one pool; the database
  // does not exist beforehand, so the children also race to create and seed it.
  it('20 processes reserving 1 of 10 available: exactly 10 succeed, 10 are refused for balance', async () => {
    const env = testEnv();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { stdout } = await execa('node', [CHILD, built.dir, env.home, request(udi(`CC${String(i).padStart(6, '0')}`)).code, AAS]);
        return JSON.parse(stdout) as { ok: boolean; code: string };
      }),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.filter((r) => !r.ok).map((r) => r.code)).toEqual(Array(10).fill('cssm.insufficientBalance'));
    const row = licenses(env).find((r) => r.license === AAS)!;
    expect([row.purchased, row.reserved, row.balance]).toEqual([10, 10, 0]);
    expect(instances(env)).toHaveLength(10);
    // Exactly one seeding happened: every other licence is as stocked.
    expect(licenses(env).find((r) => r.license === 'Expressway Rich Media Session')!.purchased).toBe(100);
  }, 60_000);
});
