import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { instances, licenses } from '../../src/cssm/service.js';
import { cleanHomes, request, testEnv, udi } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/exsh.cjs', import.meta.url));
const AAS = 'Expressway Advanced Account Security';

afterAll(() => {
  cleanHomes();
});

describe('concurrency', () => {
  // §11: no oversubscription with 20 concurrent `exsh cssm reserve` processes on one pool;
  // the database does not exist beforehand, so they also race to create and seed it.
  it('20 processes reserving 1 of 10 available: exactly 10 succeed, 10 are refused for balance', async () => {
    const env = testEnv();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        execa(
          process.execPath,
          [BIN, '--home', env.home, 'cssm', 'reserve', '--request', request(udi(`CC${String(i).padStart(6, '0')}`)).code, '--license', `${AAS}=1`],
          {
            reject: false,
            env: { NO_COLOR: '1' },
          },
        ),
      ),
    );
    const ok = results.filter((r) => r.exitCode === 0);
    expect(ok).toHaveLength(10);
    for (const r of ok) expect(r.stdout).toMatch(/^<specificPLR>.*<\/specificPLR>$/);
    const refused = results.filter((r) => r.exitCode !== 0);
    expect(refused.map((r) => [r.exitCode, /\[cssm\.insufficientBalance\]$/.test(r.stderr)])).toEqual(Array(10).fill([1, true]));
    const row = licenses(env).find((r) => r.license === AAS)!;
    expect([row.purchased, row.reserved, row.balance]).toEqual([10, 10, 0]);
    expect(instances(env)).toHaveLength(10);
    // Exactly one seeding happened: every other licence is as stocked.
    expect(licenses(env).find((r) => r.license === 'Expressway Rich Media Session')!.purchased).toBe(100);
  }, 60_000);
});
